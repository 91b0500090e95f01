"""Insider One: monthly transactional WhatsApp statistics for the run's data interval.

What it shows a DAG author:

* ``@monthly`` with ``InsiderTransactionalStatsOperator``: ``start_time`` / ``end_time``
  default to ``{{ data_interval_start }}`` / ``{{ data_interval_end }}``, so each scheduled run
  covers exactly its month and a backfill covers past months; ranges over a year are split and merged;
* a *manual* run (trigger button, ``airflow dags test``) has a zero-width data interval in
  Airflow 3 (start == end, or none at all), so this DAG passes both ends through a small macro
  that then falls back to the calendar month before the run;
* needs an API-key connection (``insider_whatsapp_default``): Insider documents no OAuth
  endpoint for transactional statistics;
* the result (flat counters + one ``chart`` entry per day) is written as a per-day CSV.

Run it against the sandbox: ``airflow dags test insider_transactional_monthly 2025-02-01``.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_whatsapp_campaigns.operators.insider import InsiderTransactionalStatsOperator

AIRFLOW_HOME = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))


def report_window(dag_run) -> tuple[datetime, datetime]:
    """The data interval, or for a manual run (empty interval) the calendar month before the run."""
    start, end = dag_run.data_interval_start, dag_run.data_interval_end
    if start is not None and end is not None and end > start:
        return start, end
    end = dag_run.logical_date or dag_run.run_after
    month_start = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (month_start - timedelta(days=1)).replace(day=1), month_start

# [START howto_insider_transactional_monthly]
with DAG(
    dag_id="insider_transactional_monthly",
    description="Insider transactional WhatsApp statistics, one run per month",
    start_date=datetime(2025, 1, 1),
    schedule="@monthly",
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    user_defined_macros={"report_window": report_window},
    tags=["whatsapp", "insider", "example"],
) as dag:
    # [START howto_operator_insider_transactional_stats]
    monthly = InsiderTransactionalStatsOperator(
        task_id="transactional_stats",
        conn_id="insider_whatsapp_default",
        # The defaults are "{{ data_interval_start }}" / "{{ data_interval_end }}"; this also covers manual runs:
        start_time="{{ report_window(dag_run)[0].isoformat() }}",
        end_time="{{ report_window(dag_run)[1].isoformat() }}",
        # accounts=["+905551112233"],  # only these sender numbers
    )
    # [END howto_operator_insider_transactional_stats]

    @task
    def write_daily_csv(result: dict) -> dict:
        chart = result.get("chart") or {}
        dates = chart.get("dates") or []
        columns = [k for k in ("sent", "delivered", "open", "click", "conversion") if k in chart]
        path = os.path.join(AIRFLOW_HOME, "reports", "insider", f"transactional-{str(result.get('start_time'))[:7]}.csv")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".partial", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["date", *columns])
            for i, day in enumerate(dates):
                writer.writerow([day, *(chart[c][i] for c in columns)])
        os.replace(path + ".partial", path)
        print(f"{len(dates)} days, sent={result.get('sent')} delivered={result.get('delivered')} -> {path}")
        return {"path": path, "days": len(dates), "sent": result.get("sent"), "delivered": result.get("delivered")}

    write_daily_csv(monthly.output)
# [END howto_insider_transactional_monthly]
