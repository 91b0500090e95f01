"""Browser fixtures: Debian's chromium, a real Airflow api-server, the vendor sandbox.

The api-server runs as a subprocess on its own temporary AIRFLOW_HOME (SQLite, migrated first,
simple auth manager with everyone an admin, the Test button enabled). It runs
``test_connection`` in its own process and reaches the in-process sandbox over 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
AIRFLOW = Path(sys.executable).with_name("airflow")


def _chromium_missing_reason() -> str | None:
    """None when chromium can run; else why not (after one attempt to install it)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        script = ROOT / "scripts" / "ensure_chromium.sh"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["bash", str(script)], check=False, timeout=900)
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        how = "run scripts/ensure_chromium.sh as root" if os.geteuid() != 0 else "apt-get could not install it"
        return f"no browser: {CHROMIUM} is missing and could not be installed ({how})"
    return None


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """A headless Debian chromium driven by Playwright (never a downloaded browser)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    reason = _chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class AirflowServer:
    url: str
    env: dict[str, str]

    def run_python(self, code: str, *args: str) -> str:
        """Run ``code`` in a fresh interpreter against this server's metadata DB; return stdout."""
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


def _server_env(home: Path) -> dict[str, str]:
    # Nothing from the test process's Airflow set-up leaks in (its AIRFLOW_HOME, unit-test mode,
    # AIRFLOW_CONN_* connections): the server sees only what the UI saves.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@pytest.fixture(scope="package")
def airflow_server(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    """A real ``airflow api-server`` on a free loopback port; its process group is killed after."""
    if not AIRFLOW.exists():
        pytest.fail(f"{AIRFLOW} not found: run the ui tests with the project's venv")
    home = tmp_path_factory.mktemp("airflow-ui-home")
    env = _server_env(home)
    migrate = subprocess.run(
        [str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300, cwd=home
    )
    assert migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.stderr[-3000:]}"
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "api-server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("api_server.py")),
                "api-server",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "1",
            ],
            env=env,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"api-server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            health = f"{url}/api/v2/monitor/health"  # always http://127.0.0.1
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"api-server did not answer within 120 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield AirflowServer(url=url, env=env)
    finally:
        _kill_group(proc)
        shutil.rmtree(home, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
