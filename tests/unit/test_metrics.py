"""Metrics go through Airflow's Stats from the request core, the mint, the trigger loop and the row movers."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns.exceptions import RateLimited
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.operators.sql import WhatsAppStatsToSqlOperator
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook
from tests.unit.test_stats_to_sql import _stats

README = (Path(__file__).parents[2] / "README.md").read_text()


class Recorder:
    """Stands in for airflow's Stats: keeps every call."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.timings: list[str] = []
        self.gauges: list[tuple[str, float]] = []
        self.tags: dict[str, dict[str, str]] = {}

    def incr(self, name: str, count: int = 1, rate: float = 1, *, tags: dict[str, str] | None = None) -> None:
        self.counts[name] += count
        self.tags[name] = dict(tags or {})

    def timing(self, name: str, value: float, *, tags: dict[str, str] | None = None) -> None:
        assert value >= 0
        self.timings.append(name)

    def gauge(self, name: str, value: float, rate: float = 1, delta: bool = False, *,
              tags: dict[str, str] | None = None) -> None:
        assert delta
        self.gauges.append((name, value))


@pytest.fixture
def stats() -> Any:
    recorder = Recorder()
    with mock.patch.object(metrics, "Stats", recorder):
        yield recorder


def test_requests_by_vendor_and_outcome_429s_and_retries(sandbox: Any, sandbox_conns: Any, stats: Recorder) -> None:
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 3, "status": "completed"}])
    sandbox.admin.fault("error", vendor="waplify", status=429, times=1)
    hook = get_hook("waplify_default")
    slept: list[float] = []
    hook.core.sleep = slept.append  # type: ignore[attr-defined]
    hook.get_campaign_stats(cid)
    assert len(slept) == 1
    assert stats.counts["whatsapp_campaigns.requests.waplify.rate_limited"] == 1
    assert stats.counts["whatsapp_campaigns.rate_limited.waplify"] == 1
    assert stats.counts["whatsapp_campaigns.retries.waplify"] == 1
    assert stats.counts["whatsapp_campaigns.requests.waplify.ok"] == 1
    assert stats.tags["whatsapp_campaigns.requests.waplify.ok"] == {"vendor": "waplify", "outcome": "ok"}
    assert stats.timings.count("whatsapp_campaigns.request_duration.waplify") == 2


def test_a_token_mint_is_counted_once(sandbox: Any, sandbox_conns: Any, stats: Recorder) -> None:
    hook = get_hook("insider_whatsapp_oauth_default")
    hook.get_campaign_stats("1002")
    hook.get_campaign_stats("1002")
    assert stats.counts["whatsapp_campaigns.token_mints.insider"] == 1


async def test_the_trigger_times_polls_and_tracks_waits_in_flight(sandbox: Any, sandbox_conns: Any,
                                                                  stats: Recorder) -> None:
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 3, "status": "completed"}])
    trigger = WhatsAppCampaignTrigger("waplify_default", cid, end_time=time.time() + 600, poll_interval=30)
    events = [event.payload async for event in trigger.run()]
    assert events[0]["status"] == "success"
    assert stats.timings.count("whatsapp_campaigns.poll_duration.waplify") == 1
    assert stats.gauges == [("whatsapp_campaigns.waits_in_flight", 1), ("whatsapp_campaigns.waits_in_flight", -1)]


def test_rows_exported_and_written(sandbox: Any, sandbox_conns: Any, stats: Recorder, tmp_path: Path,
                                   airflow_conn: Any) -> None:
    [uid] = sandbox.admin.seed_sprl(campaigns=[{"name": "a", "status": "completed", "contact_count": 7}])
    export = WhatsAppExportContactsOperator(task_id="e", conn_id="sprl_default", campaign_id=uid,
                                            path=str(tmp_path / "c.csv"))
    export.execute({"ti": mock.MagicMock()})  # type: ignore[arg-type]
    assert stats.counts["whatsapp_campaigns.rows_exported.sprl"] == 7
    conn_id = airflow_conn("metrics_sqlite", "sqlite", host=str(tmp_path / "w.db"))
    to_sql = WhatsAppStatsToSqlOperator(task_id="s", sql_conn_id=conn_id, stats=[_stats("c1", 2), _stats("c2", 2)],
                                        create_table=True)
    to_sql.execute({"run_id": "r"})  # type: ignore[arg-type]
    assert stats.counts["whatsapp_campaigns.rows_written"] == 2


def test_outcome_names() -> None:
    assert metrics._outcome(None) == "ok"
    assert metrics._outcome(RateLimited("x")) == "rate_limited"


@pytest.mark.parametrize("name", sorted(metrics.METRICS))
def test_every_metric_is_in_the_readme(name: str) -> None:
    assert f"`{metrics.PREFIX}.{name}`" in README
