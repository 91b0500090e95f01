"""Operators put what they wrote on their outlet Assets' events; the example consumer is scheduled on them."""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from airflow.providers.common.compat.sdk import Asset

from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.operators.sql import WhatsAppStatsToSqlOperator
from tests.unit.test_stats_to_sql import _stats

EXAMPLES = Path(__file__).parents[2] / "example_dags"


def _outlet_events() -> defaultdict[Any, SimpleNamespace]:
    return defaultdict(lambda: SimpleNamespace(extra={}))


def test_sql_operator_describes_its_rows_on_the_asset_event(tmp_path: Path, airflow_conn: Any) -> None:
    conn_id = airflow_conn("assets_sqlite", "sqlite", host=str(tmp_path / "w.db"))
    table = Asset("whatsapp_campaign_stats")
    op = WhatsAppStatsToSqlOperator(task_id="to_sql", sql_conn_id=conn_id, stats=[_stats("c1", 3), _stats("c2", 4)],
                                    create_table=True, outlets=[table])
    events = _outlet_events()
    assert op.execute({"run_id": "run-7", "outlet_events": events}) == 2  # type: ignore[arg-type]
    assert events[table].extra == {"table": "whatsapp_campaign_stats", "run_id": "run-7", "rows": 2}


def test_export_describes_its_file_on_the_asset_event(sandbox: Any, sandbox_conns: Any, tmp_path: Path) -> None:
    [uid] = sandbox.admin.seed_sprl(campaigns=[{"name": "a", "status": "completed", "contact_count": 5}])
    target = tmp_path / "contacts.csv"
    asset = Asset(f"file://{target}")
    op = WhatsAppExportContactsOperator(task_id="export", conn_id="sprl_default", campaign_id=uid, path=str(target),
                                        outlets=[asset])
    events = _outlet_events()
    result = op.execute({"ti": SimpleNamespace(xcom_push=lambda **_: None), "outlet_events": events})  # type: ignore[arg-type]
    assert result["rows"] == 5
    assert events[asset].extra == result


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_consumer_dag_is_scheduled_on_the_daily_report_outlets() -> None:
    report = _load("whatsapp_daily_report").dag
    consumer = _load("whatsapp_report_consumer").dag
    produced = {outlet for task in report.tasks for outlet in task.outlets if isinstance(outlet, Asset)}
    assert produced == {Asset("whatsapp_campaign_stats"), Asset("whatsapp_daily_report_files")}
    assert set(consumer.timetable.asset_condition.objects) == produced  # both, AND-ed
