"""Pick the hook class from a connection's type (the vendor follows from the connection)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from airflow_provider_whatsapp_campaigns._http.core import RequestCore
from airflow_provider_whatsapp_campaigns._http.state import STATE
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.connection_types import FORMS
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook, aread_connection, read_connection

#: Seconds the async path (triggers) reuses a connection it resolved: 10,000 triggers of one
#: connection starting together read it once, and a rotated credential is picked up after this.
CONNECTION_TTL = 60.0


def _monotonic() -> float:
    """Its own name so tests can move time without touching the ``time`` module."""
    return time.monotonic()


def hook_class_for(conn_type: str, conn_id: str | None = None) -> type[WhatsAppCampaignHook]:
    """The hook class registered for a connection type."""
    import importlib

    form = FORMS.get(conn_type)
    if form is None:
        which = f"Connection {conn_id!r} has type {conn_type!r}, which" if conn_id else f"Connection type {conn_type!r}"
        raise ValidationError(
            f"{which} is not a WhatsApp campaign connection; use one of: {', '.join(FORMS)}."
        )
    module, _, name = form.hook_class.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def get_hook(conn_id: str, **kwargs: Any) -> WhatsAppCampaignHook:
    """Pick the vendor hook from the connection's type (reads the connection once)."""
    conn = read_connection(conn_id)
    hook = hook_class_for(conn.conn_type or "", conn_id)(conn_id=conn_id, **kwargs)
    hook.__dict__["connection"] = conn
    return hook


@dataclass(frozen=True)
class ResolvedConnection:
    """A connection as the async path uses it: its type, its parsed settings and their request core
    (one per connection, not one per trigger: the core's compiled secret scrubber is the big part)."""

    conn_type: str
    config: ConnectionConfig
    core: RequestCore
    read_at: float


async def aresolve_connection(conn_id: str) -> ResolvedConnection:
    """The connection, read at most once per :data:`CONNECTION_TTL` per process (in the process
    state, so :func:`~airflow_provider_whatsapp_campaigns._http.state.clear_process_state` forgets it).

    Concurrent callers of one ``conn_id`` wait for the one read under a lock of the running loop.
    A connection that fails to resolve is not kept: the next caller reads it again.
    """

    def fresh(entry: ResolvedConnection | None) -> bool:
        return entry is not None and _monotonic() - entry.read_at < CONNECTION_TTL

    entry = STATE.get("connection", conn_id)
    if fresh(entry):
        return entry  # type: ignore[no-any-return]
    async with STATE.setdefault("connection-lock", conn_id, asyncio.Lock, per_loop=True):
        entry = STATE.get("connection", conn_id)
        if fresh(entry):
            return entry  # type: ignore[no-any-return]
        conn = await aread_connection(conn_id)
        hook = hook_class_for(conn.conn_type or "", conn_id)(conn_id=conn_id)
        hook.__dict__["connection"] = conn
        core = await hook.acore()
        resolved = ResolvedConnection(conn.conn_type or "", core.config, core, _monotonic())
        return STATE.put("connection", conn_id, resolved)


async def aget_hook(conn_id: str, **kwargs: Any) -> WhatsAppCampaignHook:
    """Async twin of :func:`get_hook`: the connection comes from :func:`aresolve_connection`."""
    resolved = await aresolve_connection(conn_id)
    hook = hook_class_for(resolved.conn_type, conn_id)(conn_id=conn_id, **kwargs)
    hook.__dict__["config"] = resolved.config
    hook.__dict__["core"] = resolved.core
    return hook
