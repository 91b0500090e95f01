"""The asset-watcher trigger against the sandbox's Whatomate on a controlled clock: one event per newly
finished campaign, none twice after a triggerer restart, typed errors logged, no secrets anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import UnsupportedOperation, ValidationError
from airflow_provider_whatsapp_campaigns.stats import CampaignStats
from airflow_provider_whatsapp_campaigns.triggers.finished import WhatsAppFinishedCampaignsTrigger

CLASSPATH = "airflow_provider_whatsapp_campaigns.triggers.finished.WhatsAppFinishedCampaignsTrigger"


class FakeStateStore:
    """Stands in for ``BaseEventTrigger.asset_state_store`` (the metadata DB): it outlives a trigger."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)  # JSON only, as the real store


class Stop(BaseException):
    """Ends a watch after a number of polls (a watcher never ends by itself)."""


async def watch(trigger: WhatsAppFinishedCampaignsTrigger, store: Any, polls: int) -> list[dict[str, Any]]:
    trigger.asset_state_store = store
    trigger._log = logging.getLogger("tests.finished_trigger")  # Airflow 3 logs through structlog; caplog reads this
    events: list[dict[str, Any]] = []
    try:
        async for event in trigger.run():
            events.append(event.payload)
    except Stop:
        pass
    return events


@pytest.fixture
def clock(sandbox, monkeypatch):
    """Each sleep between polls moves the sandbox clock by that much; ``clock.polls`` ends the watch."""
    sandbox.admin.configure(speed=0)

    class Clock:
        polls = 0
        budget = 0

    async def sleep(seconds: float) -> None:
        Clock.polls += 1
        if Clock.polls >= Clock.budget:
            raise Stop
        sandbox.admin.advance(seconds)

    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", sleep)
    return Clock


def run_watch(trigger, store, clock, polls: int) -> list[dict[str, Any]]:
    clock.polls, clock.budget = 0, polls
    return asyncio.run(watch(trigger, store, polls))


def seed(sandbox, *campaigns: dict[str, Any]) -> list[str]:
    return sandbox.admin.seed_whatomate([{"name": f"c{i}", **c} for i, c in enumerate(campaigns)])


def test_one_event_per_newly_finished_campaign_and_none_twice_after_a_restart(sandbox, sandbox_conns, clock):
    old, soon, later, draft = seed(
        sandbox,
        {"status": "completed", "recipients": 3},
        {"status": "processing", "recipients": 10, "send_rate": 1},  # done after 10 s
        {"status": "processing", "recipients": 100, "send_rate": 1},  # done after 100 s
        {"status": "draft"},
    )
    store = FakeStateStore()
    trigger = WhatsAppFinishedCampaignsTrigger("whatomate_default", poll_interval=30)
    events = run_watch(trigger, store, clock, polls=3)  # polls at 0 s (baseline), 30 s, 60 s
    assert [e["campaign_id"] for e in events] == [soon], "the already finished campaign is history, not news"
    assert events[0]["status"] == "completed"
    stats = CampaignStats.from_dict(events[0]["stats"])
    assert (stats.campaign_id, stats.provider, stats.total, stats.sent) == (soon, "whatomate", 10, 10)

    # The triggerer restarts: Airflow re-creates the trigger from its serialized kwargs.
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    restarted = WhatsAppFinishedCampaignsTrigger(**kwargs)
    events = run_watch(restarted, store, clock, polls=3)  # 90 s … 150 s: `later` finishes at 100 s
    assert [e["campaign_id"] for e in events] == [later], "soon is not reported twice; later exactly once"
    assert draft not in json.dumps(store.values) and old in json.dumps(store.values)

    [cancelled] = seed(sandbox, {"status": "processing", "recipients": 1000, "send_rate": 1})
    sandbox.admin.configure(speed=0)
    events = run_watch(WhatsAppFinishedCampaignsTrigger(**kwargs), store, clock, polls=1)
    assert events == [], "still running"
    from airflow_provider_whatsapp_campaigns.hooks import get_hook

    get_hook("whatomate_default").cancel_campaign(cancelled)
    events = run_watch(WhatsAppFinishedCampaignsTrigger(**kwargs), store, clock, polls=2)
    assert [(e["campaign_id"], e["status"]) for e in events] == [(cancelled, "cancelled")]


def test_only_the_named_account_is_watched(sandbox, sandbox_conns, clock):
    sandbox.admin.seed("whatomate", accounts=["second-account"])
    _mine, theirs = seed(
        sandbox,
        {"status": "processing", "recipients": 5, "send_rate": 1},
        {"status": "processing", "recipients": 5, "send_rate": 1, "whatsapp_account": "second-account"},
    )
    trigger = WhatsAppFinishedCampaignsTrigger("whatomate_default", whatsapp_account="second-account", poll_interval=10)
    events = run_watch(trigger, FakeStateStore(), clock, polls=2)
    assert [e["campaign_id"] for e in events] == [theirs]


def test_serialized_kwargs_and_events_hold_no_secret(sandbox, sandbox_conns, clock):
    secret = json.loads(sandbox_conns["whatomate_default"])["password"]
    seed(sandbox, {"status": "processing", "recipients": 2, "send_rate": 1})
    trigger = WhatsAppFinishedCampaignsTrigger("whatomate_default", poll_interval=5)
    assert trigger.serialize()[1] == {"conn_id": "whatomate_default", "whatsapp_account": None, "poll_interval": 5.0}
    events = run_watch(trigger, FakeStateStore(), clock, polls=2)
    assert len(events) == 1
    assert secret not in json.dumps(trigger.serialize()) + json.dumps(events)


def no_retries(sandbox, airflow_conn, conn_id: str, **changes: Any) -> str:
    """The sandbox's Whatomate connection without client retries (their backoff sleeps for real)."""
    conn = json.loads(sandbox.airflow_connections()["AIRFLOW_CONN_WHATOMATE_DEFAULT"])
    conn = {**conn, "extra": {**conn.get("extra", {}), "max_retries": 0}, **changes}
    return airflow_conn(conn_id, **conn)


def test_vendor_failures_are_logged_and_the_watch_goes_on(sandbox, airflow_conn, clock, caplog):
    [cid] = seed(sandbox, {"status": "processing", "recipients": 5, "send_rate": 1})
    store = FakeStateStore()
    trigger = WhatsAppFinishedCampaignsTrigger(no_retries(sandbox, airflow_conn, "whatomate_fast"), poll_interval=2)
    assert run_watch(trigger, store, clock, polls=1) == []  # the baseline
    sandbox.admin.fault("error", vendor="whatomate", path="/api/campaigns$", status=503, times=2)
    with caplog.at_level(logging.WARNING):
        events = run_watch(WhatsAppFinishedCampaignsTrigger(**trigger.serialize()[1]), store, clock, polls=4)
    assert [e["campaign_id"] for e in events] == [cid], "the outage ended, the event came"
    assert "transient VendorUnavailable" in caplog.text


def test_a_rejected_key_is_logged_as_permanent_and_never_kills_the_watch(sandbox, airflow_conn, clock, caplog):
    conn_id = no_retries(sandbox, airflow_conn, "whatomate_bad", password="whm_not-a-real-key")
    with caplog.at_level(logging.WARNING):
        events = run_watch(WhatsAppFinishedCampaignsTrigger(conn_id, poll_interval=5), FakeStateStore(), clock, polls=3)
    assert events == []
    assert caplog.text.count("permanent AuthenticationError") == 3, "one line per poll, and it polled on"
    assert "not-a-real-key" not in caplog.text


def test_a_vendor_that_cannot_list_campaigns_is_refused(sandbox, sandbox_conns, clock):
    with pytest.raises(UnsupportedOperation, match="waplify cannot list campaigns"):
        run_watch(WhatsAppFinishedCampaignsTrigger("waplify_default"), FakeStateStore(), clock, polls=2)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"conn_id": ""}, "conn_id"),
        ({"conn_id": "whatomate_default", "poll_interval": 0.1}, "poll_interval"),
        ({"conn_id": "whatomate_default", "poll_interval": "soon"}, "poll_interval"),
        ({"conn_id": "whatomate_default", "whatsapp_account": " "}, "whatsapp_account"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, field):
    with pytest.raises(ValidationError, match=field):
        WhatsAppFinishedCampaignsTrigger(**kwargs)


def test_without_a_state_store_a_restart_starts_afresh(sandbox, sandbox_conns, clock, caplog):
    seed(sandbox, {"status": "processing", "recipients": 5, "send_rate": 1})
    trigger = WhatsAppFinishedCampaignsTrigger("whatomate_default", poll_interval=10)
    with caplog.at_level(logging.WARNING):
        assert len(run_watch(trigger, None, clock, polls=2)) == 1
        assert run_watch(WhatsAppFinishedCampaignsTrigger(**trigger.serialize()[1]), None, clock, polls=2) == []
    assert "remembered in memory only" in caplog.text


def test_the_example_watches_the_demo_account_and_reports_each_event(capsys):
    from types import SimpleNamespace

    from tests.unit.test_assets import _load

    example = _load("whatomate_finished_campaigns")
    [watcher] = example.FINISHED_CAMPAIGNS.watchers
    assert watcher.trigger.serialize() == (
        CLASSPATH, {"conn_id": "whatomate_default", "whatsapp_account": "demo-account", "poll_interval": 60.0}
    )
    assert set(example.dag.timetable.asset_condition.objects) == {example.FINISHED_CAMPAIGNS}
    event = SimpleNamespace(extra={"from_trigger": True, "payload": {
        "conn_id": "whatomate_default", "campaign_id": "c-1", "status": "completed",
        "stats": {"total": 10, "sent": 9, "failed": 1},
    }})
    report = example.dag.get_task("report").python_callable
    assert report(triggering_asset_events={example.FINISHED_CAMPAIGNS: [event]}) == [
        {"campaign_id": "c-1", "status": "completed", "sent": 9, "failed": 1}
    ]
    assert "campaign c-1 completed: 9 of 10 sent, 1 failed" in capsys.readouterr().out
