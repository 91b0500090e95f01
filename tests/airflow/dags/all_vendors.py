"""Stats of every vendor, Insider's settled sensor, transactional stats, Whatomate pause/cancel."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCampaignStatsOperator,
    WhatsAppCancelCampaignOperator,
    WhatsAppPauseCampaignOperator,
)
from airflow_provider_whatsapp_campaigns.operators.insider import InsiderTransactionalStatsOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor

with DAG(
    "all_vendors",
    start_date=pendulum.datetime(2024, 1, 1),
    schedule=None,
    params={"waplify_id": "", "whatomate_id": "", "running_id": ""},
) as dag:
    WhatsAppCampaignStatsOperator(task_id="sprl", conn_id="sprl_default", campaign_id="demo-campaign")
    WhatsAppCampaignStatsOperator(task_id="insider", conn_id="insider_whatsapp_default", campaign_id="1001")
    WhatsAppCampaignStatsOperator(task_id="insider_oauth", conn_id="insider_whatsapp_oauth_default", campaign_id="1002")
    WhatsAppCampaignStatsOperator(task_id="waplify", conn_id="waplify_default", campaign_id="{{ params.waplify_id }}")
    WhatsAppCampaignStatsOperator(
        task_id="whatomate", conn_id="whatomate_jwt_default", campaign_id="{{ params.whatomate_id }}"
    )
    WhatsAppCampaignSensor(
        task_id="insider_settled",
        conn_id="insider_whatsapp_default",
        campaign_id="1001",
        completion="settled",
        settle_polls=2,
        poke_interval=1,
        timeout=60,
        mode="poke",
    )
    InsiderTransactionalStatsOperator(
        task_id="transactional",
        conn_id="insider_whatsapp_default",
        start_time="2024-01-01T00:00:00+00:00",
        end_time="2024-03-01T00:00:00+00:00",
    )
    pause = WhatsAppPauseCampaignOperator(
        task_id="pause", conn_id="whatomate_default", campaign_id="{{ params.running_id }}", conn_type="whatomate"
    )
    cancel = WhatsAppCancelCampaignOperator(
        task_id="cancel", conn_id="whatomate_default", campaign_id="{{ params.running_id }}"
    )
    pause >> cancel
