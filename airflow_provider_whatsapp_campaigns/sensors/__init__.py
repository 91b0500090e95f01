"""Sensors: :class:`WhatsAppCampaignSensor` (poke, reschedule or deferrable), imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_whatsapp_campaigns._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor

__all__ = ["WhatsAppCampaignSensor"]
__getattr__, __dir__ = lazy_exports(
    __name__, {"WhatsAppCampaignSensor": "airflow_provider_whatsapp_campaigns.sensors.campaign"}
)
