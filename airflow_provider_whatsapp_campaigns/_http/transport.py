"""Transport pieces: the shared aiohttp sessions and the helpers both transports use."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from airflow_provider_whatsapp_campaigns import __version__

USER_AGENT = f"airflow-provider-whatsapp-campaigns/{__version__}"


@dataclass
class _Lease:
    session: aiohttp.ClientSession
    users: int = 0


_async_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Lease]] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def shared_session(key: str) -> AsyncIterator[aiohttp.ClientSession]:
    """One ``aiohttp`` session per event loop and connection, closed when its last user leaves."""
    per_loop = _async_sessions.setdefault(asyncio.get_running_loop(), {})
    lease = per_loop.get(key)
    if lease is None or lease.session.closed:
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
            connector=aiohttp.TCPConnector(limit=100),
        )
        lease = per_loop[key] = _Lease(session)
    lease.users += 1
    try:
        yield lease.session
    finally:
        lease.users -= 1
        if lease.users == 0:
            per_loop.pop(key, None)
            await lease.session.close()


def open_session_count() -> int:
    """How many shared sessions the running loop holds (for tests and benchmarks)."""
    return len(_async_sessions.get(asyncio.get_running_loop(), {}))


def aiohttp_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    # aiohttp (unlike requests) rejects non-str values and drops nothing: normalise like requests.
    if params is None:
        return None
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items() if v is not None}


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def decode_body(content: bytes, content_type: str | None) -> Any:
    if not content:
        return None
    text = content.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
