"""SPRL: track a campaign made in SPRL's own UI, then export every contact's delivery status.

SPRL has no create/start API, so the provider only *tracks*. What it shows a DAG author:

* the campaign UID comes from a DAG param (``campaign_uid``; trigger form or
  ``airflow dags test sprl_tracking -c '{"campaign_uid": "..."}'``) through Jinja;
* the sensor in reschedule mode frees the worker between pokes and has a timeout: an SPRL
  campaign stuck in ``queued`` never finishes by itself;
* ``stats_options`` / ``contact_options`` pass vendor filters, e.g. another ``account_id``
  than the connection's default, or ``{"status": "failed"}`` to export only failures.

Run it against the sandbox: ``airflow dags test sprl_tracking`` (campaign ``demo-campaign``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models.param import Param

from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCampaignStatsOperator
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor

POLL_INTERVAL = float(os.environ.get("WHATSAPP_EXAMPLE_POLL_INTERVAL", "60"))
AIRFLOW_HOME = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))

# [START howto_sprl_tracking]
with DAG(
    dag_id="sprl_tracking",
    description="Wait for an SPRL campaign to complete, fetch its stats and export its contacts",
    start_date=datetime(2025, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"conn_id": "sprl_default", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={"campaign_uid": Param("demo-campaign", type="string", description="SPRL campaign UID")},
    tags=["whatsapp", "sprl", "example"],
) as dag:
    # [START howto_sensor_whatsapp_campaign_reschedule]
    wait = WhatsAppCampaignSensor(
        task_id="wait_until_completed",
        campaign_id="{{ params.campaign_uid }}",
        mode="reschedule",
        poke_interval=POLL_INTERVAL,
        timeout=timedelta(hours=12),
    )
    # [END howto_sensor_whatsapp_campaign_reschedule]

    stats = WhatsAppCampaignStatsOperator(
        task_id="campaign_stats",
        campaign_id="{{ params.campaign_uid }}",
        # stats_options={"account_id": "another-account-uid"},  # default: the connection extra
    )

    export = WhatsAppExportContactsOperator(
        task_id="export_contacts",
        campaign_id="{{ params.campaign_uid }}",
        path=os.path.join(AIRFLOW_HOME, "exports", "sprl", "{{ params.campaign_uid }}-{{ (dag_run.logical_date or dag_run.run_after) | ds }}.csv"),
        # contact_options={"status": "failed"},  # only the failures
    )

    wait >> stats >> export
# [END howto_sprl_tracking]
