"""DAGs of the system suite; everything variable (connection, campaign ids, paths) comes from the run's conf.

- ``system_waits`` / ``system_waits_fast``: start N campaigns and wait for each in the triggerer
  (deferrable), while ``stats_burst`` tasks on the Celery workers read stats through the same
  connection budget.
- ``system_sensor_waits``: deferrable sensors on campaigns someone else started (Insider: "settled").
- ``system_create_export``: create a campaign from a recipients file, then export its recipients.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, get_current_context, task

from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCreateCampaignOperator,
    WhatsAppStartCampaignOperator,
)
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor

POLL = float(os.environ.get("WHATSAPP_SYSTEM_POLL", "1"))
#: the budget scenario polls fast enough to ask for twice the connection's budget
FAST_POLL = float(os.environ.get("WHATSAPP_SYSTEM_FAST_POLL", "0.1"))
DEFAULTS: dict[str, Any] = {"retries": 3, "retry_delay": timedelta(seconds=2)}
COMMON: dict[str, Any] = {
    "schedule": None,
    "start_date": datetime(2026, 1, 1),
    "catchup": False,
    "max_active_tasks": 5000,
    "max_active_runs": 8,
    "default_args": DEFAULTS,
}


def _conf() -> dict[str, Any]:
    return dict(get_current_context()["dag_run"].conf or {})


@task
def campaign_ids() -> list[str]:
    return [str(i) for i in _conf()["campaign_ids"]]


@task
def bursts() -> list[int]:
    return list(range(int(_conf().get("bursts", 0))))


@task
def stats_burst(burst: int) -> int:
    """Read stats of every campaign ``burst_calls`` times through the worker's (sync) limiter."""
    from airflow_provider_whatsapp_campaigns.hooks.base import get_hook

    conf = _conf()
    hook = get_hook(conf["conn_id"])
    calls = 0
    ids = [str(i) for i in conf["campaign_ids"]]
    for _ in range(int(conf.get("burst_calls", 1))):
        for campaign_id in ids:
            hook.get_campaign_stats(campaign_id)
            calls += 1
    return calls


for dag_id, poll in (("system_waits", POLL), ("system_waits_fast", FAST_POLL)):
    with DAG(dag_id, **COMMON):
        WhatsAppStartCampaignOperator.partial(
            task_id="wait",
            conn_id="{{ dag_run.conf['conn_id'] }}",
            wait_for_completion=True,
            deferrable=True,
            poll_interval=poll,
        ).expand(campaign_id=campaign_ids())
        stats_burst.expand(burst=bursts())


with DAG("system_sensor_waits", **COMMON):
    WhatsAppCampaignSensor.partial(
        task_id="wait",
        conn_id="{{ dag_run.conf['conn_id'] }}",
        completion="settled",
        deferrable=True,
        poke_interval=POLL,
    ).expand(campaign_id=campaign_ids())


with DAG("system_create_export", **COMMON):
    created = WhatsAppCreateCampaignOperator(
        task_id="create",
        conn_id="{{ dag_run.conf['conn_id'] }}",
        name="{{ dag_run.conf['name'] }}",
        template="welcome_v2",
        recipients="{{ dag_run.conf['recipients_path'] }}",
        vendor_options={"batch_size": 500},
    )
    WhatsAppExportContactsOperator(
        task_id="export",
        conn_id="{{ dag_run.conf['conn_id'] }}",
        campaign_id=created.output,
        path="{{ dag_run.conf['export_path'] }}",
    )
