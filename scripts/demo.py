"""``make demo``: the whole campaign lifecycle for real, on a local Airflow and the local vendor sandbox.

With no arguments and no set-up this script

1. initialises an Airflow home under ``.demo/airflow`` (SQLite, dags folder = ``example_dags``);
2. starts the vendor sandbox (fake SPRL / Insider / Whatomate / Waplify APIs) on a free loopback
   port and points the six demo connections at it through ``AIRFLOW_CONN_*`` variables;
3. runs ``airflow dags test whatsapp_campaign_lifecycle``: create a Whatomate campaign from
   ``example_dags/data/recipients.csv`` → start → deferrable sensor (really defers; the trigger
   polls while the sandbox sends) → stats → export, then ``whatsapp_daily_report``;
4. prints the final normalized stats, the daily report, and where the files are.

Everything it starts is stopped at the end, on error and on Ctrl-C; it can be run again at once.
Full Airflow logs: ``.demo/logs/``. Options: ``--keep-home`` is the default (the DB is reused);
``--fresh`` wipes ``.demo`` first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
HOME = DEMO / "airflow"
LOGS = DEMO / "logs"
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")

POLL_INTERVAL = "3"  # seconds between the trigger's status polls (real vendors: 30-60 s)
SANDBOX_SETTINGS = {"speed": 2.5}  # the sandbox clock runs 2.5x faster than real time
WHATOMATE_SETTINGS = {"send_rate": 1.0, "failure_ratio": 0.04, "delivered_ratio": 0.92}  # 50 msgs ≈ 20 s wall

START = time.monotonic()
IS_TTY = sys.stdout.isatty()


def say(message: str, *, dim: bool = False) -> None:
    stamp = f"[{time.monotonic() - START:5.1f}s]"
    if IS_TTY and dim:
        message = f"\033[2m{message}\033[0m"
    print(f"{stamp} {message}", flush=True)


def banner(title: str) -> None:
    line = "─" * 78
    print(f"\n{line}\n {title}\n{line}", flush=True)


class Children:
    """Every process this script starts, each in its own process group, stopped group-wise."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def popen(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the whole group ourselves
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs.clear()


def airflow_env(connections: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME}/airflow.db",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "WHATSAPP_EXAMPLE_POLL_INTERVAL": POLL_INTERVAL,
            "PYTHONUNBUFFERED": "1",
            "PYTHONWARNINGS": "ignore",
        }
    )
    # SANDBOX-ONLY demo credentials (they open the local fake, nothing else): the six demo connections.
    env.update(connections)
    return env


# Lines of `airflow dags test` worth showing live, with a short label.
INTERESTING = (
    ("[DAG TEST] starting task_id=", "task"),
    ("Pausing task as DEFERRED", "deferred"),
    ("[DAG TEST] running trigger in line", "trigger"),
    ("; polling every", "poll"),
    ("[DAG TEST] Trigger completed", "resumed"),
    (" created (", "created"),
    ("is processing", "started"),
    ("exported ", "export"),
    ("DagRun Finished", "finished"),
)


def summarise(line: str, label: str) -> str:
    text = line.strip()
    if "] " in text and text.startswith("20"):  # drop the timestamp/level prefix of structlog lines
        text = text.split("] ", 1)[1]
    text = text.split(" [airflow", 1)[0].split(" loc=", 1)[0].strip()
    if label == "task":
        task_id = text.split("task_id=", 1)[1].split()[0]
        index = text.split("map_index=", 1)[1].split()[0] if "map_index=" in text else "-1"
        return f"▶ task {task_id}" + ("" if index == "-1" else f" (mapped #{index})")
    if label == "deferred":
        return "⏸ sensor DEFERRED: the task left the worker; its trigger now polls the vendor"
    if label == "trigger":
        return "⚙ trigger running (in-line triggerer of `airflow dags test`)"
    if label == "resumed":
        return "▶ trigger fired: the sensor resumes with the final stats"
    if label == "finished":
        state = text.split("state=", 1)[1].split(",", 1)[0] if "state=" in text else "?"
        return f"■ DAG run finished: {state}"
    return "  " + text


def run_dag(children: Children, env: dict[str, str], dag_id: str, timeout: float = 240) -> None:
    log = LOGS / f"{dag_id}.log"
    say(f"airflow dags test {dag_id}   (full log: {log.relative_to(ROOT)})")
    proc = children.popen([AIRFLOW, "dags", "test", dag_id], env, log)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    with log.open("w", encoding="utf-8") as out:
        for line in proc.stdout:
            out.write(line)
            for needle, label in INTERESTING:
                if needle in line:
                    say(summarise(line, label), dim=label == "poll")
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dag_id} took more than {timeout:.0f} s; see {log}")
    code = proc.wait(30)
    if code != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-40:])
        raise RuntimeError(f"`airflow dags test {dag_id}` failed (exit {code}). Last lines of {log}:\n{tail}")


_READER = textwrap.dedent(
    """
    import json, sys
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    out = {}
    with create_session() as session:
        for dag_id in sys.argv[1:]:
            run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
            rows = session.scalars(select(XComModel).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run.run_id, XComModel.key == "return_value"))
            out[dag_id] = {"run_id": run.run_id, "state": str(run.state),
                           "xcom": {f"{r.task_id}[{r.map_index}]": XComModel.deserialize_value(r) for r in rows}}
    print("DEMO-JSON:" + json.dumps(out, default=str))
    """
)


def read_xcoms(env: dict[str, str], *dag_ids: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _READER, *dag_ids], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("DEMO-JSON:"):
            return json.loads(line.removeprefix("DEMO-JSON:"))  # type: ignore[no-any-return]
    raise RuntimeError(f"could not read the results from the Airflow DB:\n{proc.stdout}\n{proc.stderr}")


def show(value: Any, rate: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if rate else f"{value:,}"


def stats_table(stats: dict[str, Any], truth: dict[str, Any]) -> str:
    rows = [
        ("total", stats["total"], truth.get("total_recipients")),
        ("sent", stats["sent"], truth.get("sent_count")),
        ("delivered", stats["delivered"], truth.get("delivered_count")),
        ("read", stats["read"], truth.get("read_count")),
        ("failed", stats["failed"], truth.get("failed_count")),
        ("pending", stats["pending"], None),
    ]
    lines = [
        f"  {stats['provider']} campaign {stats['campaign_id']}",
        f"  name: {stats['name']}",
        f"  status: {stats['status']} (vendor says {stats['vendor_status']!r}), terminal={stats['is_terminal']}",
        "",
        f"  {'counter':<16}{'XCom (normalized)':>18}{'sandbox truth':>16}",
    ]
    lines += [f"  {name:<16}{show(got):>18}{show(want):>16}" for name, got, want in rows]
    lines += [
        f"  {name:<16}{show(stats[name], rate=True):>18}"
        for name in ("delivery_rate", "read_rate", "click_rate", "failure_rate")
    ]
    return "\n".join(lines)


def _raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true", help="delete .demo first (new Airflow DB)")
    args = parser.parse_args(argv)

    if args.fresh and DEMO.exists():
        shutil.rmtree(DEMO)
    HOME.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    # Configure Airflow for *this* process too before anything imports it (the sandbox package does).
    os.environ.update(airflow_env({}))

    from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer

    children = Children()
    sandbox = SandboxServer()
    interrupted = False
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # `kill <pid>` cleans up like Ctrl-C
    try:
        banner("WhatsApp campaigns provider demo (local Airflow + local vendor sandbox)")
        say(f"Airflow home: {HOME.relative_to(ROOT)} (SQLite), dags folder: example_dags/")
        say("airflow db migrate …")
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=os.environ.copy(), capture_output=True, text=True, timeout=300,
            check=False,
        )
        (LOGS / "db-migrate.log").write_text(migrate.stdout + migrate.stderr, encoding="utf-8")
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed; see {LOGS / 'db-migrate.log'}")
        say("database ready")

        sandbox.start()
        sandbox.admin.configure(**SANDBOX_SETTINGS)
        sandbox.admin.configure("whatomate", **WHATOMATE_SETTINGS)
        say(f"vendor sandbox listening on {sandbox.url} (clock x{SANDBOX_SETTINGS['speed']}, "
            f"Whatomate sends {WHATOMATE_SETTINGS['send_rate']:g} msg/s of sandbox time)")
        connections = sandbox.airflow_connections()
        env = airflow_env(connections)
        say("connections via AIRFLOW_CONN_* (SANDBOX-ONLY demo credentials, not real secrets):")
        for name, value in connections.items():
            conn = json.loads(value)
            say(f"    {name.removeprefix('AIRFLOW_CONN_').lower():<32}{conn['conn_type']:<24}{conn['host']}", dim=True)

        banner("1/2  whatsapp_campaign_lifecycle: create → start → wait (deferred) → stats → export")
        run_dag(children, env, "whatsapp_campaign_lifecycle")
        banner("2/2  whatsapp_daily_report: stats of SPRL + Insider campaigns via dynamic task mapping")
        run_dag(children, env, "whatsapp_daily_report")

        results = read_xcoms(env, "whatsapp_campaign_lifecycle", "whatsapp_daily_report")
        life = results["whatsapp_campaign_lifecycle"]["xcom"]
        stats = life["campaign_stats[-1]"]
        export = life["export_recipients[-1]"]
        truth = sandbox.admin.state("whatomate", stats["campaign_id"])["public"]
        report_run = results["whatsapp_daily_report"]["xcom"]
        report = report_run["write_report[-1]"]

        banner("Final normalized stats (XCom of campaign_stats = CampaignStats.to_dict())")
        print(stats_table(stats, truth))
        banner("Daily report (one mapped task per connection/campaign)")
        print(f"  {'provider':<10}{'campaign':<16}{'status':<11}{'sent':>7}{'delivered':>11}{'read':>7}")
        mapped = sorted((k for k in report_run if k.startswith("campaign_stats[")),
                        key=lambda k: int(k.split("[")[1][:-1]))
        for key in mapped:
            row = report_run[key]
            print(f"  {row['provider']:<10}{row['campaign_id']:<16}{row['status']:<11}"
                  f"{show(row['sent']):>7}{show(row['delivered']):>11}{show(row['read']):>7}")
        banner("Files")
        print(f"  recipients export  {export['path']}  ({export['rows']} rows)")
        print(f"  daily report       {report['csv']}")
        print(f"                     {report['json']}  ({report['rows']} campaigns)")
        print(f"  Airflow logs       {LOGS}/")
        print(f"\n  Demo finished in {time.monotonic() - START:.0f} s. Next: `make test`, or open example_dags/.")
        return 0
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted: stopping everything the demo started …", flush=True)
        return 130
    except Exception as exc:
        print(f"\nDemo failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        children.stop_all()
        sandbox.stop()
        signal.signal(signal.SIGTERM, previous)
        if interrupted:
            print("stopped.", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
