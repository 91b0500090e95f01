"""Daily cross-vendor report: one stats task per (connection, campaign), merged into CSV + JSON.

What it shows a DAG author:

* dynamic task mapping over *connections*: ``WhatsAppCampaignStatsOperator.partial(...)
  .expand_kwargs(...)`` fetches SPRL, Insider (API key and OAuth) and any other vendor's
  campaigns in parallel; each mapped task pushes ``CampaignStats.to_dict()``, so the merge
  task sees one shape whatever the vendor;
* the list of campaigns comes from the Airflow Variable ``whatsapp_daily_report_campaigns``
  (JSON list of ``{"conn_id": …, "campaign_id": …}``) when set, else from the DAG param
  ``campaigns`` (editable in the trigger form), whose defaults match the local sandbox;
* the report is written atomically (temporary file + rename) as
  ``$AIRFLOW_HOME/reports/whatsapp/<ds>.csv`` and ``.json``;
* the same stats land in a warehouse table (``WhatsAppStatsToSqlOperator``, idempotent per run)
  through the connection named by the DAG param ``warehouse_conn_id``: any ``common.sql``
  database (Postgres, Snowflake, BigQuery …). Its default, ``whatsapp_demo_warehouse``, is a
  SQLite file next to the reports, defined below only when no such connection exists.

Run it against the sandbox: ``airflow dags test whatsapp_daily_report``.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import Asset

try:  # Airflow 3
    from airflow.sdk import DAG, Param, Variable, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable
    from airflow.models.param import Param

from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCampaignStatsOperator
from airflow_provider_whatsapp_campaigns.operators.sql import WhatsAppStatsToSqlOperator

CAMPAIGNS_VARIABLE = "whatsapp_daily_report_campaigns"
# The sandbox's demo campaigns (present after every reset).
DEFAULT_CAMPAIGNS = [
    {"conn_id": "sprl_default", "campaign_id": "demo-campaign"},
    {"conn_id": "insider_whatsapp_default", "campaign_id": "1001"},
    {"conn_id": "insider_whatsapp_oauth_default", "campaign_id": "1002"},
    {"conn_id": "insider_whatsapp_default", "campaign_id": "1003"},
]
AIRFLOW_HOME = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))
REPORT_DIR = os.path.join(AIRFLOW_HOME, "reports", "whatsapp")
# What this DAG produces, as Assets (Datasets on 2.11): whatsapp_report_consumer is scheduled on them.
STATS_TABLE_ASSET = Asset("whatsapp_campaign_stats")
REPORT_FILES_ASSET = Asset("whatsapp_daily_report_files")
DEMO_WAREHOUSE_CONN_ID = "whatsapp_demo_warehouse"
# A demo-only connection id, so this default never shadows a connection of yours.
os.environ.setdefault(
    f"AIRFLOW_CONN_{DEMO_WAREHOUSE_CONN_ID.upper()}",
    json.dumps({"conn_type": "sqlite", "host": os.path.join(REPORT_DIR, "warehouse.db")}),
)
REPORT_COLUMNS = (
    "provider", "campaign_id", "name", "status", "vendor_status", "is_terminal",
    "total", "sent", "delivered", "read", "clicked", "replied", "failed", "pending",
    "delivery_rate", "read_rate", "click_rate", "failure_rate", "fetched_at",
)  # fmt: skip


def _write_atomically(path: str, write) -> None:
    """Write through a temporary sibling and rename: readers never see half a report."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".report-", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# [START howto_whatsapp_daily_report]
with DAG(
    dag_id="whatsapp_daily_report",
    description="Stats of many campaigns across vendors, merged into one CSV/JSON report per day",
    start_date=datetime(2025, 1, 1),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "campaigns": Param(
            DEFAULT_CAMPAIGNS,
            type="array",
            description=f"[{{conn_id, campaign_id}}]; the Variable {CAMPAIGNS_VARIABLE!r} wins when set",
        ),
        "warehouse_conn_id": Param(
            DEMO_WAREHOUSE_CONN_ID, type="string", description="common.sql connection the stats rows go to"
        ),
    },
    tags=["whatsapp", "example"],
) as dag:

    @task
    def campaigns_to_report(params: dict | None = None) -> list[dict]:
        """One kwargs dict per mapped stats task: ``{"conn_id": ..., "campaign_id": ...}``."""
        # The default goes by position: Airflow 2.11 calls it `default_var`, Airflow 3 `default`.
        chosen = Variable.get(CAMPAIGNS_VARIABLE, None, deserialize_json=True)
        chosen = chosen or (params or {}).get("campaigns") or DEFAULT_CAMPAIGNS
        return [{"conn_id": str(c["conn_id"]), "campaign_id": str(c["campaign_id"])} for c in chosen]

    # [START howto_operator_whatsapp_stats_mapped]
    stats = WhatsAppCampaignStatsOperator.partial(task_id="campaign_stats").expand_kwargs(campaigns_to_report())
    # [END howto_operator_whatsapp_stats_mapped]

    @task(outlets=[REPORT_FILES_ASSET])
    def write_report(all_stats: list[dict], dag_run=None, outlet_events=None) -> dict:
        # `ds` is missing on Airflow 3 runs triggered without a logical date; run_after is always there.
        ds = (dag_run.logical_date or dag_run.run_after).strftime("%Y-%m-%d")
        rows = [dict(s) for s in all_stats]
        csv_path = os.path.join(REPORT_DIR, f"{ds}.csv")
        json_path = os.path.join(REPORT_DIR, f"{ds}.json")

        def write_csv(handle) -> None:
            writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

        _write_atomically(csv_path, write_csv)
        _write_atomically(json_path, lambda handle: json.dump({"date": ds, "campaigns": rows}, handle, indent=2))
        for row in rows:
            print(f"{row['provider']:<10} {row['campaign_id']:<14} {row['status']:<10} "
                  f"sent={row['sent']} delivered={row['delivered']} read={row['read']}")
        result = {"csv": csv_path, "json": json_path, "rows": len(rows)}
        outlet_events[REPORT_FILES_ASSET].extra = result  # what the consumer DAG reads
        return result

    write_report(stats.output)

    # [START howto_operator_whatsapp_stats_to_sql]
    WhatsAppStatsToSqlOperator(
        task_id="stats_to_warehouse",
        sql_conn_id="{{ params.warehouse_conn_id }}",
        stats=stats.output,  # every mapped task's CampaignStats dict
        table="whatsapp_campaign_stats",
        create_table=True,
        outlets=[STATS_TABLE_ASSET],  # its event carries {"table", "run_id", "rows"}
    )
    # [END howto_operator_whatsapp_stats_to_sql]
# [END howto_whatsapp_daily_report]
