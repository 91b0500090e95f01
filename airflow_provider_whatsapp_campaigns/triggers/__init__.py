"""Triggers: :class:`WhatsAppCampaignTrigger` (the deferred wait) and :class:`WhatsAppFinishedCampaignsTrigger`
(Airflow 3 asset watcher), imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_whatsapp_campaigns._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
    from airflow_provider_whatsapp_campaigns.triggers.finished import WhatsAppFinishedCampaignsTrigger

__all__ = ["WhatsAppCampaignTrigger", "WhatsAppFinishedCampaignsTrigger"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "WhatsAppCampaignTrigger": "airflow_provider_whatsapp_campaigns.triggers.campaign",
        "WhatsAppFinishedCampaignsTrigger": "airflow_provider_whatsapp_campaigns.triggers.finished",
    },
)
