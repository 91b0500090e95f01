"""Waplify: create → send and wait (deferred) → stats; sensor deferring on its own."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCampaignStatsOperator,
    WhatsAppCreateCampaignOperator,
    WhatsAppStartCampaignOperator,
)
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor

with DAG(
    "waplify_lifecycle",
    start_date=pendulum.datetime(2024, 1, 1),
    schedule=None,
    params={"recipients": ["+14155550101", "+14155550102", "+14155550103"], "split": "refuse"},
    default_args={"conn_id": "waplify_default"},
) as dag:
    create = WhatsAppCreateCampaignOperator(
        task_id="create", name="Spring sale {{ ds }}", template="promo_v1", recipients="{{ params.recipients }}"
    )
    start = WhatsAppStartCampaignOperator(
        task_id="start",
        campaign_id=create.output,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=1,
        timeout=120,
    )
    wait = WhatsAppCampaignSensor(
        task_id="wait", campaign_id=create.output, deferrable=True, poke_interval=1, timeout=120
    )
    stats = WhatsAppCampaignStatsOperator(task_id="stats", campaign_id=create.output)
    create >> start >> wait >> stats
