"""Operators, sensor and trigger inside a real Airflow (dag.test) against the sandbox: Waplify."""

from __future__ import annotations

from tests.airflow.conftest import task_states


def test_lifecycle_defers_and_pushes_normalized_stats(run_dag, sandbox, monkeypatch):
    from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger

    deferred: list[str] = []
    original = WhatsAppCampaignTrigger.serialize

    def spy(self):
        deferred.append(self.campaign_id)
        return original(self)

    monkeypatch.setattr(WhatsAppCampaignTrigger, "serialize", spy)
    sandbox.admin.configure("waplify", send_rate=1)
    sandbox.admin.configure(speed=2)
    dagrun, out = run_dag("waplify_lifecycle")
    assert task_states(dagrun) == {"create": "success", "start": "success", "wait": "success", "stats": "success"}
    campaign_id = out["create"]
    raw = sandbox.admin.state("waplify", campaign_id)
    assert raw["status"] == "completed"
    for task in ("start", "wait", "stats"):
        assert out[task]["campaign_id"] == campaign_id
        assert out[task]["status"] == "completed"
        assert out[task]["total"] == 3
    final = out["stats"]
    assert final["sent"] + final["failed"] == raw["total"]
    assert sandbox.admin.counters()["creates"]["waplify"]
    assert sandbox.admin.counters()["starts"]["waplify"][campaign_id] == 1
    assert campaign_id in deferred, "the start task's wait went through the triggerer"
