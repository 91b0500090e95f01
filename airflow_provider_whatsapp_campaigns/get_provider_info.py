"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Imports nothing from Airflow: a broken import here would break every ``airflow`` command.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_whatsapp_campaigns.connection_types import FORMS, PACKAGE


def get_provider_info() -> dict[str, Any]:
    from airflow_provider_whatsapp_campaigns import __version__

    return {
        "package-name": "airflow-provider-whatsapp-campaigns",
        "name": "WhatsApp Campaigns",
        "description": "Create, start, watch and report on WhatsApp campaigns (SPRL, Insider One, Whatomate, Waplify).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "WhatsApp Campaigns",
                "external-doc-url": "https://github.com/airflow-provider-whatsapp-campaigns/airflow-provider-whatsapp-campaigns",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "WhatsApp Campaigns",
                "python-modules": [
                    f"{PACKAGE}.hooks.base",
                    f"{PACKAGE}.hooks.sprl",
                    f"{PACKAGE}.hooks.insider",
                    f"{PACKAGE}.hooks.whatomate",
                    f"{PACKAGE}.hooks.waplify",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "WhatsApp Campaigns",
                "python-modules": [
                    f"{PACKAGE}.operators.common",
                    f"{PACKAGE}.operators.campaign",
                    f"{PACKAGE}.operators.idempotency",
                    f"{PACKAGE}.operators.insider",
                    f"{PACKAGE}.operators.export",
                    f"{PACKAGE}.operators.sql",
                ],
            }
        ],
        "sensors": [{"integration-name": "WhatsApp Campaigns", "python-modules": [f"{PACKAGE}.sensors.campaign"]}],
        "triggers": [{"integration-name": "WhatsApp Campaigns", "python-modules": [f"{PACKAGE}.triggers.campaign", f"{PACKAGE}.triggers.finished"]}],
        "connection-types": [form.provider_info() for form in FORMS.values()],
        "extra-links": [f"{PACKAGE}.links.WhatsAppCampaignLink"],
    }
