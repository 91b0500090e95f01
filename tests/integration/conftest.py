"""Fixtures for the Airflow integration tests: a migrated Airflow home, env for CLI subprocesses, XCom reads.

The root ``tests/conftest.py`` already configured *this* process's Airflow (unit-test home). The
integration tests therefore drive Airflow in subprocesses (``airflow dags test``, scheduler …)
with an environment of their own, and read results back through a small Python subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "example_dags"
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
JWT_SECRET = "integration-tests-only-jwt-secret"  # a fixed secret so api-server and workers agree


def airflow_env(home: Path, sandbox: SandboxServer | None = None, **extra: str) -> dict[str, str]:
    """Environment for an Airflow subprocess on ``home`` with the example DAGs and sandbox connections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "WHATSAPP_EXAMPLE_POLL_INTERVAL": "1",
        }
    )
    if sandbox is not None:
        env.update(sandbox.airflow_connections())
    env.update(extra)
    return env


def stop_process_groups(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each Airflow component's process group, wait up to 20 s, then SIGKILL what is left of it
    (task runners, workers and other children of the group)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def run_airflow(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``airflow <args>``; the combined output is attached to the assertion message on failure."""
    proc = subprocess.run(
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT), check=False
    )
    proc.stdout = proc.stdout + proc.stderr
    return proc


_XCOM_READER = textwrap.dedent(
    """
    import json, sys
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    try:
        from airflow.models.xcom import XComModel
        value_of = XComModel.deserialize_value
    except ImportError:  # Airflow 2.11: the ORM class deserializes on load
        from airflow.models.xcom import XCom as XComModel
        value_of = lambda row: row.value
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_id = sys.argv[1]
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
        out = {"run_id": run.run_id, "state": str(run.state), "conf": run.conf,
               "data_interval_start": run.data_interval_start.isoformat() if run.data_interval_start else None,
               "data_interval_end": run.data_interval_end.isoformat() if run.data_interval_end else None,
               "xcom": {}, "tasks": {}}
        rows = session.scalars(select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run.run_id))
        for row in rows:
            slot = out["xcom"].setdefault(row.task_id, {}).setdefault(row.key, {})
            slot[str(row.map_index)] = value_of(row)
        for ti in session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                             TaskInstance.run_id == run.run_id)):
            out["tasks"][f"{ti.task_id}[{ti.map_index}]"] = {"state": str(ti.state), "try_number": ti.try_number,
                                                             "next_method": ti.next_method}
        hist = session.scalars(select(TaskInstanceHistory).where(TaskInstanceHistory.dag_id == dag_id,
                                                                 TaskInstanceHistory.run_id == run.run_id))
        out["history"] = [{"task_id": h.task_id, "state": str(h.state), "try_number": h.try_number} for h in hist]
    print("XCOM-JSON:" + json.dumps(out, default=str))
    """
)


def read_run(env: dict[str, str], dag_id: str) -> dict[str, Any]:
    """Latest run of ``dag_id``: state, data interval, task states and every XCom (deserialized)."""
    proc = subprocess.run(
        [sys.executable, "-c", _XCOM_READER, dag_id], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("XCOM-JSON:"):
            return json.loads(line.removeprefix("XCOM-JSON:"))  # type: ignore[no-any-return]
    raise AssertionError(f"could not read the run of {dag_id}:\n{proc.stdout}\n{proc.stderr}")


def xcom(run: dict[str, Any], task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    return run["xcom"][task_id][key][str(map_index)]


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh Airflow home with a migrated SQLite DB (once per session; ~5–8 s)."""
    home = tmp_path_factory.mktemp("airflow-home")
    proc = run_airflow(airflow_env(home), "db", "migrate", timeout=180)
    assert proc.returncode == 0, proc.stdout[-4000:]
    yield home


@pytest.fixture
def airflow_cli_env(airflow_home: Path, sandbox: SandboxServer) -> dict[str, str]:
    """Env for Airflow subprocesses: the migrated home, the example DAGs and the reset sandbox's connections."""
    return airflow_env(airflow_home, sandbox)
