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
from airflow_provider_whatsapp_campaigns._http import redis_clients
from airflow_provider_whatsapp_campaigns._http.flow import Flow, adrive, drive
from airflow_provider_whatsapp_campaigns._http.state import STATE
from airflow_provider_whatsapp_campaigns._http.token_share import (
    MINT_LOCK_SECONDS,
    MINT_WAIT_SECONDS,
    TokenShare,
    monotonic_deadline,
    sealed_from,
)
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
    shared: str | None = None  # the access token last read from or written to the connection's Redis

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
    state (:mod:`.state`), so one call clears them all. With the connection's ``redis_url`` the
    processes share them too: one mints under a Redis lock, the others read it (:mod:`.token_share`).
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

    def _share(self, core: RequestCore) -> TokenShare | None:
        url = core.config.redis_url
        if not url:
            return None
        return STATE.setdefault(
            "token-share", (url, self.key), lambda: TokenShare(url, self.key, self.secrets()[0], core.config.conn_id)
        )

    def _adopt(self, core: RequestCore, stored: bytes | None, share: TokenShare) -> bool:
        """Take the tokens another process shared, if any are usable."""
        found = share.open(stored)
        if found is None:
            return False
        core.add_secret(found.access)
        core.add_secret(found.refresh)
        tokens = self.tokens
        tokens.access, tokens.refresh, tokens.refresh_cookie = found.access, found.refresh, found.refresh_cookie
        tokens.expires_at, tokens.shared = monotonic_deadline(found), found.access
        return tokens.usable() is not None

    def _sealed(self, share: TokenShare) -> tuple[str, bytes, int]:
        """This process's tokens as Redis stores them: ``(access, sealed value, TTL in ms)``."""
        tokens = self.tokens
        assert tokens.access is not None
        found = sealed_from(tokens.access, tokens.refresh, tokens.refresh_cookie, tokens.expires_at)
        return tokens.access, share.seal(found), share.ttl_ms(found)

    def _settled(self, core: RequestCore) -> bool:
        """A usable token that no other process needs to hear about (the check before every request)."""
        tokens = self.tokens
        return tokens.usable() is not None and (not core.config.redis_url or tokens.shared == tokens.access)

    def _mint(self, core: RequestCore) -> None:
        drive(self.obtain(core), core.request)
        metrics.incr(f"token_mints.{core.vendor}", vendor=core.vendor)

    async def _amint(self, core: RequestCore) -> None:
        await adrive(self.obtain(core), core.arequest)
        metrics.incr(f"token_mints.{core.vendor}", vendor=core.vendor)

    def prepare(self, core: RequestCore) -> None:
        if self._settled(core):
            return
        with STATE.setdefault("mint-lock", self.key, threading.Lock):
            if self._settled(core):  # another thread did it while this one waited
                return
            share = self._share(core)
            if share is None:
                self._mint(core)
                return
            try:
                self._prepare_shared(core, share)
            except redis_clients.redis_error() as exc:
                share.unreachable(exc)
                if not self.ready():
                    self._mint(core)
                self.tokens.shared = self.tokens.access  # not retried on every request: on the next mint

    def _prepare_shared(self, core: RequestCore, share: TokenShare) -> None:
        client = redis_clients.client(share.redis_url)
        if self.ready():  # minted here after a 401: tell the others
            access, value, ttl_ms = self._sealed(share)
            client.set(share.name, value, px=ttl_ms)
            self.tokens.shared = access
            return
        if self._adopt(core, client.get(share.name), share):
            return
        lock = client.lock(share.lock_name, timeout=MINT_LOCK_SECONDS, blocking_timeout=MINT_WAIT_SECONDS)
        held = lock.acquire()
        try:
            if held and self._adopt(core, client.get(share.name), share):
                return  # minted by the process that held the lock
            self._mint(core)
            access, value, ttl_ms = self._sealed(share)
            client.set(share.name, value, px=ttl_ms)
            self.tokens.shared = access
        finally:
            if held:
                lock.release()

    async def aprepare(self, core: RequestCore) -> None:
        if self._settled(core):
            return
        async with STATE.setdefault("mint-lock", self.key, asyncio.Lock, per_loop=True):
            if self._settled(core):
                return
            share = self._share(core)
            if share is None:
                await self._amint(core)
                return
            try:
                await self._aprepare_shared(core, share)
            except redis_clients.redis_error() as exc:
                share.unreachable(exc)
                if not self.ready():
                    await self._amint(core)
                self.tokens.shared = self.tokens.access

    async def _aprepare_shared(self, core: RequestCore, share: TokenShare) -> None:
        client = redis_clients.aclient(share.redis_url)
        if self.ready():
            access, value, ttl_ms = self._sealed(share)
            await client.set(share.name, value, px=ttl_ms)
            self.tokens.shared = access
            return
        if self._adopt(core, await client.get(share.name), share):
            return
        lock = client.lock(share.lock_name, timeout=MINT_LOCK_SECONDS, blocking_timeout=MINT_WAIT_SECONDS)
        held = await lock.acquire()
        try:
            if held and self._adopt(core, await client.get(share.name), share):
                return
            await self._amint(core)
            access, value, ttl_ms = self._sealed(share)
            await client.set(share.name, value, px=ttl_ms)
            self.tokens.shared = access
        finally:
            if held:
                await lock.release()


class StaticHeaderAuth(Auth):
    """A fixed key in a header (``Authorization: Bearer …``, ``x-ins-auth-key``, ``X-API-Key``)."""

    def __init__(self, header: str, secret: str, template: str = "{}") -> None:
        self.header, self.secret, self.template = header, secret, template

    def secrets(self) -> list[str]:
        return [self.secret]

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        return {self.header: self.template.format(self.secret)}
        yield  # pragma: no cover
