"""Auth strategies: how credentials become headers, and minting them once under a lock."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns._http.flow import Flow, adrive, drive
from airflow_provider_whatsapp_campaigns.exceptions import AuthenticationError

if TYPE_CHECKING:
    from airflow_provider_whatsapp_campaigns._http.core import RequestCore


class Auth:
    """How one auth scheme turns credentials into headers; may itself make calls (token, login)."""

    def secrets(self) -> list[str]:
        return []

    def prepare(self, core: RequestCore) -> None:
        """Before an authenticated request: a place to mint credentials once under a lock."""

    async def aprepare(self, core: RequestCore) -> None:
        """Async twin of :meth:`prepare` (an asyncio lock per event loop, never a thread lock)."""

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        return {}
        yield  # pragma: no cover - makes this a generator

    def recover(self, core: RequestCore, error: AuthenticationError) -> Flow[bool]:
        """After a 401: refresh credentials; True means "resend once"."""
        return False
        yield  # pragma: no cover


_MINT_GUARD = threading.Lock()
_MINT_LOCKS: dict[Hashable, threading.Lock] = {}
_ASYNC_MINT_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


class MintedAuth(Auth):
    """Credentials obtained by a call (OAuth token, JWT login) and shared per process under ``key``.

    :meth:`prepare`/:meth:`aprepare` obtain them once under a lock keyed by ``key`` (a thread lock
    for sync callers, an asyncio lock per event loop for async ones): many concurrent callers of
    one account cause one mint, not one each.
    """

    key: Hashable

    def ready(self) -> bool:
        """True when usable credentials are cached."""
        raise NotImplementedError

    def obtain(self, core: RequestCore) -> Flow[Any]:
        """The flow that mints or logs in and caches the result."""
        raise NotImplementedError

    def prepare(self, core: RequestCore) -> None:
        if self.ready():
            return
        with _MINT_GUARD:
            lock = _MINT_LOCKS.setdefault(self.key, threading.Lock())
        with lock:
            if not self.ready():
                drive(self.obtain(core), core.request)
                metrics.incr(f"token_mints.{core.vendor}", vendor=core.vendor)

    async def aprepare(self, core: RequestCore) -> None:
        if self.ready():
            return
        per_loop = _ASYNC_MINT_LOCKS.setdefault(asyncio.get_running_loop(), {})
        lock = per_loop.setdefault(self.key, asyncio.Lock())
        async with lock:
            if not self.ready():
                await adrive(self.obtain(core), core.arequest)
                metrics.incr(f"token_mints.{core.vendor}", vendor=core.vendor)


class StaticHeaderAuth(Auth):
    """A fixed key in a header (``Authorization: Bearer …``, ``x-ins-auth-key``, ``X-API-Key``)."""

    def __init__(self, header: str, secret: str, template: str = "{}") -> None:
        self.header, self.secret, self.template = header, secret, template

    def secrets(self) -> list[str]:
        return [self.secret]

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        return {self.header: self.template.format(self.secret)}
        yield  # pragma: no cover
