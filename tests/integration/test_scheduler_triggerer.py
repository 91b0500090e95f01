"""The lifecycle DAG under a real scheduler + triggerer + dag-processor + api-server (LocalExecutor, SQLite).

This is how the provider runs in production: the sensor's ``defer()`` hands the wait to a
separate triggerer process, which polls the vendor (the sandbox) with the async hook and wakes
the task up on a worker when the campaign completes. Every process is started in its own
process group and the whole group is stopped at the end, also when the test fails.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import AIRFLOW, ROOT, airflow_env, read_run, run_airflow, stop_process_groups, xcom

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DAG_ID = "whatsapp_campaign_lifecycle"
COMPONENTS = ("api-server", "scheduler", "triggerer", "dag-processor")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """Airflow components as child process groups; ``stop()`` is idempotent and bounded."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [AIRFLOW, name, *args], env=self.env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {proc.returncode}:\n{self.log(name)[-4000:]}")

    def stop(self) -> None:
        stop_process_groups(self.procs.values())


@pytest.fixture
def stack(tmp_path: Path, sandbox: Any) -> Iterator[Stack]:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = airflow_env(
        home,
        sandbox,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        WHATSAPP_EXAMPLE_POLL_INTERVAL="2",
    )
    proc = run_airflow(env, "db", "migrate", timeout=180)
    assert proc.returncode == 0, proc.stdout[-4000:]
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Stack(env, logs)
    try:
        running.start("api-server", "--port", str(port), "--host", "127.0.0.1")
        running.start("scheduler")
        running.start("triggerer")
        running.start("dag-processor")
        yield running
    finally:
        running.stop()


def wait_for(what: str, check: Any, stack: Stack, timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        result = check()
        if result:
            return result
        time.sleep(every)
    logs = "\n".join(f"--- {n} ---\n{stack.log(n)[-3000:]}" for n in COMPONENTS)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


def test_lifecycle_under_scheduler_and_triggerer(stack: Stack, sandbox: Any) -> None:
    # 50 recipients at 5 msg/s: ~10 s of sending, several trigger polls.
    sandbox.admin.configure("whatomate", send_rate=5.0)
    env = stack.env

    def parsed() -> bool:
        # Before the dag-processor has stored the DAG this exits 0 with "No paused DAGs were found".
        proc = run_airflow(env, "dags", "unpause", DAG_ID, timeout=60)
        return proc.returncode == 0 and DAG_ID in proc.stdout

    wait_for("the dag-processor to serialize the DAG", parsed, stack, timeout=90, every=3)
    trigger = run_airflow(env, "dags", "trigger", DAG_ID, timeout=60)
    assert trigger.returncode == 0, trigger.stdout[-3000:]

    def finished() -> dict[str, Any] | None:
        run = read_run(env, DAG_ID)
        state = run["state"].rsplit(".", 1)[-1].lower()
        if state == "failed":
            raise AssertionError(f"DAG run failed: {run['tasks']}")
        return run if state == "success" else None

    run = wait_for("the DAG run to succeed", finished, stack, timeout=150, every=3)

    campaign_id = xcom(run, "create_campaign")
    stats = xcom(run, "campaign_stats")
    public = sandbox.admin.state("whatomate", campaign_id)["public"]
    assert stats["status"] == public["status"] == "completed"
    assert (stats["total"], stats["sent"], stats["failed"]) == (
        public["total_recipients"], public["sent_count"], public["failed_count"],
    )
    assert xcom(run, "export_recipients")["rows"] == 50

    # The sensor deferred: the task log shows the hand-over, and the triggerer process wrote the
    # trigger's own log (polls while the campaign was still sending, then the event that woke the task).
    task_dir = next(Path(env["AIRFLOW_HOME"], "logs").rglob("task_id=wait_until_completed"))
    task_log = (task_dir / "attempt=1.log").read_text(encoding="utf-8", errors="replace")
    assert "Pausing task as DEFERRED" in task_log, task_log[-3000:]
    trigger_logs = sorted(task_dir.glob("attempt=1.log.trigger.*.log"))
    assert trigger_logs, sorted(p.name for p in task_dir.iterdir())
    trigger_log = trigger_logs[0].read_text(encoding="utf-8", errors="replace")
    assert "WhatsAppCampaignTrigger" in trigger_log and "is processing; polling every" in trigger_log, trigger_log
    assert "Trigger fired event" in trigger_log, trigger_log
    assert run["tasks"]["wait_until_completed[-1]"]["try_number"] == 1  # resumed, not retried
