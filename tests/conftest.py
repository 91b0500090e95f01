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
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME}/airflow.db")

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


@pytest.fixture
def airflow_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define a connection the way users do in production: an ``AIRFLOW_CONN_<ID>`` JSON env var."""

    def define(conn_id: str, conn_type: str, **fields: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type, **fields}))
        return conn_id

    return define


@pytest.fixture
def sandbox_conns(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """All six demo connections pointing at the running sandbox (conn ids: ``<conn_type>_default``)."""
    env = sandbox.airflow_connections()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield {name.removeprefix("AIRFLOW_CONN_").lower(): value for name, value in env.items()}
