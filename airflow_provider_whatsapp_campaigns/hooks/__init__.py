"""Hooks: ``get_hook(conn_id)`` picks the vendor's hook from the connection's type.

Public names: :func:`get_hook` / :func:`aget_hook`, the vendor-neutral :class:`WhatsAppCampaignHook`
with :class:`CampaignSpec`, :class:`Recipient` and :class:`CreatedCampaign`, and one class per
vendor (``SprlHook``, ``InsiderHook``, ``InsiderOAuthHook``, ``WhatomateHook``, ``WhatomateJwtHook``,
``WaplifyHook``). Each is imported on first use, so Airflow importing one vendor's module does not
load the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_whatsapp_campaigns._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_whatsapp_campaigns.hooks.base import (
        CampaignSpec,
        CreatedCampaign,
        Recipient,
        WhatsAppCampaignHook,
        aget_hook,
        get_hook,
    )
    from airflow_provider_whatsapp_campaigns.hooks.insider import InsiderHook, InsiderOAuthHook
    from airflow_provider_whatsapp_campaigns.hooks.sprl import SprlHook
    from airflow_provider_whatsapp_campaigns.hooks.waplify import WaplifyHook
    from airflow_provider_whatsapp_campaigns.hooks.whatomate import WhatomateHook, WhatomateJwtHook

_HOOKS = "airflow_provider_whatsapp_campaigns.hooks"
__all__ = [
    "CampaignSpec",
    "CreatedCampaign",
    "InsiderHook",
    "InsiderOAuthHook",
    "Recipient",
    "SprlHook",
    "WaplifyHook",
    "WhatomateHook",
    "WhatomateJwtHook",
    "WhatsAppCampaignHook",
    "aget_hook",
    "get_hook",
]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            ("CampaignSpec", "CreatedCampaign", "Recipient", "WhatsAppCampaignHook", "aget_hook", "get_hook"),
            f"{_HOOKS}.base",
        ),
        "InsiderHook": f"{_HOOKS}.insider",
        "InsiderOAuthHook": f"{_HOOKS}.insider",
        "SprlHook": f"{_HOOKS}.sprl",
        "WaplifyHook": f"{_HOOKS}.waplify",
        "WhatomateHook": f"{_HOOKS}.whatomate",
        "WhatomateJwtHook": f"{_HOOKS}.whatomate",
    },
)
