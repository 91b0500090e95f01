"""Pick the hook class from a connection's type (the vendor follows from the connection)."""

from __future__ import annotations

from typing import Any

from airflow_provider_whatsapp_campaigns.connection_types import FORMS
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.version_compat import BaseHook


def hook_class_for(conn_type: str) -> type[WhatsAppCampaignHook]:
    """The hook class registered for a connection type."""
    import importlib

    form = FORMS.get(conn_type)
    if form is None:
        raise ValidationError(
            f"Connection type {conn_type!r} is not a WhatsApp campaign connection; use one of: {', '.join(FORMS)}."
        )
    module, _, name = form.hook_class.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def get_hook(conn_id: str, **kwargs: Any) -> WhatsAppCampaignHook:
    """Pick the vendor hook from the connection's type (reads the connection once)."""
    conn = BaseHook.get_connection(conn_id)
    hook = hook_class_for(conn.conn_type or "")(conn_id=conn_id, **kwargs)
    hook.__dict__["connection"] = conn
    return hook


async def aget_hook(conn_id: str, **kwargs: Any) -> WhatsAppCampaignHook:
    from airflow.providers.common.compat.connection import get_async_connection

    conn = await get_async_connection(conn_id)
    hook = hook_class_for(conn.conn_type or "")(conn_id=conn_id, **kwargs)
    hook.__dict__["connection"] = conn
    return hook
