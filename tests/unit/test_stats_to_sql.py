"""WhatsAppStatsToSqlOperator against real databases: SQLite (a file) and PostgreSQL (a throw-away cluster)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.operators.sql import COLUMNS, WhatsAppStatsToSqlOperator
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus
from airflow_provider_whatsapp_campaigns.version_compat import BaseHook
from tests.system.services import PostgresCluster, missing_binaries

TABLE = "whatsapp_campaign_stats"


def _stats(campaign_id: str, sent: int, provider: str = "sprl") -> dict[str, Any]:
    return CampaignStats(
        provider=provider, campaign_id=campaign_id, status=CampaignStatus.COMPLETED, vendor_status="finished",
        name=f"Campaign {campaign_id}", total=10, sent=sent, delivered=sent - 1, read=3, failed=10 - sent,
        started_at="2026-01-01T08:00:00Z", completed_at="2026-01-01T09:00:00Z",
        fetched_at="2026-01-02T00:00:00+00:00", details={"revenue": 12.5},
    ).to_dict()


def _write(conn_id: str, stats: Any, run_id: str, **kwargs: Any) -> int:
    op = WhatsAppStatsToSqlOperator(task_id="to_sql", sql_conn_id=conn_id, stats=stats, **kwargs)
    return op.execute({"run_id": run_id})  # type: ignore[arg-type]


def _rows(conn_id: str) -> list[dict[str, Any]]:
    hook = BaseHook.get_connection(conn_id).get_hook()
    with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cursor:
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY run_id, provider, campaign_id")  # noqa: S608
        return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def _check_idempotent(conn_id: str) -> None:
    first = [_stats("c1", 8), _stats("c2", 5)]
    assert _write(conn_id, first, "run-1", create_table=True) == 2
    # The same run again (an Airflow retry / clear) with newer numbers: replaced, not duplicated.
    again = [_stats("c1", 9), _stats("c2", 5)]
    assert _write(conn_id, again, "run-1", create_table=True) == 2
    assert _write(conn_id, again, "run-1") == 2
    # Another run keeps its own rows; a single dict (one stats task's XCom) is accepted.
    assert _write(conn_id, _stats("c1", 7), "run-2") == 1
    rows = _rows(conn_id)
    assert [(r["run_id"], r["campaign_id"], r["sent_count"]) for r in rows] == [
        ("run-1", "c1", 9), ("run-1", "c2", 5), ("run-2", "c1", 7),
    ]
    row = rows[0]
    assert row["provider"] == "sprl" and row["status"] == "completed" and row["vendor_status"] == "finished"
    assert bool(row["is_terminal"]) is True
    assert row["total_count"] == 10 and row["read_count"] == 3 and row["clicked_count"] is None
    assert row["delivery_rate"] == pytest.approx(8 / 9)
    assert json.loads(row["details"]) == {"revenue": 12.5}
    assert str(row["completed_at"]).startswith("2026-01-01")


@pytest.fixture
def sqlite_conn(tmp_path: Path, airflow_conn: Any) -> str:
    return airflow_conn("warehouse_sqlite", "sqlite", host=str(tmp_path / "warehouse.db"))


def test_sqlite_rows_are_idempotent_per_run(sqlite_conn: str) -> None:
    _check_idempotent(sqlite_conn)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    if "postgresql" in missing_binaries():
        pytest.skip("PostgreSQL not installed (run scripts/ensure_services.sh as root)")
    cluster = PostgresCluster()
    try:
        cluster.start()
        cluster.create_database()
        yield cluster
    finally:
        cluster.close()


def test_postgres_rows_are_idempotent_per_run(postgres: PostgresCluster, airflow_conn: Any) -> None:
    conn_id = airflow_conn(
        "warehouse_pg", "postgres", host="127.0.0.1", port=postgres.port, login="airflow", schema="airflow"
    )
    _check_idempotent(conn_id)


def test_a_failed_insert_leaves_the_previous_rows(sqlite_conn: str) -> None:
    _write(sqlite_conn, [_stats("c1", 8)], "run-1", create_table=True)
    broken = _stats("c1", 9)
    broken["status"] = "no-such-status"
    with pytest.raises(ValidationError):
        _write(sqlite_conn, [_stats("c2", 1), broken], "run-1")
    assert [(r["campaign_id"], r["sent_count"]) for r in _rows(sqlite_conn)] == [("c1", 8)]


def test_a_database_error_rolls_back_the_delete(sqlite_conn: str) -> None:
    _write(sqlite_conn, [_stats("c1", 8)], "run-1", create_table=True)
    hook = BaseHook.get_connection(sqlite_conn).get_hook()
    hook.run(f"CREATE TRIGGER refuse BEFORE INSERT ON {TABLE} WHEN NEW.sent_count = 9 BEGIN SELECT RAISE(ABORT, 'no'); END")
    with pytest.raises(Exception, match="no"):
        _write(sqlite_conn, [_stats("c1", 9)], "run-1")
    assert [(r["campaign_id"], r["sent_count"]) for r in _rows(sqlite_conn)] == [("c1", 8)]


@pytest.mark.parametrize(
    ("stats", "table", "match"),
    [
        ("not a list", TABLE, "list of them"),
        ([{"campaign_id": "c1"}], TABLE, "needs provider"),
        ([_stats("c1", 1)], "stats; DROP TABLE x", "identifier"),
    ],
)
def test_bad_input_is_refused_before_any_connection(stats: Any, table: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        _write("no_such_connection", stats, "run-1", table=table)


def test_a_non_sql_connection_is_named(airflow_conn: Any) -> None:
    conn_id = airflow_conn("not_sql", "http", host="127.0.0.1")
    with pytest.raises(ValidationError, match=r"'not_sql'.*not a SQL"):
        _write(conn_id, [_stats("c1", 1)], "run-1")


def test_a_database_whose_provider_is_missing_names_the_provider(airflow_conn: Any) -> None:
    """Airflow 3 does not ship the SQLite provider: a connection whose hook is missing says what to install."""
    conn_id = airflow_conn("no_provider", "no_such_database", host="127.0.0.1")
    with pytest.raises(ValidationError, match=r"'no_provider' is of type 'no_such_database'.*install the Airflow provider"):
        _write(conn_id, [_stats("c1", 1)], "run-1")
