"""Test-wide set-up: an isolated Airflow home, connections from env vars, the vendor sandbox."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

_HOME = tempfile.mkdtemp(prefix="whatsapp-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME}/airflow.db")
# One dags folder for the whole run (Airflow caches its bundle config on first use); suites that
# run DAGs link their files into it (see airflow_dags_folder).
DAGS_FOLDER = os.path.join(os.environ["AIRFLOW_HOME"], "dags")
os.makedirs(DAGS_FOLDER, exist_ok=True)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = DAGS_FOLDER

pytest_plugins = ["airflow_provider_whatsapp_campaigns.sandbox.pytest_plugin"]

# Every credential the tests use; test_no_secret_leaks scans captured output for them.
TEST_SECRETS = (
    "sprl_demo_key",
    "INS.demo-api-key",
    "demo-secret",
    "whm_demo_key",
    "demo-password",
    "wapl_demo_key",
    "sk_test_SECRET_value_42",
)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata DB in the test Airflow home (once per run)."""
    import subprocess
    import sys

    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, env=os.environ, capture_output=True, timeout=300)
    return DAGS_FOLDER


def link_dags(*files: str) -> None:
    """Make DAG files visible to dag.test() / `airflow dags test` in the shared dags folder."""
    for path in files:
        target = os.path.join(DAGS_FOLDER, os.path.basename(path))
        if not os.path.lexists(target):
            os.symlink(os.path.abspath(path), target)


@pytest.fixture
def airflow_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define a connection the way users do in production: an ``AIRFLOW_CONN_<ID>`` JSON env var."""

    def define(conn_id: str, conn_type: str, **fields: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type, **fields}))
        return conn_id

    return define


@pytest.fixture
def shared_redis(monkeypatch: pytest.MonkeyPatch) -> Any:
    """One fake Redis server that every client created from a URL talks to (as several workers would)."""
    fakeredis = pytest.importorskip("fakeredis")
    import redis
    from redis import asyncio as aioredis

    server = fakeredis.FakeServer()
    monkeypatch.setattr(redis.Redis, "from_url", classmethod(lambda cls, url, **kw: fakeredis.FakeRedis(server=server)))
    monkeypatch.setattr(
        aioredis.Redis, "from_url", classmethod(lambda cls, url, **kw: fakeredis.aioredis.FakeRedis(server=server))
    )
    return server


@pytest.fixture
def sandbox_conns(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """All six demo connections pointing at the running sandbox (conn ids: ``<conn_type>_default``)."""
    env = sandbox.airflow_connections()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield {name.removeprefix("AIRFLOW_CONN_").lower(): value for name, value in env.items()}


# --------------------------------------------------------------------------- secret-leak scan
# Every captured log line, stdout/stderr and exception message of the whole run is scanned for the
# test credentials; any hit fails the session, naming the test (never printing the secret itself).

_LEAKS: list[tuple[str, str]] = []


def find_leaks(texts: list[str], secrets: tuple[str, ...] = TEST_SECRETS) -> list[int]:
    """Indexes (into ``secrets``) of the secrets that appear in any of ``texts``."""
    return [i for i, secret in enumerate(secrets) if any(secret in text for text in texts)]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    texts = [content for _, content in report.sections]
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None:
        texts.append(str(crash.message))
    for index in find_leaks(texts):
        _LEAKS.append((report.nodeid, f"test secret #{index}"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _LEAKS:
        lines = "\n".join(f"  {node}: {which}" for node, which in _LEAKS)
        print(f"\nSECRET LEAK: test credentials appeared in captured output or errors:\n{lines}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Tokens, locks, limiters are kept per process (by design); a test must not inherit another test's."""
    yield
    from airflow_provider_whatsapp_campaigns._http.state import clear_process_state

    clear_process_state()
