"""Every wait keeps Airflow's sensor semantics: soft_fail on the first check, settled mode, sensor timeouts."""

from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppStartCampaignOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus


def context() -> dict:
    return {"ti": mock.MagicMock()}


def running(sent: int) -> CampaignStats:
    return CampaignStats(
        provider="waplify", campaign_id="c1", status=CampaignStatus.RUNNING, vendor_status="running",
        total=4, sent=sent, failed=0, pending=4 - sent,
    )


def test_deferrable_sensor_first_check_honours_soft_fail(sandbox, sandbox_conns):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 2, "status": "cancelled"}])
    sensor = WhatsAppCampaignSensor(
        task_id="wait", conn_id="waplify_default", campaign_id=cid, deferrable=True, soft_fail=True
    )
    with pytest.raises(AirflowSkipException):
        sensor.execute(context())


class FakeTime:
    """The operator module's clock: sleeping advances it, nothing waits for real."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.operators.campaign.time", fake)
    return fake


def with_hook(op: WhatsAppStartCampaignOperator, start: CampaignStats, *polls: CampaignStats) -> mock.MagicMock:
    hook = mock.MagicMock()
    hook.start_campaign.return_value = start
    hook.get_campaign_stats.side_effect = list(polls)
    op.__dict__["hook"] = hook
    return hook


def test_start_operator_wait_times_out_like_the_sensor(clock):
    op = WhatsAppStartCampaignOperator(
        task_id="start", conn_id="waplify_default", campaign_id="c1", wait_for_completion=True,
        poll_interval=10, timeout=25,
    )
    with_hook(op, running(sent=1), running(sent=2), running(sent=3), running(sent=3))
    with pytest.raises(AirflowSensorTimeout, match="did not finish in time"):
        op.execute(context())
    assert sum(clock.sleeps) == 25, "slept up to the deadline, not past it"
    with pytest.raises(AirflowSensorTimeout):  # the deferred wait's timeout event, resumed in the worker
        op.execute_complete(context(), {"status": "timeout", "campaign_id": "c1", "stats": None})


def test_start_operator_wait_has_settled_mode(clock):
    op = WhatsAppStartCampaignOperator(
        task_id="start", conn_id="waplify_default", campaign_id="c1", wait_for_completion=True,
        completion="settled", settle_polls=2, poll_interval=5,
    )
    hook = with_hook(op, running(sent=3), running(sent=4), running(sent=4))
    result = op.execute(context())
    assert result["status"] == "running" and result["sent"] == 4, "settled: counters unchanged, nothing pending"
    assert hook.get_campaign_stats.call_count == 2


def test_deferred_start_wait_carries_the_settled_rule():
    op = WhatsAppStartCampaignOperator(
        task_id="start", conn_id="waplify_default", campaign_id="c1", wait_for_completion=True, deferrable=True,
        completion="settled", settle_polls=4,
    )
    with_hook(op, running(sent=1))
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    _, kwargs = deferred.value.trigger.serialize()
    assert (kwargs["completion"], kwargs["settle_polls"]) == ("settled", 4)
    assert kwargs["history"], "the first poll's counters travel to the trigger"


def test_start_operator_refuses_an_unknown_completion_mode_at_parse_time():
    with pytest.raises(ValidationError, match="completion"):
        WhatsAppStartCampaignOperator(task_id="s", conn_id="c", campaign_id="1", completion="done-ish")
