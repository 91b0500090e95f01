"""Run every example DAG with ``airflow dags test`` against the bundled sandbox, in the current environment.

``scripts/dist_check.sh`` runs this with the Python of a venv holding only the built wheel and its
dependencies, from outside the checkout, so the package it exercises is the installed artifact. It fails
unless every file under ``example_dags/`` imports, every DAG run and every task instance succeeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "example_dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
# Arguments a DAG needs under `airflow dags test` (its conf or logical date); the rest run with none.
DAG_ARGS = {
    "sprl_tracking": ["-c", json.dumps({"campaign_uid": "demo-campaign"})],
    "insider_transactional_monthly": ["2025-03-01"],
}
OK = ("success", "skipped")


def airflow_env(home: Path, connections: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "WHATSAPP_EXAMPLE_POLL_INTERVAL": "1",
            "PYTHONWARNINGS": "ignore",
        }
    )
    env.update(connections)  # SANDBOX-ONLY demo credentials: they open the local fake, nothing else
    return env


def run_airflow(env: dict[str, str], *args: str, log: Path, timeout: float = 300) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
        out.flush()
        code = subprocess.run(
            [AIRFLOW, *args], env=env, cwd=env["AIRFLOW_HOME"], stdout=out, stderr=subprocess.STDOUT,
            timeout=timeout, check=False,
        ).returncode
    if code != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-60:])
        raise SystemExit(f"`airflow {' '.join(args)}` exited {code}; last lines of {log}:\n{tail}")


_STATES = """
import json, sys
from airflow.models.dagbag import DagBag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
from sqlalchemy import select

if sys.argv[1] == "parse":
    bag = DagBag(sys.argv[2])  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES=False
    print("JSON:" + json.dumps({"dag_ids": sorted(bag.dag_ids), "errors": {str(k): v for k, v in bag.import_errors.items()}}))
else:
    out = {}
    with create_session() as session:
        for dag_id in sys.argv[2:]:
            run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
            tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                             TaskInstance.run_id == run.run_id))
            out[dag_id] = {"run": getattr(run.state, "value", run.state),
                           "tasks": {f"{t.task_id}[{t.map_index}]": getattr(t.state, "value", t.state) for t in tis}}
    print("JSON:" + json.dumps(out))
"""


def query(env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _STATES, *args], env=env, cwd=env["AIRFLOW_HOME"], capture_output=True, text=True,
        timeout=300, check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("JSON:"):
            return json.loads(line.removeprefix("JSON:"))  # type: ignore[no-any-return]
    raise SystemExit(f"could not read Airflow's state ({' '.join(args)}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, required=True, help="write every Airflow command's output here")
    options = parser.parse_args()

    import airflow

    import airflow_provider_whatsapp_campaigns as package
    from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer

    print(f"Airflow {airflow.__version__}; {package.__name__} {package.__version__} from {Path(package.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="example-dags-home-") as tmp, SandboxServer() as sandbox:
        home = Path(tmp)
        log = options.log
        log.write_text("", encoding="utf-8")
        env = airflow_env(home, sandbox.airflow_connections())
        parsed = query(env, "parse", str(DAGS))
        if parsed["errors"]:
            raise SystemExit(f"example DAGs fail to import: {parsed['errors']}")
        expected = len(list(DAGS.glob("*.py")))
        if len(parsed["dag_ids"]) != expected:
            raise SystemExit(f"{expected} example DAG files but DAGs {parsed['dag_ids']}")
        run_airflow(env, "db", "migrate", log=log)
        for dag_id in parsed["dag_ids"]:
            started = time.monotonic()
            run_airflow(env, "dags", "test", dag_id, *DAG_ARGS.get(dag_id, []), log=log)
            print(f"  dags test {dag_id}: {time.monotonic() - started:.1f} s", flush=True)
        results = query(env, "states", *parsed["dag_ids"])
    failed = {
        dag_id: result for dag_id, result in results.items()
        if result["run"] != "success" or not result["tasks"] or any(s not in OK for s in result["tasks"].values())
    }
    if failed:
        raise SystemExit(f"example DAG runs did not succeed: {json.dumps(failed, indent=1)}\nlog: {log}")
    print(f"{len(results)} example DAGs succeeded: " + ", ".join(f"{d} ({len(r['tasks'])} tasks)" for d, r in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
