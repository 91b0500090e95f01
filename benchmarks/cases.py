"""One benchmark case on one side (``stock`` or ``ours``), run in its own process by ``bench.py``.

A fresh interpreter per measurement keeps RSS growth and import caches honest. Usage (internal):
``python benchmarks/cases.py CASE SIDE PARAMS_PATH RESULT_PATH``; the measurements are written to
RESULT_PATH as JSON. The connections ``bench_whatomate`` (this provider) and ``bench_http`` (the stock
http provider) come from ``AIRFLOW_CONN_*`` variables set by ``bench.py``; both point at the same
sandbox process.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _stock_checks, for HttpEventTrigger


def rss() -> int:
    """Resident set size of this process now, in bytes."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_SIZE


class PeakRss(threading.Thread):
    """Samples RSS every 10 ms; ``growth`` is the peak minus the RSS when sampling started."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.base = rss()
        self.peak = self.base
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            self.peak = max(self.peak, rss())

    def stop(self) -> float:
        self.done.set()
        self.join()
        self.peak = max(self.peak, rss())
        return (self.peak - self.base) / 2**20


def measured(fn: Callable[[], Any]) -> dict[str, Any]:
    """Wall time, CPU time and peak RSS growth (MB) of ``fn()``."""
    sampler = PeakRss()
    sampler.start()
    cpu, wall = time.process_time(), time.perf_counter()
    value = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": sampler.stop(), "value": value}


class _TaskInstance:
    """Just enough of a task instance for ``execute`` outside a DAG run (XCom pushes are dropped)."""

    dag_id, task_id, run_id, map_index = "bench", "bench", "bench-run", -1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


class _Variables:
    """In-memory stand-in for Airflow Variables (the create operator records its campaign id)."""

    store: dict[str, str] = {}

    @classmethod
    def get(cls, key: str, default: Any = None) -> Any:
        return cls.store.get(key, default)

    @classmethod
    def set(cls, key: str, value: str, description: str | None = None) -> None:
        cls.store[key] = value


def _context() -> dict[str, Any]:
    return {"ti": _TaskInstance()}


def _lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


# --------------------------------------------------------------------------- export


def export(side: str, p: dict[str, Any]) -> dict[str, Any]:
    """Every recipient of one finished campaign to a JSON-lines file."""
    out = p["path"]
    if side == "stock":
        from airflow.providers.http.operators.http import HttpOperator

        limit = p["limit"]

        def next_page(response: Any) -> dict[str, Any] | None:
            data = response.json()["data"]
            if data["page"] * data["limit"] >= data["total"]:
                return None
            return {"data": {"page": data["page"] + 1, "limit": limit}}

        def write(responses: list[Any]) -> int:
            rows = 0
            with open(out, "w", encoding="utf-8") as handle:
                for response in responses:
                    for row in response.json()["data"]["recipients"]:
                        handle.write(json.dumps(row) + "\n")
                        rows += 1
            return rows

        op = HttpOperator(
            task_id="export",
            http_conn_id="bench_http",
            method="GET",
            endpoint=f"whatomate/api/campaigns/{p['campaign_id']}/recipients",
            data={"page": 1, "limit": limit},
            pagination_function=next_page,
            response_filter=write,
            log_response=False,
        )
        result = measured(lambda: op.execute(_context()))
    else:
        import requests  # noqa: F401 - the stock side loaded it with its operator, before the clock started

        from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator

        op = WhatsAppExportContactsOperator(
            task_id="export", conn_id="bench_whatomate", campaign_id=p["campaign_id"], path=out
        )
        result = measured(lambda: op.execute(_context()))
    result["rows"] = _lines(out)
    os.unlink(out)
    return result


# --------------------------------------------------------------------------- waits


async def _lag_monitor(samples: list[float], stop: asyncio.Event, period: float = 0.05) -> None:
    """How late the event loop wakes a sleeper: what every other trigger in the triggerer suffers.

    Samples are ``(seconds since start, lag)``.
    """
    loop = asyncio.get_running_loop()
    begin = loop.time()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(period)
        samples.append((started - begin, max(0.0, loop.time() - started - period)))


async def _run_waits(waits: list[Any], finished: Callable[[Any], bool], interval: float = 0.0) -> dict[str, Any]:
    """Run every wait to its first event in this loop; lag p99 is taken after the first poll
    interval (steady polling; the start of every wait at once is what ``lag_max_ms`` shows)."""
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    monitor = asyncio.create_task(_lag_monitor(samples, stop))

    async def one(trigger: Any) -> bool:
        events = trigger.run()
        try:
            event = await events.__anext__()
        finally:
            await events.aclose()
        return finished(event.payload)

    outcomes = await asyncio.gather(*(one(t) for t in waits), return_exceptions=True)
    stop.set()
    await monitor
    steady = sorted(lag for at, lag in samples if at >= interval) or [0.0]
    return {
        "finished": sum(1 for o in outcomes if o is True),
        "errors": sum(1 for o in outcomes if isinstance(o, BaseException)),
        "lag_p99_ms": 1000 * steady[min(len(steady) - 1, int(len(steady) * 0.99))],
        "lag_max_ms": 1000 * max((lag for _, lag in samples), default=0.0),
    }


def waits(side: str, p: dict[str, Any]) -> dict[str, Any]:
    """N concurrent waits in one event loop (a triggerer), each polling every ``interval`` seconds."""
    from airflow_provider_whatsapp_campaigns.sandbox.client import SandboxAdmin

    interval = p["interval"]
    if side == "stock":
        from airflow.providers.http.triggers.http import HttpEventTrigger

        def make(cid: str) -> Any:
            return HttpEventTrigger(
                response_check_path="_stock_checks.campaign_finished",
                http_conn_id="bench_http",
                method="GET",
                endpoint=f"whatomate/api/campaigns/{cid}",
                poll_interval=interval,
            )
    else:
        from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger

        def make(cid: str) -> Any:
            return WhatsAppCampaignTrigger(
                conn_id="bench_whatomate", campaign_id=cid, end_time=time.time() + 3600, poll_interval=interval
            )

    def success(payload: Any) -> bool:
        return bool(payload.get("status") == "success")

    # A triggerer is a long-lived process: one finished wait first, so imports are not measured.
    asyncio.run(_run_waits([make(p["warmup_id"])], success))
    triggers = [make(cid) for cid in p["campaign_ids"]]
    # The sandbox clock stood still while the campaigns were seeded and this process started.
    SandboxAdmin(p["sandbox"]).configure(speed=p["speed"])
    result = measured(lambda: asyncio.run(_run_waits(triggers, success, interval)))
    result.update(result.pop("value"))
    return result


# --------------------------------------------------------------------------- create


def phones(n: int) -> Iterator[str]:
    """Distinct valid UK mobile numbers."""
    return (f"+4474{i:08d}" for i in range(n))


def create(side: str, p: dict[str, Any]) -> dict[str, Any]:
    """Create a Whatomate campaign with ``n`` recipients from a list, or from a CSV file (``path``)."""
    body = {"name": "bench", "whatsapp_account": "demo-account", "template_id": p["template"]}
    if p.get("path"):
        with open(p["path"], "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["phone", "name"])
            writer.writerows((phone, f"Recipient {i}") for i, phone in enumerate(phones(p["n"])))
        recipients: Any = p["path"]
    else:
        recipients = [{"phone": phone, "name": f"Recipient {i}"} for i, phone in enumerate(phones(p["n"]))]
    if side == "stock":
        from airflow.providers.http.hooks.http import HttpHook

        def hand_rolled() -> str:
            hook = HttpHook(method="POST", http_conn_id="bench_http")
            campaign = hook.run("whatomate/api/campaigns", json=body).json()["data"]["id"]
            path = f"whatomate/api/campaigns/{campaign}/recipients/import"
            for row in recipients:
                hook.run(path, json={"recipients": [{"phone_number": row["phone"], "recipient_name": row["name"]}]})
            return str(campaign)

        result = measured(hand_rolled)
    else:
        import requests  # noqa: F401 - the stock side loaded it with its hook, before the clock started

        from airflow_provider_whatsapp_campaigns import version_compat
        from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCreateCampaignOperator

        version_compat.Variable = _Variables  # type: ignore[attr-defined,misc]
        op = WhatsAppCreateCampaignOperator(
            task_id="create",
            conn_id="bench_whatomate",
            name=body["name"],
            template=body["template_id"],
            account=body["whatsapp_account"],
            recipients=recipients,
        )
        result = measured(lambda: op.execute(_context()))
    if p.get("path"):
        os.unlink(p["path"])
    result["campaign_id"] = result.pop("value")
    return result


# --------------------------------------------------------------------------- import

IMPORTS = {
    "stock": "from airflow.providers.http.get_provider_info import get_provider_info; get_provider_info()\n"
    "from airflow.providers.http.operators.http import HttpOperator\n"
    "from airflow.providers.http.sensors.http import HttpSensor",
    "ours": "from airflow_provider_whatsapp_campaigns import get_provider_info; get_provider_info()\n"
    "from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCreateCampaignOperator\n"
    "from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor",
}


def imports(side: str, p: dict[str, Any]) -> dict[str, Any]:
    """What a DAG file pays on top of ``import airflow.sdk``: provider discovery + operator and sensor imports.

    Each repetition is a fresh interpreter; the median is reported.
    """
    import subprocess

    probe = (
        "import sys, time, json\nimport airflow.sdk\nbefore = set(sys.modules)\nt = time.perf_counter()\n"
        f"{IMPORTS[side]}\n"
        "ms = (time.perf_counter() - t) * 1000\nnew = sorted(set(sys.modules) - before)\n"
        "print(json.dumps({'ms': ms, 'modules': len(new), 'names': new}))"
    )
    runs = []
    for _ in range(p["repeat"]):
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    heavy = ("phonenumbers", "pyrate_limiter", "aiohttp", "requests", "tenacity", "msgspec")
    names = runs[0]["names"]
    return {
        "ms": statistics.median(r["ms"] for r in runs),
        "modules": runs[0]["modules"],
        "heavy": sorted({n.split(".")[0] for n in names if n.split(".")[0] in heavy}),
    }


CASES: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "export": export,
    "waits": waits,
    "create": create,
    "imports": imports,
}


def main() -> None:
    case, side, params_path, result_path = sys.argv[1:5]
    with open(params_path) as handle:
        params = json.load(handle)
    result = CASES[case](side, params)
    result.pop("value", None)
    with open(result_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
