"""Auth strategies: how credentials become headers, and minting them once under a lock."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns._http.flow import Flow, adrive, drive
from airflow_provider_whatsapp_campaigns._http.state import STATE
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


@dataclass
class Tokens:
    """What a :class:`MintedAuth` obtained, shared per process by every hook of the same account.

    ``expires_at`` is a ``time.monotonic()`` deadline after which ``access`` is no longer used
    (infinite for tokens whose lifetime the vendor does not state: a 401 renews those).
    """

    access: str | None = None
    refresh: str | None = None
    refresh_cookie: str | None = None  # set when the server handed the refresh token over as a cookie
    expires_at: float = math.inf

    def usable(self) -> str | None:
        """The access token, while it is still good to use."""
        return self.access if self.access and time.monotonic() < self.expires_at else None

    def forget(self, access: str | None) -> None:
        """Drop the access token if it is still ``access`` (a newer one minted meanwhile stays)."""
        if access is None or self.access == access:
            self.access = None


class MintedAuth(Auth):
    """Credentials obtained by a call (OAuth token, JWT login) and shared per process under ``key``.

    :meth:`prepare`/:meth:`aprepare` obtain them once under a lock keyed by ``key`` (a thread lock
    for sync callers, an asyncio lock per event loop for async ones): many concurrent callers of
    one account cause one mint, not one each. Locks and :class:`Tokens` live in the process
    state (:mod:`.state`), so one call clears them all.
    """

    key: Hashable

    @property
    def tokens(self) -> Tokens:
        return STATE.setdefault("tokens", self.key, Tokens)

    def ready(self) -> bool:
        """True when a usable access token is cached."""
        return self.tokens.usable() is not None

    def obtain(self, core: RequestCore) -> Flow[Any]:
        """The flow that mints or logs in and stores the result in :attr:`tokens`."""
        raise NotImplementedError

    def prepare(self, core: RequestCore) -> None:
        if self.ready():
            return
        with STATE.setdefault("mint-lock", self.key, threading.Lock):
            if not self.ready():
                drive(self.obtain(core), core.request)
                metrics.incr(f"token_mints.{core.vendor}", vendor=core.vendor)

    async def aprepare(self, core: RequestCore) -> None:
        if self.ready():
            return
        async with STATE.setdefault("mint-lock", self.key, asyncio.Lock, per_loop=True):
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
