"""Contract tests: the CLI (``--help``, printed env lines) and a restart with ``--state-file``."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time

import requests

MODULE = "airflow_provider_whatsapp_campaigns.sandbox"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", MODULE, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("export AIRFLOW_CONN_WAPLIFY_DEFAULT"):
            return proc, lines
    proc.kill()
    raise AssertionError("sandbox CLI did not print its env lines:\n" + "\n".join(lines))


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(10)


def test_help_documents_every_option():
    out = subprocess.run([sys.executable, "-m", MODULE, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for opt in ("--port", "--host", "--seed", "--state-file", "--speed", "127.0.0.1"):
        assert opt in out.stdout
    assert "SANDBOX-ONLY demo credentials" in out.stdout and "wapl_demo_key" in out.stdout


def test_cli_prints_urls_and_env_lines():
    port = free_port()
    proc, lines = start("--port", str(port))
    try:
        root = f"http://127.0.0.1:{port}"
        assert any(root + "/sprl/api" in line for line in lines)
        assert any(root + "/insider-gw" in line for line in lines)
        exports = {}
        for line in lines:
            if line.startswith("export "):
                name, _, value = line[len("export "):].partition("=")
                exports[name] = json.loads(shlex.split(value)[0])
        assert len(exports) == 6
        assert exports["AIRFLOW_CONN_WHATOMATE_DEFAULT"] == {
            "conn_type": "whatomate", "host": root + "/whatomate", "password": "whm_demo_key",
            "extra": {"whatsapp_account": "demo-account"}}
        assert exports["AIRFLOW_CONN_INSIDER_WHATSAPP_DEFAULT"]["host"] == root + "/insider"
        assert requests.get(root + "/__sandbox__/health", timeout=5).json()["ok"] is True
    finally:
        stop(proc)


def test_state_file_survives_restart(tmp_path):
    state = tmp_path / "sandbox.json"
    port = free_port()
    headers = {"Authorization": "Bearer wapl_demo_key"}
    proc, _ = start("--port", str(port), "--state-file", str(state), "--seed", "3")
    try:
        url = f"http://127.0.0.1:{port}/waplify/api/v1/campaigns/"
        cid = requests.post(url, headers=headers, timeout=10,
                            json={"name": "kept", "template_name": "t", "contacts": [{"phone": "+447700000001"}]}
                            ).json()["id"]
        assert requests.post(url + f"{cid}/send", headers=headers, timeout=10).status_code == 202
    finally:
        stop(proc)
    assert not list(tmp_path.glob(".sandbox-*"))  # atomic write leaves no temp files
    proc, _ = start("--port", str(port), "--state-file", str(state))
    try:
        stats = requests.get(f"http://127.0.0.1:{port}/waplify/api/v1/campaigns/{cid}/stats", headers=headers,
                             timeout=10).json()
        assert stats["name"] == "kept" and stats["campaign_status"] in ("running", "completed")
        again = requests.post(f"http://127.0.0.1:{port}/waplify/api/v1/campaigns/{cid}/send", headers=headers,
                              timeout=10)
        assert again.status_code == 400
    finally:
        stop(proc)
