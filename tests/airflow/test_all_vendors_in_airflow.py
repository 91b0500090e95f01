"""Every vendor's stats through Airflow: XCom equals what the vendor API itself reports."""

from __future__ import annotations

import requests

from tests.airflow.conftest import task_states


def vendor_raw(sandbox, method: str, vendor: str, path: str, **kwargs):
    response = requests.request(method, sandbox.base_url(vendor) + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def test_stats_of_every_vendor_match_the_vendor_api(run_dag, sandbox):
    admin = sandbox.admin
    [waplify_id] = admin.seed_waplify([{"name": "W", "contacts": 40, "status": "running", "send_rate": 10}])
    admin.advance(60)  # the sandbox clock: Waplify finishes sending
    [whatomate_id, running_id] = admin.seed_whatomate(
        [
            {"name": "done", "recipients": 30, "status": "completed"},
            {"name": "busy", "recipients": 1000, "status": "processing", "send_rate": 1},
        ]
    )
    dagrun, out = run_dag("all_vendors", waplify_id=waplify_id, whatomate_id=whatomate_id, running_id=running_id)
    assert set(task_states(dagrun).values()) == {"success"}, task_states(dagrun)

    sprl = vendor_raw(
        sandbox,
        "POST",
        "sprl",
        "/whatsapp/v1/campaigns/tracking",
        headers={"Authorization": "Bearer sprl_demo_key"},
        json={"client_id": "demo-client", "account_id": "demo-account", "campaign_uid": "demo-campaign"},
    )
    campaign = sprl["data"]["campaign"]
    for ours, theirs in [
        ("total", "total"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("replied", "replied"),
        ("failed", "failed"),
    ]:
        assert out["sprl"][ours] == int(campaign[theirs]), ours
    assert out["sprl"]["status"] == "completed"
    assert out["sprl"]["clicked"] is None, "SPRL reports no clicks: null, not 0"

    insider = vendor_raw(
        sandbox,
        "POST",
        "insider",
        "/v1/statistics/campaign",
        headers={"x-ins-auth-key": "INS.demo-api-key"},
        json={"campaign_id": 1001},
    )
    assert out["insider"]["sent"] == insider["sent"]
    assert out["insider"]["read"] == insider["open"]
    assert out["insider"]["clicked"] == insider["click"]
    assert out["insider"]["total"] == insider["targeted"]
    assert out["insider"]["details"]["dropDetails"] == insider["dropDetails"]
    assert out["insider"]["status"] == "unknown", "Insider reports no status"
    assert out["insider_oauth"]["provider"] == "insider"
    assert out["insider_oauth"]["sent"] is not None
    assert out["insider_settled"]["pending"] == 0
    assert out["insider_settled"]["sent"] == insider["sent"]

    waplify = vendor_raw(
        sandbox,
        "GET",
        "waplify",
        f"/api/v1/campaigns/{waplify_id}/stats",
        headers={"Authorization": "Bearer wapl_demo_key"},
    )
    assert out["waplify"]["total"] == waplify["total_contacts"] == 40
    assert out["waplify"]["delivered"] == waplify["delivered_count"]
    assert out["waplify"]["clicked"] == waplify["clicked_count"]
    assert waplify["sent_count"] > 0
    assert out["waplify"]["delivery_rate"] == waplify["delivered_count"] / waplify["sent_count"]
    assert out["waplify"]["status"] == waplify["campaign_status"] == "completed"

    whatomate = vendor_raw(
        sandbox, "GET", "whatomate", f"/api/campaigns/{whatomate_id}", headers={"X-API-Key": "whm_demo_key"}
    )["data"]
    whatomate = whatomate.get("campaign", whatomate)
    assert out["whatomate"]["total"] == whatomate["total_recipients"] == 30
    assert out["whatomate"]["sent"] == whatomate["sent_count"]
    assert out["whatomate"]["status"] == "completed"

    assert out["transactional"]["windows"] == 1
    total = admin.transactional_total(1704067200, 1709251200 - 1)  # the operator's end_time is excluded
    assert out["transactional"]["sent"] == total["sent"]
    assert len(out["transactional"]["chart"]["dates"]) == len(total["chart"]["dates"])

    assert out["pause"]["status"] == "paused"
    assert out["cancel"]["status"] == "cancelled"
    assert admin.state("whatomate", running_id)["status"] == "cancelled"
