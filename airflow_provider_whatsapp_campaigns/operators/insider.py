"""Insider One transactional statistics for a date range (defaults to the run's data interval)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns.operators.common import UI_COLOR
from airflow_provider_whatsapp_campaigns.version_compat import BaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class InsiderTransactionalStatsOperator(BaseOperator):
    """Merged transactional counters and the daily chart; ranges over a year are split and merged.

    ``[start_time, end_time)``: the end is excluded, as Airflow's ``data_interval_end`` is, so
    consecutive scheduled runs cover every day exactly once (Insider's own range is closed: the
    hook is asked for ``[start_time, end_time - 1 s]``). Needs an API-key connection
    (``insider_whatsapp``): Insider documents no OAuth endpoint for it.
    """

    template_fields: Sequence[str] = ("conn_id", "start_time", "end_time", "accounts")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        conn_id: str = "insider_whatsapp_default",
        start_time: Any = "{{ data_interval_start }}",
        end_time: Any = "{{ data_interval_end }}",
        accounts: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.start_time = start_time
        self.end_time = end_time
        self.accounts = accounts

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook

        hook = get_hook(self.conn_id)
        fetch = getattr(hook, "get_transactional_stats", None)
        if fetch is None:
            from airflow_provider_whatsapp_campaigns.exceptions import UnsupportedOperation

            raise UnsupportedOperation(
                f"connection {self.conn_id!r} is {hook.vendor}; transactional stats exist only for Insider",
                vendor=hook.vendor,
            )
        if not self.start_time or not self.end_time or str(self.start_time) == str(self.end_time):
            from airflow_provider_whatsapp_campaigns.exceptions import ValidationError

            raise ValidationError(
                f"empty date range ({self.start_time!r} → {self.end_time!r}): a manual run on Airflow 3 has no "
                "data interval. Pass start_time and end_time explicitly (templated), or run it on a schedule.",
                vendor="insider",
            )
        from airflow_provider_whatsapp_campaigns.vendors.insider.ranges import to_unix

        last_second = to_unix(self.end_time, "end_time") - 1
        result: dict[str, Any] = fetch(self.start_time, last_second, accounts=self.accounts or None)
        self.log.info(
            "Insider transactional %s → %s: sent=%s delivered=%s read=%s (%s window(s))",
            result.get("start_time"),
            result.get("end_time"),
            result.get("sent"),
            result.get("delivered"),
            result.get("read"),
            result.get("windows"),
        )
        return result
