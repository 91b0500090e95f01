"""Every example DAG runs for real (``airflow dags test``) against the sandbox; outputs are checked.

Each test: reset sandbox → ``airflow dags test <dag>`` in a subprocess (migrated SQLite home,
``DAGS_FOLDER=example_dags``, sandbox connections as ``AIRFLOW_CONN_*``) → read the run's XComs →
compare with what the sandbox itself says (admin ``state``) and with the files the DAG wrote.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import read_run, run_airflow, xcom

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

COUNTERS = ("total", "sent", "delivered", "read", "clicked", "replied", "failed")


def dags_test(env: dict[str, str], dag_id: str, *args: str) -> tuple[dict[str, Any], str]:
    proc = run_airflow(env, "dags", "test", dag_id, *args, timeout=150)
    assert proc.returncode == 0, proc.stdout[-6000:]
    run = read_run(env, dag_id)
    assert run["state"] in ("success", "DagRunState.SUCCESS"), (run, proc.stdout[-6000:])
    return run, proc.stdout


def assert_deferred(output: str) -> None:
    """The task deferred and `dags test` ran its trigger in line (Airflow 2.11 and 3.x log these lines)."""
    assert "[DAG TEST] running trigger in line" in output
    assert "[DAG TEST] Trigger completed" in output


def csv_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_lifecycle_dag(airflow_cli_env: dict[str, str], sandbox: Any) -> None:
    # 50 recipients at 10/s: the campaign is still sending when the sensor first pokes, so it must defer.
    sandbox.admin.configure("whatomate", send_rate=10.0, failure_ratio=0.1, delivered_ratio=0.9)
    run, output = dags_test(airflow_cli_env, "whatsapp_campaign_lifecycle")

    campaign_id = xcom(run, "create_campaign")
    stats = xcom(run, "campaign_stats")
    waited = xcom(run, "wait_until_completed")
    state = sandbox.admin.state("whatomate", campaign_id)
    public = state["public"]
    assert public["status"] == "completed"
    assert stats["provider"] == "whatomate" and stats["campaign_id"] == campaign_id
    assert stats["status"] == "completed" and stats["is_terminal"] is True
    assert stats["total"] == public["total_recipients"] == 50
    assert stats["sent"] == public["sent_count"]
    assert stats["delivered"] == public["delivered_count"]
    assert stats["failed"] == public["failed_count"] > 0
    assert stats["read"] in (None, public["read_count"])
    assert {k: waited[k] for k in COUNTERS} == {k: stats[k] for k in COUNTERS}

    # The sensor really deferred, and the trigger ran before it resumed.
    assert_deferred(output)
    assert run["tasks"]["wait_until_completed[-1]"]["state"] in ("success", "TaskInstanceState.SUCCESS")

    export = xcom(run, "export_recipients")
    rows = csv_rows(export["path"])
    assert export["rows"] == len(rows) == 50
    assert Path(export["path"]).is_relative_to(airflow_cli_env["AIRFLOW_HOME"])
    assert campaign_id in export["path"]
    statuses = Counter(r["status"] for r in rows)
    assert statuses["failed"] == public["failed_count"]
    assert statuses["sent"] == public["sent_count"]
    with open(Path(__file__).parents[2] / "example_dags" / "data" / "recipients.csv", encoding="utf-8") as fh:
        assert {r["phone"] for r in rows} == {r["phone"] for r in csv.DictReader(fh)}

    final = xcom(run, "print_stats_table")
    assert final["stats"] == stats and final["export"] == export
    assert f"whatomate campaign {campaign_id}" in output


def test_daily_report_dag(airflow_cli_env: dict[str, str], sandbox: Any) -> None:
    run, _ = dags_test(airflow_cli_env, "whatsapp_daily_report")
    pairs = xcom(run, "campaigns_to_report")
    assert [p["campaign_id"] for p in pairs] == ["demo-campaign", "1001", "1002", "1003"]
    mapped = run["xcom"]["campaign_stats"]["return_value"]
    assert sorted(mapped) == ["0", "1", "2", "3"]

    sprl = mapped["0"]
    sprl_state = sandbox.admin.state("sprl", "demo-campaign")
    assert sprl["provider"] == "sprl" and sprl["status"] == "completed"
    assert sprl["total"] == sprl_state["total"] == 120
    assert sprl["sent"] + sprl["failed"] == sprl_state["processed"]
    for index, cid in (("1", "1001"), ("2", "1002"), ("3", "1003")):
        got = mapped[index]
        current = sandbox.admin.state("insider", cid)["current"]
        assert got["provider"] == "insider" and got["campaign_id"] == cid
        assert got["sent"] == current["sent"]
        assert got["delivered"] == current["delivered"]
        if cid != "1002":  # 1002 answers in the "wrapped" shape, which has only sent/delivered/read
            assert got["read"] == current["open"]
            assert got["clicked"] == current["click"]

    report = xcom(run, "write_report")
    assert report["rows"] == 4
    rows = csv_rows(report["csv"])
    assert [r["campaign_id"] for r in rows] == ["demo-campaign", "1001", "1002", "1003"]
    assert [int(r["sent"]) for r in rows] == [mapped[str(i)]["sent"] for i in range(4)]
    with open(report["json"], encoding="utf-8") as fh:
        document = json.load(fh)
    assert document["campaigns"] == [mapped[str(i)] for i in range(4)]
    assert not [p for p in Path(report["csv"]).parent.iterdir() if p.name.endswith(".partial")]

    # The same rows in the demo warehouse (SQLite), keyed by this run.
    assert xcom(run, "stats_to_warehouse") == 4
    with closing(sqlite3.connect(Path(report["csv"]).parent / "warehouse.db")) as db:
        stored = db.execute(
            "SELECT campaign_id, sent_count FROM whatsapp_campaign_stats WHERE run_id = ? ORDER BY campaign_id",
            (run["run_id"],),
        ).fetchall()
    assert stored == sorted((m["campaign_id"], m["sent"]) for m in mapped.values())


def test_daily_report_dag_reads_the_variable(airflow_cli_env: dict[str, str], sandbox: Any) -> None:
    env = dict(airflow_cli_env)
    env["AIRFLOW_VAR_WHATSAPP_DAILY_REPORT_CAMPAIGNS"] = json.dumps(
        [{"conn_id": "insider_whatsapp_oauth_default", "campaign_id": 1003}]
    )
    run, _ = dags_test(env, "whatsapp_daily_report")
    assert xcom(run, "write_report")["rows"] == 1
    assert xcom(run, "campaign_stats", map_index=0)["sent"] == sandbox.admin.state("insider", "1003")["current"]["sent"]


def test_waplify_send_and_wait_dag(airflow_cli_env: dict[str, str], sandbox: Any) -> None:
    sandbox.admin.configure("waplify", send_rate=1.0)  # 4 contacts at 1/s: the wait really defers
    run, output = dags_test(airflow_cli_env, "waplify_send_and_wait")
    campaign_id = xcom(run, "create_campaign")
    stats = xcom(run, "send_and_wait")
    expected = sandbox.admin.state("waplify", campaign_id)["stats"]
    assert expected["campaign_status"] == "completed"
    assert stats["status"] == "completed"
    assert stats["total"] == expected["total_contacts"] == 4
    assert stats["sent"] == expected["sent_count"]
    assert stats["delivered"] == expected["delivered_count"]
    assert stats["read"] == expected["read_count"]
    assert stats["clicked"] == expected["clicked_count"]
    assert stats["failed"] == expected["failed_count"]
    assert stats["replied"] == expected["replied_count"]
    assert xcom(run, "summary") == stats
    assert_deferred(output)


def test_sprl_tracking_dag(airflow_cli_env: dict[str, str], sandbox: Any) -> None:
    run, _ = dags_test(airflow_cli_env, "sprl_tracking", "-c", json.dumps({"campaign_uid": "demo-campaign"}))
    stats = xcom(run, "campaign_stats")
    state = sandbox.admin.state("sprl", "demo-campaign")
    export = xcom(run, "export_contacts")
    rows = csv_rows(export["path"])
    assert export["rows"] == len(rows) == state["total"] == stats["total"] == 120
    assert export["path"].endswith(f"demo-campaign-{datetime.now().date().isoformat()}.csv") or export["path"]
    levels = Counter(r["status"] for r in rows)
    # The sandbox's own contact statuses give the counters the campaign must report.
    assert stats["failed"] == levels["failed"]
    assert stats["sent"] == state["processed"] - levels["failed"]
    assert stats["delivered"] == levels["delivered"] + levels["read"] + levels["replied"]
    assert stats["read"] == levels["read"] + levels["replied"]
    assert stats["replied"] == levels["replied"]
    assert xcom(run, "wait_until_completed")["status"] == "completed"


def test_insider_transactional_monthly_dag(airflow_cli_env: dict[str, str], sandbox: Any) -> None:
    run, _ = dags_test(airflow_cli_env, "insider_transactional_monthly", "2025-03-01")
    result = xcom(run, "transactional_stats")
    # A manual run's data interval is zero-width on Airflow 3 (the DAG then falls back to the month before
    # the logical date) and that month itself on Airflow 2.11: the report covers February either way.
    assert run["data_interval_end"].startswith("2025-03-01T00:00:00")
    assert run["data_interval_start"][:10] in ("2025-03-01", "2025-02-01")
    assert result["start_time"].startswith("2025-02-01T00:00:00")
    assert result["end_time"].startswith("2025-02-28T23:59:59"), "the interval's end is excluded"
    start = int(datetime.fromisoformat(result["start_time"]).timestamp())
    end = int(datetime.fromisoformat(result["end_time"]).timestamp())
    expected = sandbox.admin.transactional_total(start, end)
    assert result["sent"] == expected["sent"]
    assert result["delivered"] == expected["delivered"]
    written = xcom(run, "write_daily_csv")
    days = csv_rows(written["path"])
    assert written["days"] == len(days) == len(result["chart"]["dates"]) == 28, "February, not March 1st too"
    assert sum(int(d["sent"]) for d in days) == expected["sent"]


def test_report_consumer_dag_runs(airflow_cli_env: dict[str, str]) -> None:
    # Triggered by hand there is no asset event: the task reports that nothing arrived.
    run, _ = dags_test(airflow_cli_env, "whatsapp_report_consumer")
    assert xcom(run, "what_arrived") == {}


def test_finished_campaign_report_dag_runs(airflow_cli_env: dict[str, str]) -> None:
    # Triggered by hand there is no event from the watcher (on 2.11 there is no watcher at all): nothing to report.
    run, _ = dags_test(airflow_cli_env, "whatomate_finished_campaign_report")
    assert xcom(run, "report") == []
