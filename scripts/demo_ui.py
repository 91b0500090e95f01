"""`make demo-ui`: a full local Airflow (api-server, scheduler, triggerer, dag-processor) + the sandbox.

Click through the example DAG runs and the six connection forms in the real UI. Everything lives
under `.demo/ui/`; Ctrl-C stops every process this started. The connections are defined through
AIRFLOW_CONN_* with the sandbox's SANDBOX-ONLY demo credentials (they open nothing but the local
fake), so they work in tasks but do not appear in the UI's connection list — add your own there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".demo" / "ui"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer

    HOME.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxServer().start()
    sandbox.admin.configure(speed=2.5)
    port = int(os.environ.get("DEMO_UI_PORT") or free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    env.update(sandbox.airflow_connections())
    env.update(
        {
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "WHATSAPP_EXAMPLE_POLL_INTERVAL": "3",
            # standalone starts its components as `airflow …` found on PATH
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    print(f"vendor sandbox: {sandbox.url} (SANDBOX-ONLY demo credentials)")
    print(f"starting Airflow (standalone) in {HOME} … the UI will be at http://127.0.0.1:{port}")
    print("login: user `admin`, password printed by Airflow below (also in "
          f"{HOME}/simple_auth_manager_passwords.json.generated). Ctrl-C stops everything.\n")
    proc = subprocess.Popen([str(BIN / "airflow"), "standalone"], env=env, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print("\nstopping …")
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.time() + 20
            while proc.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        sandbox.stop()
        print("stopped.")


if __name__ == "__main__":
    sys.exit(main())
