"""Waplify's 10,000-contact cap: the default refuses, split="parts" makes several campaigns."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCreateCampaignOperator

with DAG(
    "waplify_split",
    start_date=pendulum.datetime(2024, 1, 1),
    schedule=None,
    params={"recipients_file": ""},
    default_args={"conn_id": "waplify_default"},
) as dag:
    WhatsAppCreateCampaignOperator(
        task_id="refuse", name="Big", template="promo_v1", recipients="{{ params.recipients_file }}"
    )
    WhatsAppCreateCampaignOperator(
        task_id="parts", name="Big", template="promo_v1", recipients="{{ params.recipients_file }}", split="parts"
    )
