"""Full lifecycle of a WhatsApp campaign on Whatomate: create → start → wait (deferred) → stats → export.

What it shows a DAG author:

* the vendor is picked by the connection (``whatomate_default`` here: change ``conn_id`` in
  ``default_args`` to ``whatomate_jwt_default`` or to your own connection, nothing else changes);
* recipients come from a CSV file (``phone,name,<template variables>…``), validated to E.164
  before any request is made;
* the campaign id flows from task to task through XCom (``create.output`` is an ``XComArg``);
* ``WhatsAppCampaignSensor(deferrable=True)`` waits in the triggerer, holding no worker slot;
* the per-recipient export lands in a templated path under the Airflow home;
* the final ``@task`` reads the normalized stats (``CampaignStats.to_dict()``) from XCom.

Try it against the local sandbox (fake vendor APIs, demo credentials)::

    make demo            # does all of the below for you
    # or by hand:
    python -m airflow_provider_whatsapp_campaigns.sandbox --port 8765   # prints AIRFLOW_CONN_* lines
    airflow dags test whatsapp_campaign_lifecycle

Environment knobs (only for demos and tests; real DAGs hard-code what they need):
``WHATSAPP_EXAMPLE_POLL_INTERVAL`` (seconds between status polls, default 30) and
``WHATSAPP_EXAMPLE_RECIPIENTS`` (path of the recipients file, default the bundled 50-row CSV).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCampaignStatsOperator,
    WhatsAppCreateCampaignOperator,
    WhatsAppStartCampaignOperator,
)
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor

RECIPIENTS_FILE = os.environ.get(
    "WHATSAPP_EXAMPLE_RECIPIENTS", str(Path(__file__).parent / "data" / "recipients.csv")
)
POLL_INTERVAL = float(os.environ.get("WHATSAPP_EXAMPLE_POLL_INTERVAL", "30"))
AIRFLOW_HOME = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))
EXPORT_DIR = os.path.join(AIRFLOW_HOME, "exports", "whatsapp_campaign_lifecycle")

# The run's day. Airflow 3 runs triggered without a logical date (UI button, `airflow dags trigger`)
# have no `ds`/`logical_date`; `run_after` is always set there, and Airflow 2 always has a logical date.
RUN_DAY = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"

STATS_COLUMNS = ("total", "sent", "delivered", "read", "clicked", "replied", "failed", "pending")
RATE_COLUMNS = ("delivery_rate", "read_rate", "click_rate", "failure_rate")


def format_stats_table(stats: dict) -> str:
    """The normalized stats as a two-column text table ('–' where the vendor reports nothing)."""
    lines = [
        f"{stats['provider']} campaign {stats['campaign_id']} ({stats.get('name') or 'unnamed'})",
        f"  {'status':<14}{stats['status']} (vendor: {stats['vendor_status']})",
    ]
    for key in STATS_COLUMNS:
        value = stats.get(key)
        lines.append(f"  {key:<14}{'–' if value is None else f'{value:,}':>10}")
    for key in RATE_COLUMNS:
        value = stats.get(key)
        lines.append(f"  {key:<14}{'–' if value is None else f'{value:.1%}':>10}")
    return "\n".join(lines)


# [START howto_whatsapp_campaign_lifecycle]
with DAG(
    dag_id="whatsapp_campaign_lifecycle",
    description="Create a Whatomate campaign from a CSV, send it, wait in the triggerer, report and export",
    start_date=datetime(2025, 1, 1),
    schedule=None,
    catchup=False,
    default_args={
        "conn_id": "whatomate_default",  # every WhatsApp operator below reads it from here
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    },
    tags=["whatsapp", "example"],
) as dag:
    # [START howto_operator_whatsapp_create_campaign]
    create = WhatsAppCreateCampaignOperator(
        task_id="create_campaign",
        name="Spring sale " + RUN_DAY,  # templated; a retry adopts the campaign it already made
        template="spring_sale_v2",  # the template's name (or its UUID); resolved on the account
        recipients=RECIPIENTS_FILE,  # or a list: ["+4479460...", {"phone": ..., "name": ...}]
        template_params={"1": "SPRING25"},
        # account="my-whatsapp-account",  # defaults to the connection extra `whatsapp_account`
    )
    # [END howto_operator_whatsapp_create_campaign]

    # [START howto_operator_whatsapp_start_campaign]
    start = WhatsAppStartCampaignOperator(
        task_id="start_campaign",
        campaign_id=create.output,  # XComArg: the id returned by create_campaign
    )
    # [END howto_operator_whatsapp_start_campaign]

    # [START howto_sensor_whatsapp_campaign_deferrable]
    wait = WhatsAppCampaignSensor(
        task_id="wait_until_completed",
        campaign_id=create.output,
        deferrable=True,  # polls from the triggerer; no worker slot held while sending
        poke_interval=POLL_INTERVAL,
        timeout=timedelta(hours=2),  # a stuck campaign fails the task instead of waiting forever
    )
    # [END howto_sensor_whatsapp_campaign_deferrable]

    # [START howto_operator_whatsapp_campaign_stats]
    stats = WhatsAppCampaignStatsOperator(
        task_id="campaign_stats",
        campaign_id="{{ ti.xcom_pull(task_ids='create_campaign') }}",  # Jinja works as well as XComArg
    )
    # [END howto_operator_whatsapp_campaign_stats]

    # [START howto_operator_whatsapp_export_contacts]
    export = WhatsAppExportContactsOperator(
        task_id="export_recipients",
        campaign_id=create.output,
        path=EXPORT_DIR + "/" + RUN_DAY + "/campaign-{{ ti.xcom_pull(task_ids='create_campaign') }}.csv",
    )
    # [END howto_operator_whatsapp_export_contacts]

    @task
    def print_stats_table(final_stats: dict, exported: dict) -> dict:
        """Print the normalized stats; returns them so tests and downstream tasks can use them."""
        print(format_stats_table(final_stats))
        print(f"recipients export: {exported['path']} ({exported['rows']} rows)")
        return {"stats": final_stats, "export": exported}

    start >> wait >> stats
    stats >> export
    print_stats_table(stats.output, export.output)
# [END howto_whatsapp_campaign_lifecycle]
