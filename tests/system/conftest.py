"""The system suite's stack: real Redis, real PostgreSQL, a distributed Airflow 3 and the sandbox.

Started once per session (it takes a minute on two shared cores) and stopped at the end, also
when a test fails. Sizes come from the environment so ``make test-system SYSTEM_WAITS=1000``
scales the same tests: ``SYSTEM_WAITS`` (deferred waits in the budget scenario; the others use
a share of it), ``SYSTEM_VENDOR_RPS`` (the limit the sandbox enforces).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_whatsapp_campaigns.sandbox.connections import base_url
from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer
from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO
from airflow_provider_whatsapp_campaigns.validation import MIN_POLL_INTERVAL
from tests.integration.conftest import airflow_env, run_airflow
from tests.system.services import PostgresCluster, RedisServer, free_port, missing_binaries
from tests.system.stack import COMPONENTS, Stack, wait_for

SYSTEM_DAGS = Path(__file__).resolve().parent / "dags"
WAITS = int(os.environ.get("SYSTEM_WAITS", "20"))
#: By default as many requests per second as there are waits: WAITS triggers polling at the provider's
#: 1 s floor then ask for twice the connection's budget below.
VENDOR_RPS = int(os.environ.get("SYSTEM_VENDOR_RPS", str(max(2, WAITS))))
#: The connection's client-side budget: half the vendor's, for the time between the moment a process
#: takes a slot (on Redis's clock) and the moment the vendor counts the request, which a loaded machine
#: stretches.
CLIENT_RPS = VENDOR_RPS * 0.5
#: Each triggerer takes at most 60 % of the largest scenario: the budget scenario must spread over
#: both, and either one alone can still carry any later scenario (half the size) after the other dies.
TRIGGERER_CAPACITY = math.ceil(WAITS * 0.6)
POLL_SECONDS = float(os.environ.get("SYSTEM_POLL_SECONDS", "1"))
#: the budget scenario's poll interval: WAITS triggers then ask for twice the budget (never under the
#: provider's floor of 1 s between polls, which the operators refuse)
FAST_POLL_SECONDS = max(MIN_POLL_INTERVAL, WAITS / (2 * CLIENT_RPS))

#: rows of the summary table, one per scenario (printed at the end of the session)
RESULTS: list[dict[str, Any]] = []
COLUMNS = ("scenario", "waits", "429s", "duplicates", "lost", "recovery s", "mints/logins", "notes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = missing_binaries()
    if missing:
        reason = f"{', '.join(missing)} not installed (run scripts/ensure_services.sh as root)"
        for item in items:
            if "tests/system/" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    rows = [[str(r.get(c, "")) for c in COLUMNS] for r in RESULTS]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(COLUMNS)]
    line = "  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))
    terminalreporter.write_sep("=", f"system at scale: {WAITS} waits, vendor limit {VENDOR_RPS} rps")
    terminalreporter.write_line(line)
    terminalreporter.write_line("-" * len(line))
    for row in rows:
        terminalreporter.write_line("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def record(**row: Any) -> None:
    RESULTS.append(row)


class System:
    """Handles for the tests: the stack, the services, SQL on the metadata DB, DAG triggering."""

    def __init__(self, stack: Stack, redis: RedisServer, postgres: PostgresCluster, sandbox: SandboxServer,
                 home: Path) -> None:
        self.stack, self.redis, self.postgres, self.sandbox, self.home = stack, redis, postgres, sandbox, home
        self.triggerer_jobs: dict[str, int] = {}
        self._runs = 0

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        with psycopg2.connect(self.postgres.dsn, connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            rows = cur.fetchall() if cur.description else []
        conn.close()
        return rows

    def start_triggerer(self, name: str) -> None:
        """Start a triggerer and learn its job id (to know whose triggers a SIGKILL orphans)."""
        before = {row[0] for row in self.sql("SELECT id FROM job WHERE job_type = 'TriggererJob'")}
        self.stack.start(name)

        def new_job() -> int | None:
            rows = self.sql("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'")
            fresh = [row[0] for row in rows if row[0] not in before]
            return fresh[0] if fresh else None

        self.triggerer_jobs[name] = wait_for(f"{name} to register its job", new_job, self.stack, 180)

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        self._runs += 1
        run_id = f"{dag_id}__{self._runs}__{int(time.time())}"
        proc = run_airflow(self.stack.env, "dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf),
                           timeout=120)
        assert proc.returncode == 0, proc.stdout[-3000:]
        return run_id

    def ti_states(self, run_id: str, task_id: str | None = None) -> dict[str, str]:
        query = "SELECT task_id, map_index, state FROM task_instance WHERE run_id = %s"
        rows = self.sql(query, run_id)
        return {f"{t}[{m}]": str(s) for t, m, s in rows if task_id is None or t == task_id}

    def run_state(self, run_id: str) -> str:
        rows = self.sql("SELECT state FROM dag_run WHERE run_id = %s", run_id)
        return str(rows[0][0]) if rows else "missing"

    def wait_run(self, run_id: str, timeout: float, supervise: bool = False) -> None:
        def done() -> bool:
            state = self.run_state(run_id)
            if state == "failed":
                raise AssertionError(f"run {run_id} failed: {self.ti_states(run_id)}\n{self.stack.tail()}")
            return state == "success"

        wait_for(f"run {run_id} to succeed", done, self.stack, timeout, every=2, supervise=supervise)

    def deferred(self, run_id: str, task_id: str = "wait") -> int:
        return sum(1 for s in self.ti_states(run_id, task_id).values() if s == "deferred")

    def assignments(self) -> dict[int, int]:
        """triggerer job id -> how many triggers it runs."""
        rows = self.sql("SELECT triggerer_id, count(*) FROM trigger WHERE triggerer_id IS NOT NULL GROUP BY 1")
        return {int(job): int(n) for job, n in rows}

    def wait_results(self, run_id: str, task_id: str = "wait") -> dict[int, Any]:
        rows = self.sql(
            "SELECT map_index, value FROM xcom WHERE run_id = %s AND task_id = %s AND key = 'return_value'",
            run_id, task_id,
        )
        return {int(m): v for m, v in rows}  # a JSON column: the driver already decoded it

    def try_numbers(self, run_id: str, task_id: str) -> dict[int, int]:
        rows = self.sql("SELECT map_index, try_number FROM task_instance WHERE run_id = %s AND task_id = %s",
                        run_id, task_id)
        return {int(m): int(t) for m, t in rows}


def scale_connections(sandbox: SandboxServer, redis: RedisServer) -> dict[str, str]:
    """The suite's connections: every one with the shared ``rate_limit`` and ``redis_url``."""
    limits = {"rate_limit": CLIENT_RPS, "redis_url": redis.url(1)}
    whm, ins = DEMO["whatomate"], DEMO["insider"]
    conns = {
        "WHATOMATE_SCALE": {"conn_type": "whatomate", "host": sandbox.base_url("whatomate"),
                            "password": whm["api_key"],
                            "extra": {"whatsapp_account": whm["whatsapp_account"], **limits}},
        "WHATOMATE_JWT_SCALE": {"conn_type": "whatomate_jwt", "host": sandbox.base_url("whatomate"),
                                "login": whm["email"], "password": whm["password"],
                                "extra": {"whatsapp_account": whm["whatsapp_account"], **limits}},
        "INSIDER_OAUTH_SCALE": {"conn_type": "insider_whatsapp_oauth", "host": sandbox.base_url("insider_oauth"),
                                "login": ins["client_id"], "password": ins["client_secret"],
                                "extra": {"token_url": base_url(sandbox.url, "insider_oauth") + "/auth/token",
                                          "scopes": ["wa-stats-api"], **limits}},
    }
    return {f"AIRFLOW_CONN_{name}": json.dumps(value) for name, value in conns.items()}


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory, sandbox_server: SandboxServer) -> Iterator[System]:
    redis, postgres = RedisServer(), PostgresCluster()
    stack: Stack | None = None
    try:
        redis.start()
        postgres.start()
        postgres.create_database()
        home = tmp_path_factory.mktemp("system-home")
        api_port = free_port()
        env = airflow_env(
            home,
            sandbox_server,
            AIRFLOW__CORE__DAGS_FOLDER=str(SYSTEM_DAGS),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://airflow@127.0.0.1:{postgres.port}/airflow",
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CELERY__BROKER_URL=redis.url(0),
            AIRFLOW__CELERY__RESULT_BACKEND=f"db+postgresql+psycopg2://airflow@127.0.0.1:{postgres.port}/airflow",
            AIRFLOW__CELERY__WORKER_CONCURRENCY="6",
            AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="1",
            AIRFLOW__CORE__PARALLELISM="512",
            AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="5000",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(api_port),
            AIRFLOW__API__WORKERS="2",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30",
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
            AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="2",
            AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="10",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            WHATSAPP_SYSTEM_POLL=str(POLL_SECONDS),
            WHATSAPP_SYSTEM_FAST_POLL=str(FAST_POLL_SECONDS),
            **scale_connections(sandbox_server, redis),
        )
        proc = run_airflow(env, "db", "migrate", timeout=600)
        assert proc.returncode == 0, proc.stdout[-4000:]
        logs = home / "component-logs"
        logs.mkdir()
        capacity = ("--capacity", str(TRIGGERER_CAPACITY))
        stack = Stack(env, logs, {
            "triggerer-1": capacity, "triggerer-2": capacity,
            "worker-1": ("--celery-hostname", "worker-1@%h"), "worker-2": ("--celery-hostname", "worker-2@%h"),
        })
        system = System(stack, redis, postgres, sandbox_server, home)
        for name in COMPONENTS:
            if name.startswith("triggerer"):
                system.start_triggerer(name)
            else:
                stack.start(name)
        wanted = {"system_waits", "system_waits_fast", "system_sensor_waits", "system_create_export"}
        wait_for("the dag-processor to store the system DAGs",
                 lambda: wanted <= {r[0] for r in system.sql("SELECT dag_id FROM serialized_dag")},
                 stack, timeout=300, every=3)
        yield system
    finally:
        if stack is not None:
            stack.stop()
        postgres.close()
        redis.close()


@pytest.fixture
def fresh_sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The sandbox back to its demo data, enforcing the vendor limit the suite runs against."""
    sandbox_server.admin.reset(seed=sandbox_server.seed)
    sandbox_server.admin.configure(whatomate_rate_limit=VENDOR_RPS, insider_rate_limit=VENDOR_RPS)
    return sandbox_server
