"""Whatomate: create from a file → start → deferred sensor → stats → export; retried on failure."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCampaignStatsOperator,
    WhatsAppCreateCampaignOperator,
    WhatsAppStartCampaignOperator,
)
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor

with DAG(
    "whatomate_lifecycle",
    start_date=pendulum.datetime(2024, 1, 1),
    schedule=None,
    params={"recipients_file": "", "export_path": "", "conn_id": "whatomate_default"},
    default_args={"conn_id": "{{ params.conn_id }}", "retries": 2, "retry_delay": timedelta(0)},
) as dag:
    create = WhatsAppCreateCampaignOperator(
        task_id="create", name="Welcome {{ ds }}", template="welcome_v2", recipients="{{ params.recipients_file }}"
    )
    start = WhatsAppStartCampaignOperator(task_id="start", campaign_id=create.output)
    wait = WhatsAppCampaignSensor(
        task_id="wait", campaign_id=create.output, deferrable=True, poke_interval=1, timeout=120
    )
    stats = WhatsAppCampaignStatsOperator(task_id="stats", campaign_id=create.output)
    export = WhatsAppExportContactsOperator(
        task_id="export", campaign_id=create.output, path="{{ params.export_path }}"
    )
    create >> start >> wait >> stats >> export
