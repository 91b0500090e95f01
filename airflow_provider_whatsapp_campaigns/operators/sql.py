"""Write normalized campaign stats into any database a ``common.sql`` hook reaches (the warehouse)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns.assets import record_outlet_events
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError, WhatsAppCampaignError
from airflow_provider_whatsapp_campaigns.operators.common import UI_COLOR
from airflow_provider_whatsapp_campaigns.stats import COUNTERS, RATES, CampaignStats
from airflow_provider_whatsapp_campaigns.version_compat import AirflowException, BaseHook, BaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.providers.common.sql.hooks.sql import DbApiHook

DEFAULT_TABLE = "whatsapp_campaign_stats"
KEY_COLUMNS = ("provider", "campaign_id", "run_id")
# Counters get a suffix: ``read`` is a reserved word in MySQL, and one rule beats one exception.
COLUMN_TYPES: dict[str, str] = {
    "provider": "VARCHAR(32) NOT NULL",
    "campaign_id": "VARCHAR(255) NOT NULL",
    "run_id": "VARCHAR(255) NOT NULL",
    "name": "VARCHAR(1024)",
    "status": "VARCHAR(16) NOT NULL",
    "vendor_status": "VARCHAR(255)",
    "is_terminal": "BOOLEAN NOT NULL",
    **{f"{name}_count": "BIGINT" for name in COUNTERS},
    **{name: "DOUBLE PRECISION" for name in RATES},
    "started_at": "TIMESTAMP",
    "completed_at": "TIMESTAMP",
    "fetched_at": "TIMESTAMP NOT NULL",
    "details": "TEXT",
}
COLUMNS = tuple(COLUMN_TYPES)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62}){0,2}$")


def create_table_sql(table: str) -> str:
    """Portable DDL (SQLite, PostgreSQL, MySQL, DuckDB …): the key makes a duplicate row impossible."""
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in COLUMN_TYPES.items())
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns},\n  PRIMARY KEY ({', '.join(KEY_COLUMNS)})\n)"


def stats_row(stats: CampaignStats, run_id: str) -> tuple[Any, ...]:
    """One table row, in :data:`COLUMNS` order."""
    data = stats.to_dict()
    values: dict[str, Any] = {
        **{key: data[key] for key in ("provider", "campaign_id", "name", "status", "vendor_status", "is_terminal")},
        "run_id": run_id,
        **{f"{name}_count": data[name] for name in COUNTERS},
        **{name: data[name] for name in RATES},
        **{key: data[key] for key in ("started_at", "completed_at", "fetched_at")},
        "details": json.dumps(data["details"], sort_keys=True),
    }
    return tuple(values[name] for name in COLUMNS)


def _sql_hook(conn_id: str) -> DbApiHook:
    try:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
    except ImportError as exc:
        raise WhatsAppCampaignError(
            "writing stats to a database needs apache-airflow-providers-common-sql: "
            "pip install 'airflow-provider-whatsapp-campaigns[sql]'"
        ) from exc
    conn = BaseHook.get_connection(conn_id)
    try:
        hook = conn.get_hook()
    except AirflowException as exc:  # "Unknown hook type": that database's provider is not installed
        raise ValidationError(
            f"connection {conn_id!r} is of type {conn.conn_type!r}, whose hook is not installed ({exc}); install "
            "the Airflow provider of that database (SQLite: apache-airflow-providers-sqlite, included in the "
            "[sql] extra)"
        ) from None
    if not isinstance(hook, DbApiHook):
        raise ValidationError(
            f"connection {conn_id!r} gives a {type(hook).__name__}, not a SQL (DbApiHook) hook: "
            "point sql_conn_id at a database connection (postgres, sqlite, mysql, snowflake …)"
        )
    return hook


class WhatsAppStatsToSqlOperator(BaseOperator):
    """Write ``CampaignStats`` dicts (one stats task's XCom, or a mapped task's list) as table rows.

    Idempotent per run: rows are keyed on ``(provider, campaign_id, run_id)``; each write deletes
    the keys it is about to insert and inserts them in one transaction. That is plain SQL on every
    DB-API driver (dialect upserts differ: ``ON CONFLICT``, ``ON DUPLICATE KEY``, ``MERGE``), a
    reader never sees half a run, and a re-run replaces its own rows without touching other runs.

    :param sql_conn_id: any Airflow connection whose hook is a ``common.sql`` ``DbApiHook``.
    :param stats: a ``CampaignStats.to_dict()`` or a list of them (templated; XComArgs resolve).
    :param table: table name, optionally ``schema.table``.
    :param create_table: create the table (``IF NOT EXISTS``) before writing.
    :param run_id: the run key; defaults to the Airflow run id.
    :returns: the number of rows written. Assets in ``outlets`` get ``{"table", "run_id", "rows"}`` as
        their event's ``extra``, for DAGs scheduled on them.
    """

    template_fields: Sequence[str] = ("sql_conn_id", "stats", "table", "run_id")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        sql_conn_id: str,
        stats: Any,
        table: str = DEFAULT_TABLE,
        create_table: bool = False,
        run_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql_conn_id = sql_conn_id
        self.stats = stats
        self.table = table
        self.create_table = create_table
        self.run_id = run_id

    def execute(self, context: Context) -> int:
        table = self._table()
        run_id = str(self.run_id or context["run_id"])
        # Keyed by (provider, campaign_id, run_id): a campaign listed twice is written once, last wins.
        by_key = {row[: len(KEY_COLUMNS)]: row for row in (stats_row(s, run_id) for s in _parse_stats(self.stats))}
        rows = list(by_key.values())
        hook = _sql_hook(self.sql_conn_id)
        if self.create_table:
            hook.run(create_table_sql(table))
        if rows:
            self._replace(hook, table, rows)
            metrics.incr("rows_written", len(rows))
        record_outlet_events(self, context, {"table": table, "run_id": run_id, "rows": len(rows)})
        self.log.info("wrote %d stats rows for run %s into %s", len(rows), run_id, table)
        return len(rows)

    def _table(self) -> str:
        if not isinstance(self.table, str) or not _IDENTIFIER.match(self.table):
            raise ValidationError(
                f"table must be a plain identifier or schema.table (letters, digits, _), got {self.table!r}"
            )
        return self.table

    @staticmethod
    def _replace(hook: DbApiHook, table: str, rows: list[tuple[Any, ...]]) -> None:
        # Only constants and the identifier-checked table name are interpolated; values are bound.
        mark = hook.placeholder
        key_index = [COLUMNS.index(k) for k in KEY_COLUMNS]
        delete = f"DELETE FROM {table} WHERE {' AND '.join(f'{k} = {mark}' for k in KEY_COLUMNS)}"  # noqa: S608
        insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"  # noqa: S608
        with closing(hook.get_conn()) as conn:
            if hook.supports_autocommit:
                hook.set_autocommit(conn, False)
            try:
                with closing(conn.cursor()) as cursor:
                    cursor.executemany(delete, [tuple(row[i] for i in key_index) for row in rows])
                    cursor.executemany(insert, rows)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise


def _parse_stats(value: Any) -> Iterable[CampaignStats]:
    """Accept one stats dict or any iterable of them (a mapped task's lazy XCom sequence)."""
    items = [value] if isinstance(value, Mapping) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ValidationError(f"stats must be a CampaignStats dict or a list of them, got {type(value).__name__}")
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("provider") or item.get("campaign_id") in (None, ""):
            raise ValidationError(
                f"stats item {position} is not a CampaignStats dict (needs provider and campaign_id): "
                f"got {type(item).__name__}"
            )
        try:
            yield CampaignStats.from_dict(item)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"stats item {position} is not a CampaignStats dict: {exc}") from exc
