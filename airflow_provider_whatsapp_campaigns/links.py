"""Operator extra link to the vendor's campaign page (pushed to XCom before any wait, P8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns.version_compat import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

CAMPAIGN_URL_KEY = "campaign_url"


class WhatsAppCampaignLink(BaseOperatorLink):
    """Opens the campaign in the vendor's UI, where the vendor has one (Whatomate)."""

    name = "WhatsApp campaign"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        return XCom.get_value(key=CAMPAIGN_URL_KEY, ti_key=ti_key) or ""
