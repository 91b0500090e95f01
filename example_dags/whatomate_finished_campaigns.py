"""Event-driven (Airflow 3): one report run per Whatomate campaign that finishes — no sensor, no polling DAG.

An ``AssetWatcher`` runs ``WhatsAppFinishedCampaignsTrigger`` in the triggerer: it lists the
account's campaigns every ``poll_interval`` and emits one asset event per campaign that reached
``completed``, ``failed`` or ``cancelled`` since the watcher first ran (each exactly once, also across
triggerer restarts). The events queue runs of ``whatomate_finished_campaign_report`` (events that
arrive together may share one run), which reads each campaign's id and normalized stats from
``triggering_asset_events``.

Try it against the sandbox (``make demo-ui`` runs a scheduler and a triggerer): start a Whatomate
campaign; when it finishes, a report run appears. On Airflow 2.11 the asset has no watcher
(event-driven scheduling is Airflow 3) and the DAG only runs when triggered by hand.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import Asset

try:  # Airflow 3
    from airflow.sdk import DAG, AssetWatcher, task
except ImportError:  # Airflow 2.11: no AssetWatcher
    from airflow import DAG
    from airflow.decorators import task

    AssetWatcher = None

POLL_INTERVAL = float(os.environ.get("WHATSAPP_EXAMPLE_POLL_INTERVAL", "60"))

# [START howto_whatsapp_finished_campaigns_watcher]
if AssetWatcher is not None:
    from airflow_provider_whatsapp_campaigns.triggers.finished import WhatsAppFinishedCampaignsTrigger

    FINISHED_CAMPAIGNS = Asset(
        "whatomate_finished_campaigns",
        watchers=[
            AssetWatcher(
                name="whatomate_demo_account",
                trigger=WhatsAppFinishedCampaignsTrigger(
                    conn_id="whatomate_default", whatsapp_account="demo-account", poll_interval=POLL_INTERVAL
                ),
            )
        ],
    )
else:
    FINISHED_CAMPAIGNS = Asset("whatomate_finished_campaigns")

with DAG(
    dag_id="whatomate_finished_campaign_report",
    description="Reports the Whatomate campaigns that reached a final state",
    start_date=datetime(2025, 1, 1),
    schedule=[FINISHED_CAMPAIGNS],
    catchup=False,
    tags=["whatsapp", "whatomate", "example"],
) as dag:

    @task
    def report(triggering_asset_events=None) -> list[dict]:
        """One line per finished campaign that started this run (its id, final status, counters)."""
        finished = []
        for asset_events in (triggering_asset_events or {}).values():
            for event in asset_events:
                payload = event.extra.get("payload", {})  # what the trigger yielded
                stats = payload.get("stats", {})
                print(f"campaign {payload.get('campaign_id')} {payload.get('status')}: "
                      f"{stats.get('sent')} of {stats.get('total')} sent, {stats.get('failed')} failed")
                finished.append({"campaign_id": payload.get("campaign_id"), "status": payload.get("status"),
                                 "sent": stats.get("sent"), "failed": stats.get("failed")})
        return finished

    report()
# [END howto_whatsapp_finished_campaigns_watcher]
