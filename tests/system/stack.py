"""A distributed Airflow 3 on one machine: every component a child process group of the test.

PostgreSQL metadata DB, CeleryExecutor over Redis, two Celery workers, two triggerers, scheduler,
dag-processor and api-server. ``kill()`` is a real SIGKILL of a whole component (its task runners
and trigger runner included); ``stop()`` is idempotent and bounded, also when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.integration.conftest import AIRFLOW, ROOT, stop_process_groups

#: name -> airflow sub-command; two of each of the components the issue scales out.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler",),
    "dag-processor": ("dag-processor",),
    "triggerer-1": ("triggerer", "--skip-serve-logs"),
    "triggerer-2": ("triggerer", "--skip-serve-logs"),
    "worker-1": ("celery", "worker", "--skip-serve-logs", "--without-mingle", "--without-gossip"),
    "worker-2": ("celery", "worker", "--skip-serve-logs", "--without-mingle", "--without-gossip"),
}


class Stack:
    def __init__(self, env: dict[str, str], logs: Path, extra_args: dict[str, tuple[str, ...]]) -> None:
        self.env, self.logs, self.extra_args = env, logs, extra_args
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = {}

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [AIRFLOW, *COMPONENTS[name], *self.extra_args.get(name, ())], env=self.env, cwd=str(ROOT),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def tail(self, names: tuple[str, ...] | None = None, chars: int = 2500) -> str:
        return "\n".join(f"--- {n} ---\n{self.log(n)[-chars:]}" for n in names or tuple(self.procs))

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def check_alive(self) -> None:
        dead = self.dead()
        if dead:
            raise AssertionError(f"airflow components exited: {dead}\n{self.tail(tuple(dead), 4000)}")

    def supervise(self) -> list[str]:
        """Restart components that exited, as systemd or Kubernetes would; returns their names."""
        dead = self.dead()
        for name in dead:
            self.restarts[name] = self.restarts.get(name, 0) + 1
            self.start(name)
        return dead

    def kill(self, name: str) -> None:
        """SIGKILL the component's whole process group (no clean-up code runs); ``start`` brings it back."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def talking_to(self, port: int, candidates: tuple[str, ...]) -> list[str]:
        """Components with an open TCP connection to 127.0.0.1:``port`` (in any of their processes)."""
        found = []
        for name in candidates:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                for member in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        if any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
                               for c in member.net_connections("tcp")):
                            found.append(name)
                            break
        return found

    def stop(self) -> None:
        stop_process_groups(self.procs.values())


def wait_for(what: str, check: Callable[[], Any], stack: Stack, timeout: float, every: float = 1.0,
             supervise: bool = False) -> Any:
    """Poll ``check`` until truthy; components must stay up (or are restarted with ``supervise``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervise:
            stack.supervise()
        else:
            stack.check_alive()
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{stack.tail()}")
