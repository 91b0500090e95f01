"""Trigger loop, completion rule, sensor modes and event handling — against the sandbox (Waplify)."""

from __future__ import annotations

import asyncio
import time
from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import NotFound, RateLimited, ValidationError
from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppStartCampaignOperator
from airflow_provider_whatsapp_campaigns.operators.common import resume_from_event
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from airflow_provider_whatsapp_campaigns.version_compat import AirflowException, AirflowFailException
from airflow_provider_whatsapp_campaigns.waiting import CompletionRule

CLASSPATH = "airflow_provider_whatsapp_campaigns.triggers.campaign.WhatsAppCampaignTrigger"


def stats(status: str = "running", **counters) -> CampaignStats:
    return CampaignStats(provider="x", campaign_id="1", status=CampaignStatus(status), vendor_status=status, **counters)


def context() -> dict:
    return {"ti": mock.MagicMock()}


async def collect(trigger: WhatsAppCampaignTrigger) -> list[dict]:
    return [event.payload async for event in trigger.run()]


@pytest.fixture
def first_poll_at_once(monkeypatch):
    """The loop's tests count polls from t=0; the spread of first polls has its own tests below."""
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.triggers.campaign.poll_phase", lambda cid, interval: 0.0)


@pytest.fixture
def no_sleep(monkeypatch, first_poll_at_once):
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", fake_sleep)
    return sleeps


# --------------------------------------------------------------------------- completion rule


@pytest.mark.parametrize(
    ("status", "accept", "verdict"),
    [
        ("running", (), "waiting"),
        ("completed", (), "done"),
        ("failed", (), "failed"),
        ("cancelled", (), "failed"),
        ("cancelled", ("cancelled",), "done"),
        ("unknown", (), "waiting"),
    ],
)
def test_status_rule(status, accept, verdict):
    assert CompletionRule(accept_statuses=accept).evaluate(stats(status)) == verdict


def test_settled_rule_needs_pending_zero_and_unchanged_counters():
    rule = CompletionRule("settled", settle_polls=3)
    assert rule.evaluate(stats("unknown", sent=5, pending=2)) == "waiting"
    assert rule.evaluate(stats("unknown", sent=7, pending=0)) == "waiting"
    assert rule.evaluate(stats("unknown", sent=7, pending=0)) == "waiting"
    assert rule.evaluate(stats("unknown", sent=7, pending=0)) == "done"
    rule = CompletionRule("settled", settle_polls=2)
    assert rule.evaluate(stats("unknown", sent=7)) == "waiting"
    assert rule.evaluate(stats("unknown", sent=7)) == "waiting", "pending unknown never settles"


@pytest.mark.parametrize("kwargs", [{"completion": "vibes"}, {"settle_polls": 1}, {"accept_statuses": ["gone"]}])
def test_rule_rejects_bad_options(kwargs):
    with pytest.raises(ValidationError, match=next(iter(kwargs))):
        CompletionRule(**kwargs)


# --------------------------------------------------------------------------- trigger


def test_trigger_serializes_json_only_and_round_trips():
    trigger = WhatsAppCampaignTrigger(
        "waplify_default", 42, end_time=123.0, poll_interval=5, accept_statuses=["failed"]
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "conn_id": "waplify_default",
        "campaign_id": "42",
        "end_time": 123.0,
        "poll_interval": 5.0,
        "completion": "status",
        "settle_polls": 3,
        "accept_statuses": ["failed"],
        "stats_options": {},
        "max_consecutive_failures": 5,
        "history": [],
    }
    assert WhatsAppCampaignTrigger(**kwargs).serialize() == (classpath, kwargs)


async def test_trigger_polls_until_completed(sandbox, sandbox_conns, no_sleep):
    sandbox.admin.configure(speed=0)  # only the advances below move the campaign on
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 20, "status": "running", "send_rate": 1}])
    trigger = WhatsAppCampaignTrigger("waplify_default", cid, end_time=time.time() + 600, poll_interval=30)

    async def advancing_sleep(seconds: float) -> None:
        no_sleep.append(seconds)
        sandbox.admin.advance(10)

    with mock.patch("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", advancing_sleep):
        events = await collect(trigger)
    assert [e["status"] for e in events] == ["success"]
    assert events[0]["stats"]["status"] == "completed"
    assert events[0]["stats"]["total"] == 20
    assert len(no_sleep) == 2  # polls at t=0 (0 sent), t=10, t=20 (done)
    assert all(s == 30 for s in no_sleep)
    assert sum(sandbox.admin.counters()["requests"]["waplify"].values()) == 3, "one request per poll"


async def test_trigger_times_out_with_wall_clock_deadline(sandbox, sandbox_conns, no_sleep):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 5, "status": "running", "send_rate": 0.001}])
    events = await collect(WhatsAppCampaignTrigger("waplify_default", cid, end_time=time.time() - 1))
    assert events[0]["status"] == "timeout"
    assert events[0]["stats"]["status"] == "running"
    assert no_sleep == []


async def test_trigger_sleeps_no_longer_than_the_deadline(sandbox, sandbox_conns, no_sleep):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 5, "status": "running", "send_rate": 0.001}])
    with mock.patch("airflow_provider_whatsapp_campaigns.triggers.campaign._now", side_effect=[1000.0, 1030.0]):
        events = await collect(WhatsAppCampaignTrigger("waplify_default", cid, end_time=1010.0, poll_interval=60))
    assert no_sleep == [10.0]
    assert events[0]["status"] == "timeout"


async def test_trigger_reports_failed_campaign(sandbox, sandbox_conns, no_sleep):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 5, "status": "failed"}])
    events = await collect(WhatsAppCampaignTrigger("waplify_default", cid, end_time=time.time() + 60))
    assert events[0]["status"] == "failed"
    assert "failed" in events[0]["message"]


async def test_trigger_permanent_error_ends_at_once(sandbox, sandbox_conns, no_sleep):
    events = await collect(
        WhatsAppCampaignTrigger("waplify_default", "00000000-0000-4000-8000-000000000000", end_time=time.time() + 60)
    )
    assert events[0]["status"] == "error"
    assert events[0]["error"]["error_class"] == "NotFound"
    assert no_sleep == []


async def test_trigger_transient_errors_spend_a_budget_reset_by_success(monkeypatch, no_sleep):
    results = [
        RateLimited("slow down"),
        RateLimited("slow down"),
        stats("running"),
        RateLimited("x"),
        stats("completed"),
    ]
    hook = mock.MagicMock()
    hook.aget_campaign_stats = mock.AsyncMock(side_effect=results)
    hook.async_session.return_value.__aenter__ = mock.AsyncMock(return_value=hook)
    hook.async_session.return_value.__aexit__ = mock.AsyncMock(return_value=False)
    monkeypatch.setattr(
        "airflow_provider_whatsapp_campaigns.vendors.registry.aget_hook", mock.AsyncMock(return_value=hook)
    )
    trigger = WhatsAppCampaignTrigger("c", "1", end_time=time.time() + 60, max_consecutive_failures=3)
    events = await collect(trigger)
    assert events[0]["status"] == "success"
    assert hook.aget_campaign_stats.await_count == 5

    hook.aget_campaign_stats = mock.AsyncMock(side_effect=[RateLimited("a"), RateLimited("b"), RateLimited("c")])
    events = await collect(trigger)
    assert events[0]["status"] == "error"
    assert events[0]["error"]["error_class"] == "RateLimited"


async def test_recreated_trigger_keeps_the_absolute_deadline(sandbox, sandbox_conns, monkeypatch):
    """A triggerer restart rebuilds the trigger from serialize(): the deadline is the original one, not renewed."""
    sandbox.admin.configure(speed=0)  # the campaign stays running
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 10, "status": "running", "send_rate": 1}])
    clock = [1000.0]
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.triggers.campaign._now", lambda: clock[0])
    sleeps: list[float] = []

    async def crash_in_first_sleep(seconds: float) -> None:
        clock[0] += seconds
        raise asyncio.CancelledError  # the triggerer dies while the trigger waits

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    first = WhatsAppCampaignTrigger("waplify_default", cid, end_time=1100.0, poll_interval=60)
    with (
        mock.patch("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", crash_in_first_sleep),
        pytest.raises(asyncio.CancelledError),
    ):
        await collect(first)
    _classpath, kwargs = first.serialize()
    clock[0] = 1101.0  # back one second after the original deadline
    with mock.patch("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", sleep):
        events = await collect(WhatsAppCampaignTrigger(**kwargs))
    assert events[0]["status"] == "timeout"
    assert events[0]["stats"]["status"] == "running"
    assert sleeps == [], "past the original deadline: one poll, no further wait"


def test_start_operator_wait_in_worker_times_out_by_its_own_deadline(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.operators.campaign.time.time", lambda: clock[0])
    monkeypatch.setattr(
        "airflow_provider_whatsapp_campaigns.operators.campaign.time.sleep",
        lambda s: clock.__setitem__(0, clock[0] + s),
    )
    hook = mock.MagicMock()
    hook.start_campaign.return_value = stats("running")
    hook.get_campaign_stats.side_effect = [stats("running"), RateLimited("slow down"), stats("running")]
    op = WhatsAppStartCampaignOperator(
        task_id="start", conn_id="c", campaign_id="1", wait_for_completion=True, poll_interval=40, timeout=100
    )
    op.__dict__["hook"] = hook
    with pytest.raises(AirflowException, match="did not finish in time"):
        op.execute(context())
    assert hook.get_campaign_stats.call_count == 3, "polls at 1040, 1080 (transient error), 1100"
    assert clock[0] == 1100.0, "the last sleep is cut to the deadline"


# --------------------------------------------------------------------------- events (P10)


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (None, AirflowException),
        ({"nothing": 1}, AirflowException),
        ({"status": "weird"}, AirflowException),
        ({"status": "failed", "message": "boom"}, AirflowFailException),
        ({"status": "error", "error": NotFound("gone", vendor="waplify").to_dict()}, NotFound),
        ({"status": "timeout", "campaign_id": "1", "stats": None}, AirflowException),
    ],
)
def test_resume_rejects_anything_but_success(event, error):
    task = mock.MagicMock()
    with pytest.raises(error):
        resume_from_event(task, event)


def test_resume_success_returns_stats():
    data = stats("completed", sent=3).to_dict()
    assert resume_from_event(mock.MagicMock(), {"status": "success", "stats": data}) == data


# --------------------------------------------------------------------------- sensor


def test_sensor_poke_returns_stats_when_completed(sandbox, sandbox_conns):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 4, "status": "completed"}])
    sensor = WhatsAppCampaignSensor(task_id="s", conn_id="waplify_default", campaign_id=cid)
    result = sensor.poke(context())
    assert result.is_done
    assert result.xcom_value["status"] == "completed"
    assert result.xcom_value["total"] == 4


def test_sensor_fails_fast_on_failed_campaign(sandbox, sandbox_conns):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 4, "status": "cancelled"}])
    sensor = WhatsAppCampaignSensor(task_id="s", conn_id="waplify_default", campaign_id=cid)
    with pytest.raises(AirflowFailException, match="cancelled"):
        sensor.poke(context())
    accepting = WhatsAppCampaignSensor(
        task_id="s2", conn_id="waplify_default", campaign_id=cid, accept_statuses=["cancelled"]
    )
    assert accepting.poke(context()).is_done


def test_deferrable_sensor_defers_only_when_not_done(sandbox, sandbox_conns):
    from airflow.providers.common.compat.sdk import TaskDeferred

    [running, done] = sandbox.admin.seed_waplify(
        [
            {"name": "r", "contacts": 5, "status": "running", "send_rate": 0.001},
            {"name": "d", "contacts": 5, "status": "completed"},
        ]
    )
    sensor = WhatsAppCampaignSensor(
        task_id="s", conn_id="waplify_default", campaign_id=running, deferrable=True, timeout=100, poke_interval=7
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(context())
    trigger = info.value.trigger
    assert isinstance(trigger, WhatsAppCampaignTrigger)
    assert trigger.campaign_id == str(running)
    assert trigger.poll_interval == 7
    assert time.time() < trigger.end_time <= time.time() + 100

    finished = WhatsAppCampaignSensor(task_id="s3", conn_id="waplify_default", campaign_id=done, deferrable=True)
    with mock.patch.object(finished, "defer") as defer:
        assert finished.execute(context())["status"] == "completed"
    defer.assert_not_called()


def test_settled_is_refused_in_reschedule_mode():
    with pytest.raises(ValidationError, match="reschedule"):
        WhatsAppCampaignSensor(
            task_id="s", conn_id="insider_whatsapp_default", campaign_id="1", completion="settled", mode="reschedule"
        )


def test_start_operator_waits_in_worker(sandbox, sandbox_conns, monkeypatch):
    sandbox.admin.configure(speed=0)
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 6, "status": "draft", "send_rate": 1}])
    monkeypatch.setattr(
        "airflow_provider_whatsapp_campaigns.operators.campaign.time.sleep", lambda s: sandbox.admin.advance(5)
    )
    op = WhatsAppStartCampaignOperator(
        task_id="start", conn_id="waplify_default", campaign_id=cid, wait_for_completion=True, poll_interval=5
    )
    result = op.execute(context())
    assert result["status"] == "completed"
    assert result["total"] == 6
    assert sandbox.admin.counters()["starts"]["waplify"] == {cid: 1}, "started once, then only polled"


async def test_thousand_waiting_triggers_share_one_session_and_poll_once_per_interval(
    sandbox, sandbox_conns, airflow_conn, first_poll_at_once
):
    """1,000 deferred waits in one triggerer: one aiohttp session, exactly one request per poll."""
    import json

    from airflow_provider_whatsapp_campaigns._http.transport import open_session_count

    conn = json.loads(sandbox.airflow_connections()["AIRFLOW_CONN_WAPLIFY_DEFAULT"])
    conn["extra"]["rate_limit"] = 0
    airflow_conn("waplify_many", conn.pop("conn_type"), **conn)
    sandbox.admin.configure("waplify", rate_limit=1_000_000)
    sandbox.admin.configure(speed=0)  # only the explicit advance below moves the sandbox clock
    count = 1000
    ids = sandbox.admin.seed_waplify(
        [{"name": f"c{i}", "contacts": 2, "status": "running", "send_rate": 1} for i in range(count)]
    )
    before = sum(sandbox.admin.counters()["requests"].get("waplify", {}).values())
    sessions_seen: set[int] = set()
    sleeps: list[float] = []
    advanced = asyncio.Event()

    async def one_round(seconds: float) -> None:
        # Every trigger polled once and found its campaign running (the clock is frozen); the last
        # one to get here moves the clock an hour on, and all of them poll again after that.
        sleeps.append(seconds)
        sessions_seen.add(open_session_count())
        if len(sleeps) == count:
            await asyncio.to_thread(sandbox.admin.advance, 3600)
            advanced.set()
        await asyncio.wait_for(advanced.wait(), timeout=300)

    triggers = [
        WhatsAppCampaignTrigger("waplify_many", cid, end_time=time.time() + 3600, poll_interval=60) for cid in ids
    ]
    with mock.patch("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", one_round):
        results = await asyncio.gather(*(collect(t) for t in triggers))
    assert all(events[0]["status"] == "success" for events in results)
    after = sum(sandbox.admin.counters()["requests"].get("waplify", {}).values())
    assert after - before == 2 * count, "exactly one request per poll: one before the interval, one after"
    assert sleeps == [60.0] * count
    assert sessions_seen == {1}, "every waiting trigger shares one aiohttp session"
    assert open_session_count() == 0, "closed when the last wait ended"
