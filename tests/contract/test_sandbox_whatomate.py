"""Contract tests: Whatomate auth, campaigns, recipients and the state machine (new + legacy)."""

from __future__ import annotations

import pytest
import requests

KEY = "whm_demo_key"


class Api:
    def __init__(self, sandbox, key=KEY, token=None):
        self.base = sandbox.base_url("whatomate") + "/api"
        self.headers = {"X-API-Key": key} if key else {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, **kw):
        return requests.request(method, self.base + path, headers=self.headers, timeout=30, **kw)

    def create(self, name="c1", **extra):
        body = {"name": name, "whatsapp_account": "demo-account", "template_id": "tpl-1", **extra}
        return self("POST", "/campaigns", json=body)

    def draft_with(self, n=3, name="c1"):
        cid = self.create(name).json()["data"]["id"]
        rows = [{"phone_number": f"+1555000{i:04d}", "recipient_name": f"R{i}", "template_params": {"1": "x"}}
                for i in range(n)]
        assert self("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows}).status_code == 200
        return cid

    def get(self, cid):
        return self("GET", f"/campaigns/{cid}").json()["data"]


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def test_create_returns_draft(api, sandbox):
    r = api.create("Spring sale")
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "success"
    camp = body["data"]
    assert camp["status"] == "draft" and camp["name"] == "Spring sale"
    assert camp["whatsapp_account"] == "demo-account"
    for k in ("total_recipients", "sent_count", "delivered_count", "read_count", "failed_count"):
        assert camp[k] == 0
    assert sandbox.admin.counters()["creates"]["whatomate"]["Spring sale"] == 1


@pytest.mark.parametrize("body,msg", [
    ({"whatsapp_account": "demo-account", "template_id": "t"}, "required"),
    ({"name": "x", "template_id": "t"}, "required"),
    ({"name": "x", "whatsapp_account": "demo-account"}, "required"),
    ({"name": "x", "whatsapp_account": "nope", "template_id": "t"}, "WhatsApp account not found"),
])
def test_create_validation(api, body, msg):
    r = api("POST", "/campaigns", json=body)
    assert r.status_code == 400
    assert r.json()["status"] == "error" and msg in r.json()["message"] and r.json()["data"] is None


def test_api_key_wrong_even_with_valid_jwt(sandbox):
    login = requests.post(sandbox.base_url("whatomate") + "/api/auth/login", timeout=10,
                          json={"email": "demo@example.com", "password": "demo-password"})
    token = login.json()["data"]["access_token"]
    assert Api(sandbox, key=None, token=token)("GET", "/campaigns").status_code == 200
    r = Api(sandbox, key="whm_wrong", token=token)("GET", "/campaigns")
    assert r.status_code == 401 and r.json() == {"status": "error", "message": "Invalid API key", "data": None}
    assert Api(sandbox, key=None)("GET", "/campaigns").status_code == 401


def test_jwt_login_refresh_expiry(sandbox):
    base = sandbox.base_url("whatomate") + "/api/auth"
    bad = requests.post(base + "/login", json={"email": "demo@example.com", "password": "x"}, timeout=10)
    assert bad.status_code == 401 and bad.json()["status"] == "error"
    data = requests.post(base + "/login", json={"email": "demo@example.com", "password": "demo-password"},
                         timeout=10).json()["data"]
    assert data["expires_in"] == 900 and data["access_token"].count(".") == 2
    jwt = Api(sandbox, key=None, token=data["access_token"])
    assert jwt("GET", "/campaigns").status_code == 200
    sandbox.admin.advance(901)
    expired = jwt("GET", "/campaigns")
    assert expired.status_code == 401 and expired.json()["status"] == "error"
    new = requests.post(base + "/refresh", json={"refresh_token": data["refresh_token"]}, timeout=10)
    assert new.status_code == 200
    assert Api(sandbox, key=None, token=new.json()["data"]["access_token"])("GET", "/campaigns").status_code == 200
    assert requests.post(base + "/refresh", json={"refresh_token": "junk"}, timeout=10).status_code == 401
    counters = sandbox.admin.counters()
    assert counters["logins"]["demo@example.com"] == 2 and counters["refreshes"]["demo@example.com"] == 1


def test_cookie_token_mode(sandbox):
    sandbox.admin.configure("whatomate", cookie_tokens=True)
    s = requests.Session()
    r = s.post(sandbox.base_url("whatomate") + "/api/auth/login", timeout=10,
               json={"email": "demo@example.com", "password": "demo-password"})
    assert r.status_code == 200 and "access_token" not in r.json()["data"]
    assert r.cookies.get("whm_access_token") and r.cookies.get("whm_refresh_token")
    assert s.get(sandbox.base_url("whatomate") + "/api/campaigns", timeout=10).status_code == 200
    bearer = Api(sandbox, key=None, token=r.cookies["whm_access_token"])
    assert bearer("GET", "/campaigns").status_code == 200
    ref = s.post(sandbox.base_url("whatomate") + "/api/auth/refresh", json={}, timeout=10)
    assert ref.status_code == 200 and ref.cookies.get("whm_access_token")


def test_import_rules(api):
    cid = api.create().json()["data"]["id"]
    empty = api("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": []})
    assert empty.status_code == 500 and empty.json()["status"] == "error"
    rows = [{"phone_number": "+15550001", "recipient_name": "A", "template_params": {"1": "A"}},
            {"phone_number": "+15550002", "recipient_name": "B", "template_params": {"1": "B"}}]
    r = api("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows})
    assert r.json()["data"]["added_count"] == 2 and r.json()["data"]["total_recipients"] == 2
    assert "message" in r.json()["data"]
    listed = api("GET", f"/campaigns/{cid}/recipients").json()["data"]
    assert listed["total"] == 2 and listed["recipients"][0]["status"] == "pending"
    assert listed["recipients"][1]["template_params"] == {"1": "B"}
    assert api("POST", f"/campaigns/{cid}/start").status_code == 200
    late = api("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows})
    assert late.status_code == 400 and late.json()["status"] == "error"


def test_start_progress_complete_counters(api, sandbox):
    sandbox.admin.configure("whatomate", send_rate=10, delivered_ratio=0.5)
    cid = api.draft_with(100)
    r = api("POST", f"/campaigns/{cid}/start")
    assert r.json()["data"] == {"message": "Campaign started", "status": "processing"}
    sandbox.admin.advance(5)
    mid = api.get(cid)
    assert mid["status"] == "processing" and 45 <= mid["sent_count"] <= 55
    assert mid["delivered_count"] == mid["sent_count"] // 2
    sandbox.admin.advance(10)
    done = api.get(cid)
    assert done["status"] == "completed" and done["sent_count"] == 100 and done["read_count"] == 0
    assert done["completed_at"] is not None
    again = api("POST", f"/campaigns/{cid}/start")
    assert again.status_code == 400 and again.json()["message"] == "Campaign cannot be started in current state"
    assert sandbox.admin.counters()["starts"]["whatomate"][cid] == 1


def test_start_twice_is_400(api):
    cid = api.draft_with(5)
    assert api("POST", f"/campaigns/{cid}/start").status_code == 200
    r = api("POST", f"/campaigns/{cid}/start")
    assert r.status_code == 400 and r.json()["message"] == "Campaign cannot be started in current state"


def test_start_without_recipients(api, sandbox):
    cid = api.create().json()["data"]["id"]
    r = api("POST", f"/campaigns/{cid}/start")
    assert r.status_code == 400 and r.json()["message"] == "Campaign has no pending recipients"
    sandbox.admin.configure("whatomate", legacy=True)
    r = api("POST", f"/campaigns/{cid}/start")
    assert r.status_code == 400 and r.json()["message"] == "Campaign has no recipients"


def test_pause_resume_resets_counters_and_cancel_rules(api, sandbox):
    sandbox.admin.configure("whatomate", send_rate=10)
    cid = api.draft_with(100)
    bad_pause = api("POST", f"/campaigns/{cid}/pause")
    assert bad_pause.status_code == 400  # draft cannot be paused
    api("POST", f"/campaigns/{cid}/start")
    sandbox.admin.advance(3)
    p = api("POST", f"/campaigns/{cid}/pause")
    assert p.json()["data"]["status"] == "paused"
    paused = api.get(cid)
    assert paused["status"] == "paused" and 25 <= paused["sent_count"] <= 35
    sandbox.admin.advance(100)
    assert api.get(cid)["sent_count"] == paused["sent_count"]
    assert api("POST", f"/campaigns/{cid}/pause").status_code == 400
    assert api("POST", f"/campaigns/{cid}/start").json()["data"]["status"] == "processing"
    assert api.get(cid)["sent_count"] == 0  # counters reset on resume (real-server quirk)
    sandbox.admin.advance(100)
    final = api.get(cid)
    assert final["status"] == "completed" and final["sent_count"] == 100 - paused["sent_count"]
    statuses = [r["status"] for r in api("GET", f"/campaigns/{cid}/recipients").json()["data"]["recipients"]]
    assert statuses.count("sent") == 100
    c = api("POST", f"/campaigns/{cid}/cancel")
    assert c.status_code == 400 and c.json()["status"] == "error"


def test_cancel_from_processing_then_not_again(api, sandbox):
    sandbox.admin.configure("whatomate", send_rate=1)
    cid = api.draft_with(50)
    api("POST", f"/campaigns/{cid}/start")
    assert api("POST", f"/campaigns/{cid}/cancel").json()["data"] == {"message": "Campaign cancelled",
                                                                      "status": "cancelled"}
    assert api("POST", f"/campaigns/{cid}/cancel").status_code == 400
    assert api("POST", f"/campaigns/{cid}/start").status_code == 400
    draft = api.create("d").json()["data"]["id"]
    assert api("POST", f"/campaigns/{draft}/cancel").status_code == 200


def test_legacy_queued_then_processing(api, sandbox):
    sandbox.admin.configure("whatomate", legacy=True, send_rate=100)
    cid = api.draft_with(10)
    assert api("POST", f"/campaigns/{cid}/start").json()["data"]["status"] == "queued"
    assert api.get(cid)["status"] == "queued"
    assert api("POST", f"/campaigns/{cid}/pause").json()["data"]["status"] == "paused"
    api("POST", f"/campaigns/{cid}/start")
    sandbox.admin.advance(1.05)
    assert api.get(cid)["status"] == "processing"
    sandbox.admin.advance(1)
    assert api.get(cid)["status"] == "completed"


def test_failure_ratio_deterministic(api, sandbox):
    sandbox.admin.configure("whatomate", failure_ratio=0.25, send_rate=1000)
    cid = api.draft_with(40)
    api("POST", f"/campaigns/{cid}/start")
    sandbox.admin.advance(1)
    camp = api.get(cid)
    assert camp["failed_count"] == 10 and camp["sent_count"] == 30
    recips = api("GET", f"/campaigns/{cid}/recipients").json()["data"]["recipients"]
    failed = [r for r in recips if r["status"] == "failed"]
    assert len(failed) == 10 and all(r["error_message"] for r in failed)
    sandbox.admin.reset(seed=0)
    sandbox.admin.configure("whatomate", failure_ratio=0.25, send_rate=1000)
    cid2 = api.draft_with(40)
    api("POST", f"/campaigns/{cid2}/start")
    sandbox.admin.advance(1)
    recips2 = api("GET", f"/campaigns/{cid2}/recipients").json()["data"]["recipients"]
    assert cid2 == cid
    assert [r["status"] for r in recips2] == [r["status"] for r in recips]


def test_list_paginated_search_filters(api, sandbox):
    for i in range(120):
        api.create(f"camp-{i:03d}" + (" [mk-abc]" if i == 7 else ""))
    page1 = api("GET", "/campaigns", params={"limit": 100}).json()["data"]
    assert page1["total"] == 120 and len(page1["campaigns"]) == 100 and page1["page"] == 1
    assert page1["campaigns"][0]["name"] == "camp-119"  # newest first
    page2 = api("GET", "/campaigns", params={"limit": 100, "page": 2}).json()["data"]
    assert len(page2["campaigns"]) == 20
    assert api("GET", "/campaigns").json()["data"]["limit"] == 50
    assert api("GET", "/campaigns", params={"limit": 500}).json()["data"]["limit"] == 100
    found = api("GET", "/campaigns", params={"search": "MK-ABC"}).json()["data"]
    assert [c["name"] for c in found["campaigns"]] == ["camp-007 [mk-abc]"]
    assert api("GET", "/campaigns", params={"status": "processing"}).json()["data"]["total"] == 0
    assert api("GET", "/campaigns", params={"whatsapp_account": "demo-account"}).json()["data"]["total"] == 120
    assert api("GET", "/campaigns", params={"from": "2000-01-01", "to": "2000-12-31"}).json()["data"]["total"] == 0


def test_legacy_list_is_unpaginated(api, sandbox):
    sandbox.admin.configure("whatomate", legacy=True)
    for i in range(60):
        api.create(f"c{i}")
    data = api("GET", "/campaigns", params={"page": 2, "limit": 10}).json()["data"]
    assert set(data) == {"campaigns", "total"} and len(data["campaigns"]) == 60


def test_get_update_delete(api):
    cid = api.create().json()["data"]["id"]
    assert api("GET", "/campaigns/not-a-uuid").status_code == 400
    missing = api("GET", "/campaigns/00000000-0000-4000-a000-000000000000")
    assert missing.status_code == 404 and missing.json()["message"] == "Campaign not found"
    up = api("PUT", f"/campaigns/{cid}", json={"name": "renamed"})
    assert up.json()["data"]["name"] == "renamed"
    assert api("DELETE", f"/campaigns/{cid}").status_code == 200
    assert api("GET", f"/campaigns/{cid}").status_code == 404


def test_update_only_draft_delete_not_running(api):
    cid = api.draft_with(3)
    api("POST", f"/campaigns/{cid}/start")
    assert api("PUT", f"/campaigns/{cid}", json={"name": "x"}).status_code == 400
    assert api("DELETE", f"/campaigns/{cid}").status_code == 400


def test_seed_100k_recipients(api, sandbox):
    sandbox.admin.configure(speed=0)  # only explicit advances move the clock: exact counts
    sandbox.admin.configure("whatomate", send_rate=1000)
    cid = sandbox.admin.seed_whatomate(campaigns=[{"name": "huge", "recipients": 100_000}])[0]
    assert api.get(cid)["total_recipients"] == 100_000
    assert api("POST", f"/campaigns/{cid}/start").status_code == 200
    sandbox.admin.advance(50)
    assert api.get(cid)["sent_count"] == 50_000
    recips = api("GET", f"/campaigns/{cid}/recipients").json()["data"]
    assert recips["total"] == 100_000 and recips["recipients"][49_999]["status"] == "sent"
    assert recips["recipients"][50_000]["status"] == "pending"
    sandbox.admin.advance(60)
    assert api.get(cid)["status"] == "completed"
    assert sandbox.admin.state("whatomate", cid)["public"]["sent_count"] == 100_000
