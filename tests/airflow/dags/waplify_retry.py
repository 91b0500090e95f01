"""Waplify create split in two parts, retried by Airflow when the second part's create fails."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCreateCampaignOperator

with DAG(
    "waplify_retry",
    start_date=pendulum.datetime(2024, 1, 1),
    schedule=None,
    params={"recipients_file": ""},
    default_args={"conn_id": "waplify_default", "retries": 1, "retry_delay": timedelta(0)},
) as dag:
    WhatsAppCreateCampaignOperator(
        task_id="create", name="Retry", template="promo_v1", recipients="{{ params.recipients_file }}", split="parts"
    )
