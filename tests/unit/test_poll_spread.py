"""Waits deferred together do not poll together: each first poll waits a share of the interval
fixed by the campaign id, so 10,000 waits spread their requests over the interval, every round."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from airflow_provider_whatsapp_campaigns.waiting import POLL, CompletionRule, Sleep, poll_phase, wait_flow
from tests.scripted import ScriptedStatusHook


def test_phases_are_deterministic_and_fill_the_interval_evenly():
    ids = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(2000)]
    phases = [poll_phase(cid, 10.0) for cid in ids]
    assert phases == [poll_phase(cid, 10.0) for cid in ids], "the same id always gets the same phase"
    assert all(0.0 <= p < 10.0 for p in phases)
    per_second = [sum(1 for p in phases if int(p) == s) for s in range(10)]
    assert min(per_second) >= 140 and max(per_second) <= 260, per_second  # 200 each if perfectly even


def test_the_flow_sleeps_its_phase_first_and_never_past_the_deadline():
    rule = CompletionRule()
    flow = wait_flow("c", rule, end_time=100.0, poll_interval=60, now=lambda: 0.0, first_poll_after=7.5)
    assert next(flow) == Sleep(7.5)
    assert next(flow) is POLL
    late = wait_flow("c", rule, end_time=5.0, poll_interval=60, now=lambda: 0.0, first_poll_after=7.5)
    assert next(late) == Sleep(5.0), "a phase longer than the time left sleeps to the deadline"
    assert next(late) is POLL, "and polls once there"
    past = wait_flow("c", rule, end_time=-1.0, poll_interval=60, now=lambda: 0.0, first_poll_after=7.5)
    assert next(past) is POLL, "a deadline already past polls at once (then reports the timeout)"


@pytest.mark.parametrize("cid", ["1", "0f8fad5b-d9cb-469f-a165-70867728950e", "campaign-42"])
async def test_a_trigger_first_sleeps_its_phase_then_the_interval(monkeypatch, cid):
    hook = ScriptedStatusHook(["running", "running", "completed"])
    sleeps: list[float] = []

    async def fake_aget_hook(conn_id: str) -> ScriptedStatusHook:
        return hook

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.vendors.registry.aget_hook", fake_aget_hook)
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", record)
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.triggers.campaign._now", lambda: 1000.0)
    trigger = WhatsAppCampaignTrigger("c", cid, end_time=5000.0, poll_interval=30)
    events = [event.payload async for event in trigger.run()]
    assert events[0]["status"] == "success"
    assert sleeps == [poll_phase(cid, 30.0), 30.0, 30.0]
    assert 0.0 < sleeps[0] < 30.0
