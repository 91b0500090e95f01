"""This provider against what a user would hand-roll with the stock http provider — one run, one machine.

Both sides talk to the same bundled sandbox (a separate process, so client and server do not
share a GIL); each measurement runs in a fresh interpreter (``cases.py``). Five rows, as in
issue #16:

1. export every recipient of a campaign to JSON lines — ``HttpOperator`` + ``pagination_function``
   vs ``WhatsAppExportContactsOperator``: time and peak RSS growth;
2. N concurrent waits in one event loop, polls every ``interval``, each campaign done after 10–14
   polls — ``HttpEventTrigger`` vs ``WhatsAppCampaignTrigger``: CPU per poll, RSS per 1,000 waits,
   wall time against the ideal schedule; plus many more waits at a slower poll: event-loop lag p99;
3. the same waits against a vendor limit of N/10 requests per second: 429s, waits finished;
4. create a campaign with many recipients — ``HttpHook``, one request each, vs
   ``WhatsAppCreateCampaignOperator``; and a million recipients from a CSV file (ours only): RSS;
5. import + provider discovery on top of ``import airflow.sdk``: ms and modules.

The sandbox clock stands still while campaigns are seeded and runs at ``speed`` during a wait
case, so "done after 10–14 polls" holds whatever the machine's speed; loop lag is real time.
``--quick`` shrinks every size for CI; ``--check`` then fails when ours is slower than stock on
any row (direction only — this is a benchmark, not a timed test). A full run rewrites the table
in README.md's Performance section.

    python benchmarks/bench.py            # the issue's sizes (several minutes)
    python benchmarks/bench.py --quick --check
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # this checkout's package, also for the sandbox admin client below
README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
CHILD_TIMEOUT = 1800
WAIT_POLL = "GET /whatomate/api/campaigns/{id}"

FULL = {
    "export_rows": 1_000_000,
    "waits": 1_000,
    "wait_interval": 1.0,
    "many_waits": 10_000,
    "many_interval": 10.0,
    "create_n": 100_000,
    "create_file_n": 1_000_000,
    "import_repeat": 7,
}
QUICK = {
    "export_rows": 20_000,
    "waits": 200,
    "wait_interval": 1.0,  # the trigger refuses polls under 1 s
    "many_waits": 1_000,
    "many_interval": 2.0,
    "create_n": 1_000,
    "create_file_n": 20_000,
    "import_repeat": 3,
}
EXPORT_PAGE_MAX = 1_000  # the largest page the (newer) Whatomate server hands out


@dataclass
class Row:
    case: str
    metric: str
    stock: float | None
    ours: float | None
    unit: str
    lower_is_better: bool = True
    goal: str = ""
    checked: bool = True  # part of the --check direction test

    def ratio(self) -> float | None:
        if self.stock is None or self.ours is None:
            return None
        if self.lower_is_better:
            return math.inf if self.ours == 0 else self.stock / self.ours
        return math.inf if self.stock == 0 else self.ours / self.stock

    def ok(self) -> bool:
        ratio = self.ratio()
        return ratio is None or ratio >= 1.0


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("", "×"):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def ratio_text(row: Row) -> str:
    ratio = row.ratio()
    if ratio is None:
        return "—"
    if math.isinf(ratio):
        return "∞ better"
    if 0.98 <= ratio <= 1.02:
        return "same"
    return f"{ratio:.2f}× {'better' if ratio >= 1 else 'WORSE'}"


# --------------------------------------------------------------------------- the sandbox


class Sandbox:
    """The bundled sandbox as a child process on a free loopback port."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_whatsapp_campaigns.sandbox", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=child_env({}),
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.root = match.group(1)
                break
        else:
            raise SystemExit("the sandbox did not start")
        from airflow_provider_whatsapp_campaigns.sandbox.client import SandboxAdmin

        self.admin = SandboxAdmin(self.root, timeout=600)
        self.admin.session.trust_env = False

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def child_env(connections: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH", "")) if p)
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    for conn_id, conn in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return env


def connections(root: str, rate_limit: float = 0) -> dict[str, Any]:
    """``bench_whatomate`` (ours; ``rate_limit`` None = the connection's default) and ``bench_http`` (stock)."""
    host, port = root.removeprefix("http://").split(":")
    extra: dict[str, Any] = {} if rate_limit is None else {"rate_limit": rate_limit}
    return {
        "bench_whatomate": {
            "conn_type": "whatomate",
            "host": f"{root}/whatomate",
            "password": "whm_demo_key",
            "extra": extra,
        },
        "bench_http": {
            "conn_type": "http",
            "host": host,
            "port": int(port),
            "schema": "http",
            "extra": {"X-API-Key": "whm_demo_key"},
        },
    }


def run_child(case: str, side: str, params: dict[str, Any], env: dict[str, str], logdir: str) -> dict[str, Any]:
    result_path = os.path.join(logdir, f"{case}-{side}.json")
    log_path = os.path.join(logdir, f"{case}-{side}.log")
    params_path = os.path.join(logdir, f"{case}-{side}.params.json")  # 10,000 campaign ids overflow argv
    with open(params_path, "w") as handle:
        json.dump(params, handle)
    with open(log_path, "w") as log:
        proc = subprocess.run(
            [sys.executable, os.path.join(HERE, "cases.py"), case, side, params_path, result_path],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=logdir,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    if proc.returncode != 0:
        with open(log_path) as log:
            tail = log.read()[-3000:]
        raise SystemExit(f"{case}/{side} failed (exit {proc.returncode}); log {log_path}:\n{tail}")
    with open(result_path) as handle:
        return json.load(handle)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- rows


class Bench:
    def __init__(self, sizes: dict[str, Any], logdir: str) -> None:
        self.sizes = sizes
        self.logdir = logdir
        self.sandbox = Sandbox()
        self.admin = self.sandbox.admin
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def side(self, case: str, side: str, params: dict[str, Any], rate_limit: float | None = 0) -> dict[str, Any]:
        env = child_env(connections(self.sandbox.root, rate_limit))
        started = time.perf_counter()
        result = run_child(case, side, params, env, self.logdir)
        print(f"  {case:<8} {side:<5} done in {time.perf_counter() - started:6.1f} s: {short(result)}", flush=True)
        return result

    # 1 ---------------------------------------------------------------------
    def export(self) -> None:
        n = self.sizes["export_rows"]
        self.admin.reset()
        self.admin.configure("whatomate", recipients_page_max=EXPORT_PAGE_MAX)
        [cid] = self.admin.seed_whatomate([{"name": "export", "recipients": n, "status": "completed", "processed": n}])
        # Fill the sandbox's page cache first, so both sides measure the client, not the fake server.
        for page in range(1, n // EXPORT_PAGE_MAX + 2):
            self.admin.session.get(
                f"{self.sandbox.root}/whatomate/api/campaigns/{cid}/recipients",
                params={"page": page, "limit": EXPORT_PAGE_MAX},
                headers={"X-API-Key": "whm_demo_key"},
                timeout=600,
            ).raise_for_status()
        params = {"campaign_id": cid, "limit": EXPORT_PAGE_MAX}
        res = {
            side: self.side("export", side, {**params, "path": os.path.join(self.logdir, f"export-{side}.jsonl")},
                            rate_limit=None)
            for side in ("stock", "ours")
        }
        # An older server answers with every recipient at once (ours only: the stock pagination
        # function has nothing to page).
        self.admin.configure("whatomate", recipients_page_max=None)
        self.admin.session.get(
            f"{self.sandbox.root}/whatomate/api/campaigns/{cid}/recipients",
            headers={"X-API-Key": "whm_demo_key"},
            timeout=600,
        ).raise_for_status()
        res["one-shot"] = self.side(
            "export", "ours", {**params, "path": os.path.join(self.logdir, "export-one-shot.jsonl")}, rate_limit=None
        )
        for side, r in res.items():
            if r["rows"] != n:
                raise SystemExit(f"export/{side} wrote {r['rows']} rows, expected {n}")
        case = f"export {n:,} recipients to JSONL"
        self.rows += [
            Row(case, "time", res["stock"]["wall_s"], res["ours"]["wall_s"], "s", goal="≥ 5× faster than stock"),
            Row(case, "peak RSS growth", res["stock"]["rss_mb"], res["ours"]["rss_mb"], "MB",
                goal="≤ 50 MB, flat in the row count", checked=False),
        ]
        case = f"export {n:,} recipients, older server: all in one answer"
        self.rows += [
            Row(case, "time", None, res["one-shot"]["wall_s"], "s", checked=False),
            Row(case, "peak RSS growth", None, res["one-shot"]["rss_mb"], "MB", goal="flat (streamed)",
                checked=False),
        ]

    # 2 + 3 -----------------------------------------------------------------
    def _waits(self, n: int, interval: float, polls: tuple[int, int], vendor_limit: float | None) -> dict[str, Any]:
        """Seed ``n`` running campaigns finishing after ``polls`` polls; run both sides; one dict per side."""
        speed = 1.0 / interval  # one poll interval = one sandbox second
        out = {}
        for side in ("stock", "ours"):
            self.admin.reset()
            self.admin.configure(speed=0)
            if vendor_limit is not None:
                self.admin.configure("whatomate", rate_limit=vendor_limit)
            lo, hi = polls
            specs = []
            for i in range(n):
                # Done at sandbox second lo-1 … hi-1: the poll at t = 0 is poll 1.
                finish = (lo - 1) + (hi - lo) * (i % 97) / 97 + 1e-3
                specs.append({"name": f"wait {i}", "recipients": 100, "status": "processing", "send_rate": 100 / finish})
            specs.append({"name": "warm-up", "recipients": 1, "status": "completed", "processed": 1})
            *ids, warmup = self.admin.seed_whatomate(specs)
            params = {"campaign_ids": ids, "warmup_id": warmup, "interval": interval, "speed": speed,
                      "sandbox": self.sandbox.root}
            # Our client-side limit in real requests per second is the vendor's, scaled by the clock.
            ours_limit = 0 if vendor_limit is None else vendor_limit * speed
            r = self.side("waits", side, params, rate_limit=ours_limit)
            counters = self.admin.counters()
            r["polls"] = counters["requests"].get("whatomate", {}).get(WAIT_POLL, 0) - 1  # the warm-up poll
            r["r429"] = counters["rate_limited"].get("whatomate", 0)
            r["schedule_s"] = (hi - 1) * interval  # the last campaign is done at its hi-th poll
            out[side] = r
        return out

    def waits(self) -> None:
        n, interval = self.sizes["waits"], self.sizes["wait_interval"]
        res = self._waits(n, interval, (10, 14), None)
        case = f"{n:,} waits, {interval:g} s polls, done after 10–14 polls"
        per_k = 1000 / n
        self.rows += [
            Row(case, "CPU per poll", *(1000 * res[s]["cpu_s"] / max(1, res[s]["polls"]) for s in ("stock", "ours")),
                "ms", goal="≤ 0.3× stock"),
            Row(case, "RSS per 1,000 waits", *(res[s]["rss_mb"] * per_k for s in ("stock", "ours")), "MB",
                goal="≤ 10 MB", checked=False),
            Row(case, "wall / schedule", *(res[s]["wall_s"] / res[s]["schedule_s"] for s in ("stock", "ours")), "×",
                checked=False),
            Row(case, "finished", res["stock"]["finished"], res["ours"]["finished"], "", lower_is_better=False,
                checked=False),
        ]
        many, many_interval = self.sizes["many_waits"], self.sizes["many_interval"]
        res = self._waits(many, many_interval, (3, 4), None)
        case = f"{many:,} waits in one event loop, {many_interval:g} s polls, done after 3–4 polls"
        self.rows += [
            Row(case, "loop lag p99", res["stock"]["lag_p99_ms"], res["ours"]["lag_p99_ms"], "ms", goal="≤ 100 ms"),
            Row(case, "wall / schedule", *(res[s]["wall_s"] / res[s]["schedule_s"] for s in ("stock", "ours")), "×",
                goal="on schedule", checked=False),
            Row(case, "CPU per poll", *(1000 * res[s]["cpu_s"] / max(1, res[s]["polls"]) for s in ("stock", "ours")),
                "ms", checked=False),
        ]

    def limited(self) -> None:
        n, interval = self.sizes["waits"], self.sizes["wait_interval"]
        limit = n / 10
        res = self._waits(n, interval, (10, 14), limit)
        case = f"{n:,} waits as above, vendor limit {limit:g} rps"
        self.rows += [
            Row(case, "429 answers", res["stock"]["r429"], res["ours"]["r429"], "", goal="keep 0"),
            Row(case, "waits finished", res["stock"]["finished"], res["ours"]["finished"], "",
                lower_is_better=False, goal=f"all {n:,}"),
            Row(case, "wall / schedule", *(res[s]["wall_s"] / res[s]["schedule_s"] for s in ("stock", "ours")), "×",
                checked=False),
        ]

    # 4 ---------------------------------------------------------------------
    def create(self) -> None:
        n, file_n = self.sizes["create_n"], self.sizes["create_file_n"]
        from airflow_provider_whatsapp_campaigns.sandbox.vendors.whatomate import template_id

        template = template_id("welcome_v2")  # Whatomate takes the template's UUID
        res = {}
        for side in ("stock", "ours"):
            self.admin.reset()
            res[side] = self.side("create", side, {"n": n, "template": template})
            self._check_imported(res[side]["campaign_id"], n, side)
        self.admin.reset()
        big = self.side("create", "ours", {"n": file_n, "template": template,
                                           "path": os.path.join(self.logdir, "recipients.csv")})
        self._check_imported(big["campaign_id"], file_n, "ours (file)")
        case = f"create with {n:,} recipients (stock: one request each)"
        self.rows += [
            Row(case, "time", res["stock"]["wall_s"], res["ours"]["wall_s"], "s"),
            Row(case, "peak RSS growth", res["stock"]["rss_mb"], res["ours"]["rss_mb"], "MB", checked=False),
        ]
        case = f"create with {file_n:,} recipients from a CSV file"
        self.rows += [
            Row(case, "time", None, big["wall_s"], "s", checked=False),
            Row(case, "peak RSS growth", None, big["rss_mb"], "MB", goal="≤ 100 MB", checked=False),
        ]

    def _check_imported(self, campaign_id: str, n: int, side: str) -> None:
        state = self.admin.state("whatomate", campaign_id)
        if state["imported_count"] != n:
            raise SystemExit(f"create/{side}: the sandbox holds {state['imported_count']} recipients, expected {n}")

    # 5 ---------------------------------------------------------------------
    def imports(self) -> None:
        params = {"repeat": self.sizes["import_repeat"]}
        res = {side: self.side("imports", side, params) for side in ("stock", "ours")}
        case = "import + provider discovery (on top of `import airflow.sdk`)"
        self.rows += [
            Row(case, "time", res["stock"]["ms"], res["ours"]["ms"], "ms", goal="≤ 1.0× stock"),
            Row(case, "modules", res["stock"]["modules"], res["ours"]["modules"], ""),
        ]
        self.notes.append(
            "heavy modules loaded at import: stock "
            + (", ".join(res["stock"]["heavy"]) or "none")
            + "; ours "
            + (", ".join(res["ours"]["heavy"]) or "none")
        )


ROWS = ("export", "waits", "limited", "create", "imports")


def short(result: dict[str, Any]) -> str:
    keep = ("wall_s", "cpu_s", "rss_mb", "rows", "finished", "errors", "lag_p99_ms", "ms", "modules")
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items() if k in keep)


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


def table(rows: list[Row]) -> str:
    lines = ["| case | metric | stock http provider | this provider | ours vs stock | goal |", "|---|---|---|---|---|---|"]
    last = None
    for row in rows:
        case = row.case if row.case != last else ""
        last = row.case
        lines.append(
            f"| {case} | {row.metric} | {fmt(row.stock, row.unit)} | {fmt(row.ours, row.unit)} | "
            f"{ratio_text(row)} | {row.goal} |"
        )
    return "\n".join(lines)


def write_readme(path: str, block: str) -> None:
    """Replace what stands between the markers; written to a temporary file, then renamed."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} … {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".readme-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{head}{BEGIN}\n{block}\n{END}{tail}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI sizes (a minute or two)")
    parser.add_argument("--check", action="store_true", help="exit 1 when ours is slower than stock on a row")
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated subset of {','.join(ROWS)}")
    parser.add_argument("--readme", default=None,
                        help="README to update between the bench markers (default: README.md on a full run of all rows)")
    args = parser.parse_args(argv)
    selected = [r.strip() for r in args.only.split(",") if r.strip()]
    unknown = set(selected) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; choose from {ROWS}")
    sizes = QUICK if args.quick else FULL
    readme = args.readme or (README if not args.quick and selected == list(ROWS) else None)
    before = machine()
    print(f"benchmark ({'quick' if args.quick else 'full'} sizes) on {before}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as logdir:
        os.environ.setdefault("AIRFLOW_HOME", logdir)
        bench = Bench(sizes, logdir)
        try:
            for name in selected:
                getattr(bench, name)()
        finally:
            bench.sandbox.close()
    elapsed = time.perf_counter() - started
    after = machine()
    text = table(bench.rows)
    command = "make bench" if not args.quick else "make bench-quick"
    footer = (
        f"Measured by `{command}` in {elapsed:.0f} s on {time.strftime('%Y-%m-%d')}: before, {before}; after, {after}."
        + "".join(f" {note}." for note in bench.notes)
    )
    print()
    print(text)
    print()
    print(footer)
    if readme:
        write_readme(readme, f"{text}\n\n{footer}")
        print(f"table written to {readme}")
    if args.check:
        worse = [r for r in bench.rows if r.checked and not r.ok()]
        for row in worse:
            print(f"CHECK FAILED: {row.case} / {row.metric}: ours {fmt(row.ours, row.unit)} vs stock "
                  f"{fmt(row.stock, row.unit)}")
        if worse:
            return 1
        print("check: ours is not slower than stock on any checked row")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
