"""Runs when the daily report lands: scheduled on its Assets, not on a clock or a sensor.

``whatsapp_daily_report`` declares two outlets, the warehouse table and the report files; each
success emits an asset event whose ``extra`` says what was written (table, run id, rows / file
paths). This DAG starts when **both** have a new event and reads those extras — the hand-off from
reporting to whatever comes next (a dashboard refresh, an e-mail, a dbt model).

Try it against the sandbox: ``airflow dags test whatsapp_daily_report`` with a scheduler running
(or ``airflow dags trigger``), then see ``whatsapp_report_consumer`` queued by the asset events.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import Asset

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

# The same Assets whatsapp_daily_report declares as outlets (an Asset is identified by its name/URI).
STATS_TABLE_ASSET = Asset("whatsapp_campaign_stats")
REPORT_FILES_ASSET = Asset("whatsapp_daily_report_files")

# [START howto_whatsapp_asset_consumer]
with DAG(
    dag_id="whatsapp_report_consumer",
    description="Starts when the daily WhatsApp report has reached the warehouse and the report files",
    start_date=datetime(2025, 1, 1),
    schedule=[STATS_TABLE_ASSET, REPORT_FILES_ASSET],  # both must have a new event
    catchup=False,
    tags=["whatsapp", "example"],
) as dag:

    @task
    def what_arrived(triggering_asset_events=None, triggering_dataset_events=None) -> dict:
        """The extras of the events that started this run (Airflow 3 and 2.11 names)."""
        events = triggering_asset_events or triggering_dataset_events or {}
        arrived = {}
        for asset, asset_events in events.items():
            name = getattr(asset, "name", None) or getattr(asset, "uri", str(asset))
            arrived[name] = [dict(event.extra) for event in asset_events]
        print(arrived)
        return arrived

    what_arrived()
# [END howto_whatsapp_asset_consumer]
