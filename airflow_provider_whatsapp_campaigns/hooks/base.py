"""Public import path of the vendor-neutral hook API (DAGs import from here; the code is in ``vendors``)."""

from airflow_provider_whatsapp_campaigns._http.flow import Call
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.registry import aget_hook, get_hook, hook_class_for
from airflow_provider_whatsapp_campaigns.vendors.spec import CampaignSpec, CreatedCampaign, Recipient

__all__ = [
    "Call",
    "CampaignSpec",
    "CreatedCampaign",
    "Recipient",
    "WhatsAppCampaignHook",
    "aget_hook",
    "get_hook",
    "hook_class_for",
]
