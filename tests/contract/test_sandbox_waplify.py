"""Contract tests: Waplify create/send/stats, contact limits, auth and its 429."""

from __future__ import annotations

import time

import pytest
import requests

KEY = "wapl_demo_key"


def call(sandbox, method, path, key=KEY, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, sandbox.base_url("waplify") + "/api/v1" + path, headers=headers,
                            timeout=30, **kw)


def create(sandbox, n=1, **extra):
    body = {"name": "promo", "template_name": "promo_tpl", "waba_phone_id": "demo-waba",
            "contacts": [{"phone": f"+4477{i:08d}", "name": f"C{i}"} for i in range(n)], **extra}
    return call(sandbox, "POST", "/campaigns/", json=body)


@pytest.fixture
def fast(sandbox):
    sandbox.admin.configure("waplify", rate_limit=None)
    sandbox.admin.configure(speed=0)
    return sandbox


@pytest.mark.parametrize("n,status", [(0, 400), (1, 201), (10_000, 201), (10_001, 400)])
def test_contact_limits(fast, n, status):
    r = create(fast, n)
    assert r.status_code == status
    if status == 201:
        assert r.json()["id"] and r.json()["total_contacts"] == n and r.json()["status"] == "draft"
    else:
        assert r.json()["error"] == "bad_request"


def test_send_and_stats_progression(fast):
    fast.admin.configure("waplify", send_rate=10, failure_ratio=0.1, delivered_ratio=0.5, read_ratio=0.5,
                         click_ratio=0.5, reply_ratio=0.2)
    cid = create(fast, 100).json()["id"]
    draft = call(fast, "GET", f"/campaigns/{cid}/stats").json()
    assert draft["campaign_status"] == "draft" and draft["sent_count"] == 0 and draft["status"] == "success"
    r = call(fast, "POST", f"/campaigns/{cid}/send")
    assert r.status_code == 202 and r.json()["status"] == "accepted" and r.json()["task_id"]
    again = call(fast, "POST", f"/campaigns/{cid}/send")
    assert again.status_code == 400 and again.json()["error"] == "bad_request"
    fast.admin.advance(5)
    mid = call(fast, "GET", f"/campaigns/{cid}/stats").json()
    assert mid["campaign_status"] == "running" and mid["sent_count"] + mid["failed_count"] == 50
    fast.admin.advance(5)
    s = call(fast, "GET", f"/campaigns/{cid}/stats").json()
    assert s["campaign_status"] == "completed"
    assert s["failed_count"] == 10 and s["sent_count"] == 90
    assert s["delivered_count"] == 45 and s["read_count"] == 22 and s["clicked_count"] == 11
    assert s["replied_count"] == 4 and s["success_count"] == 90 and s["total_contacts"] == 100
    assert s["started_at"] and s["completed_at"] and s["created_at"]
    done = call(fast, "POST", f"/campaigns/{cid}/send")
    assert done.status_code == 400
    assert fast.admin.counters()["starts"]["waplify"][cid] == 1


def test_errors(fast):
    assert call(fast, "GET", "/campaigns/not-an-id/stats").json()["error"] == "bad_request"
    nf = call(fast, "GET", "/campaigns/00000000-0000-4000-a000-000000000000/stats")
    assert nf.status_code == 404 and nf.json()["error"] == "not_found" and nf.json()["message"]
    bad = call(fast, "GET", "/campaigns/00000000-0000-4000-a000-000000000000/stats", key="wapl_wrong")
    assert bad.status_code == 401 and "detail" in bad.json()
    none = call(fast, "GET", "/campaigns/00000000-0000-4000-a000-000000000000/stats", key=None)
    assert none.status_code == 403 and none.json() == {"detail": "Not authenticated"}
    assert create(fast, 1, waba_phone_id="other").status_code == 400
    assert call(fast, "POST", "/campaigns/", json={"name": "x"}).status_code == 400


def test_other_key_cannot_see_campaign(fast):
    fast.admin.seed_waplify(keys=[{"api_key": "wapl_other", "waba_phone_ids": []}])
    cid = create(fast, 1).json()["id"]
    assert call(fast, "GET", f"/campaigns/{cid}/stats", key="wapl_other").status_code == 404


def test_seeded_running_campaign(fast):
    cid = fast.admin.seed_waplify(campaigns=[{"name": "s", "contacts": 20, "status": "running", "send_rate": 2,
                                              "failure_ratio": 0}])[0]
    fast.admin.advance(5)
    assert call(fast, "GET", f"/campaigns/{cid}/stats").json()["sent_count"] == 10
    assert fast.admin.state("waplify", cid)["processed"] == 10


def test_rate_limit_429_headers(sandbox):
    sandbox.admin.configure(speed=0)  # a frozen clock keeps all requests in one window
    cid = create(sandbox, 1).json()["id"]
    responses = [call(sandbox, "GET", f"/campaigns/{cid}/stats") for _ in range(12)]
    assert [r.status_code for r in responses].count(429) == 3  # 10 rps incl. the create
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Limit"] == "10"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) > time.time() - 10
    assert sandbox.admin.counters()["rate_limited"]["waplify"] == 3
    sandbox.admin.advance(1.1)
    assert call(sandbox, "GET", f"/campaigns/{cid}/stats").status_code == 200
