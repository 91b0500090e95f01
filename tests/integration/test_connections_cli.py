"""`airflow connections add` / `airflow connections test` with every connection type, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from tests.conftest import TEST_SECRETS

pytestmark = pytest.mark.integration

AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")
WRONG = {"password": "definitely-wrong-key"}


def airflow_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_")}
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180)


def test_add_and_test_every_connection_type(sandbox, airflow_db):
    conns = {k.removeprefix("AIRFLOW_CONN_").lower(): json.loads(v) for k, v in sandbox.airflow_connections().items()}
    assert len(conns) == 6
    payload = {}
    for conn_id, conn in conns.items():
        payload[f"cli_{conn_id}"] = conn
        payload[f"cli_bad_{conn_id}"] = {**conn, **WRONG}
    path = os.path.join(os.environ["AIRFLOW_HOME"], "cli-connections.json")
    with open(path, "w") as handle:
        json.dump(payload, handle)
    try:
        imported = airflow_cli("connections", "import", path, "--overwrite")
    finally:
        os.remove(path)
    assert imported.returncode == 0, imported.stderr[-2000:]

    # `connections add` with a URI, the other documented way
    added = airflow_cli(
        "connections",
        "add",
        "cli_uri_waplify",
        "--conn-uri",
        "waplify://:wapl_demo_key@" + quote(sandbox.base_url("waplify"), safe="") + "?waba_phone_id=demo-waba",
    )
    assert added.returncode == 0, added.stderr[-2000:]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(payload, pool.map(lambda c: airflow_cli("connections", "test", c), payload), strict=True))
        uri = pool.submit(airflow_cli, "connections", "test", "cli_uri_waplify").result()

    for conn_id, result in results.items():
        output = result.stdout + result.stderr
        for secret in TEST_SECRETS:
            assert secret not in output, f"{conn_id}: a secret leaked into CLI output"
        if conn_id.startswith("cli_bad_"):
            assert "Connection failed" in output or result.returncode != 0, f"{conn_id}: {output[-800:]}"
            assert "rejected" in output or "Authentication" in output, f"{conn_id}: unclear message {output[-800:]}"
        else:
            assert result.returncode == 0 and "Connection success" in output, f"{conn_id}: {output[-1500:]}"
    assert "Connection success" in uri.stdout + uri.stderr, (uri.stdout + uri.stderr)[-1500:]


def test_airflow_discovers_the_provider(airflow_db):
    listed = airflow_cli("providers", "list", "-o", "plain")
    assert "airflow-provider-whatsapp-campaigns" in listed.stdout, listed.stderr[-1500:]
    got = airflow_cli("providers", "get", "airflow-provider-whatsapp-campaigns", "-o", "json")
    assert got.returncode == 0, got.stderr[-1500:]
    assert json.loads(got.stdout)[0]["Provider"] == "airflow-provider-whatsapp-campaigns"
    hooks = airflow_cli("providers", "hooks", "-o", "json")
    for conn_type in ("sprl", "insider_whatsapp", "insider_whatsapp_oauth", "whatomate", "whatomate_jwt", "waplify"):
        assert f'"{conn_type}"' in hooks.stdout, conn_type
