"""Operators: one set for every vendor (the vendor follows from ``conn_id``), plus Insider's
transactional statistics. Imported on first use (see :mod:`airflow_provider_whatsapp_campaigns._lazy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_whatsapp_campaigns._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_whatsapp_campaigns.operators.campaign import (
        WhatsAppCampaignStatsOperator,
        WhatsAppCancelCampaignOperator,
        WhatsAppCreateCampaignOperator,
        WhatsAppPauseCampaignOperator,
        WhatsAppStartCampaignOperator,
    )
    from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
    from airflow_provider_whatsapp_campaigns.operators.insider import InsiderTransactionalStatsOperator

_CAMPAIGN = "airflow_provider_whatsapp_campaigns.operators.campaign"
__all__ = [
    "InsiderTransactionalStatsOperator",
    "WhatsAppCampaignStatsOperator",
    "WhatsAppCancelCampaignOperator",
    "WhatsAppCreateCampaignOperator",
    "WhatsAppExportContactsOperator",
    "WhatsAppPauseCampaignOperator",
    "WhatsAppStartCampaignOperator",
]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            (
                "WhatsAppCampaignStatsOperator",
                "WhatsAppCancelCampaignOperator",
                "WhatsAppCreateCampaignOperator",
                "WhatsAppPauseCampaignOperator",
                "WhatsAppStartCampaignOperator",
            ),
            _CAMPAIGN,
        ),
        "WhatsAppExportContactsOperator": "airflow_provider_whatsapp_campaigns.operators.export",
        "InsiderTransactionalStatsOperator": "airflow_provider_whatsapp_campaigns.operators.insider",
    },
)
