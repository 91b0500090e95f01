"""Run the sandbox in a background thread with its own event loop (tests, demo, notebooks)."""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.client import SandboxAdmin
from airflow_provider_whatsapp_campaigns.sandbox.connections import airflow_connections, base_url
from airflow_provider_whatsapp_campaigns.sandbox.server import create_app


class SandboxServer:
    """``with SandboxServer() as sb: sb.base_url("waplify")`` - loopback only, free port."""

    def __init__(self, seed: int = 0, state_file: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.seed, self.state_file, self.host, self.port = seed, state_file, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._admin: SandboxAdmin | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def admin(self) -> SandboxAdmin:
        if self._admin is None:
            self._admin = SandboxAdmin(self.url)
        return self._admin

    def base_url(self, vendor: str) -> str:
        """Base URL for ``sprl``, ``insider``, ``insider_oauth``, ``whatomate`` or ``waplify``."""
        return base_url(self.url, vendor)

    def airflow_connections(self) -> dict[str, str]:
        return airflow_connections(self.url)

    def start(self) -> SandboxServer:
        """Bind first (so the port is known and race-free), then serve from a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []

        async def serve() -> None:
            self._runner = web.AppRunner(create_app(self.seed, self.state_file), access_log=None)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # surfaced to start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="whatsapp-sandbox", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise RuntimeError("sandbox failed to start") from errors[0]
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        loop, runner = self._loop, self._runner
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(30)
        loop.close()
        self._loop = self._thread = self._runner = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
