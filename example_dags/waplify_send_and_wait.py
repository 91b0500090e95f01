"""Waplify: create a campaign from an inline list, send it, and wait for the end in the triggerer.

What it shows a DAG author:

* recipients given inline (strings or ``{"phone", "name", "params"}`` dicts), validated to
  E.164 first (``default_region`` lets local numbers through);
* ``WhatsAppStartCampaignOperator(wait_for_completion=True, deferrable=True)``: one task sends
  and waits; the wait runs in the triggerer and the task returns the final normalized stats;
* Waplify advises polling every 30–60 s; the sandbox is faster, so the poll interval is an
  environment knob here (``WHATSAPP_EXAMPLE_POLL_INTERVAL``, default 30).

Run it against the sandbox: ``airflow dags test waplify_send_and_wait``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCreateCampaignOperator,
    WhatsAppStartCampaignOperator,
)

POLL_INTERVAL = float(os.environ.get("WHATSAPP_EXAMPLE_POLL_INTERVAL", "30"))

# [START howto_waplify_send_and_wait]
with DAG(
    dag_id="waplify_send_and_wait",
    description="Create a Waplify campaign, send it and wait (deferred) until it completes",
    start_date=datetime(2025, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"conn_id": "waplify_default", "retries": 1, "retry_delay": timedelta(minutes=1)},
    tags=["whatsapp", "waplify", "example"],
) as dag:
    create = WhatsAppCreateCampaignOperator(
        task_id="create_campaign",
        name="Order reminders {{ (dag_run.logical_date or dag_run.run_after) | ds }}",  # Airflow 3: no ds without a logical date
        template="order_reminder",
        recipients=[
            "+447946000101",
            {"phone": "+4915123000102", "name": "Bruno"},
            {"phone": "020 7946 0103", "name": "Chen"},  # local UK number → +442079460103
            {"phone": "+919876500104", "name": "Dara", "params": {"order": "A-104"}},
        ],
        default_region="GB",
        # waba_phone_id defaults to the connection extra; vendor_options reach the create body as-is:
        vendor_options={"description": "created by Airflow"},
    )

    # [START howto_operator_whatsapp_start_and_wait_deferrable]
    send = WhatsAppStartCampaignOperator(
        task_id="send_and_wait",
        campaign_id=create.output,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
    )
    # [END howto_operator_whatsapp_start_and_wait_deferrable]

    @task
    def summary(stats: dict) -> dict:
        print(f"Waplify campaign {stats['campaign_id']}: {stats['status']}, "
              f"{stats['delivered']}/{stats['total']} delivered, {stats['read']} read, {stats['failed']} failed")
        return stats

    summary(send.output)
# [END howto_waplify_send_and_wait]
