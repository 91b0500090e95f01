"""Pick the hook class from a connection's type (the vendor follows from the connection)."""

from __future__ import annotations

from typing import Any

from airflow_provider_whatsapp_campaigns.connection_types import FORMS
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook, aread_connection, read_connection


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


async def aget_hook(conn_id: str, **kwargs: Any) -> WhatsAppCampaignHook:
    conn = await aread_connection(conn_id)
    hook = hook_class_for(conn.conn_type or "", conn_id)(conn_id=conn_id, **kwargs)
    hook.__dict__["connection"] = conn
    return hook
