"""Contract tests: the sandbox's Whatomate plays a real server built from commit 387cae4 (default)
and, with ``whatomate_build="paginated"``, the newer builds (vendors.md §4)."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_whatsapp_campaigns.sandbox.vendors.whatomate import MAX_IMPORT_ROWS, template_id

KEY = "whm_demo_key"
WELCOME = template_id("welcome_v2")
ACCESS_DENIED = '{"status":"error","message":"Access denied"}'


class Api:
    def __init__(self, sandbox, key=KEY, token=None):
        self.base = sandbox.base_url("whatomate") + "/api"
        self.headers = {"X-API-Key": key} if key else {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, **kw):
        return requests.request(method, self.base + path, headers=self.headers, timeout=30, **kw)

    def create(self, name="c1", **extra):
        body = {"name": name, "whatsapp_account": "demo-account", "template_id": WELCOME, **extra}
        return self("POST", "/campaigns", json=body)

    def draft_with(self, n=3, name="c1"):
        cid = self.create(name).json()["data"]["id"]
        rows = [{"phone_number": f"+1555000{i:04d}", "recipient_name": f"R{i}", "template_params": {"1": "x"}}
                for i in range(n)]
        assert self("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows}).status_code == 200
        return cid

    def get(self, cid):
        return self("GET", f"/campaigns/{cid}").json()["data"]

    def refused(self, method, path, **kw):
        """The 400 envelope's message (asserting the shape on the way)."""
        r = self(method, path, **kw)
        assert r.status_code == 400, r.text
        assert r.json()["status"] == "error" and r.json()["data"] is None
        return r.json()["message"]


@pytest.fixture
def api(sandbox):
    sandbox.admin.configure(speed=0)  # only explicit advances move the clock
    return Api(sandbox)


@pytest.fixture
def paginated(sandbox):
    sandbox.admin.configure("whatomate", build="paginated")


DEMO_LOGIN = {"email": "demo@example.com", "password": "demo-password"}


def login(sandbox, **creds):
    return requests.post(sandbox.base_url("whatomate") + "/api/auth/login", timeout=10, json={**DEMO_LOGIN, **creds})


# --------------------------------------------------------------------------- create and templates


def test_create_returns_draft_with_template_name(api, sandbox):
    r = api.create("Spring sale", description="for the spring", scheduled_at="2030-01-01T09:00:00Z")
    assert r.status_code == 200  # SendEnvelope: 200, not 201
    camp = r.json()["data"]
    assert r.json()["status"] == "success"
    assert camp["status"] == "draft" and camp["name"] == "Spring sale" and camp["whatsapp_account"] == "demo-account"
    assert camp["template_id"] == WELCOME and camp["template_name"] == "welcome_v2"
    for k in ("total_recipients", "sent_count", "delivered_count", "read_count", "failed_count"):
        assert camp[k] == 0
    assert "description" not in camp and "started_at" not in camp and "completed_at" not in camp  # omitempty
    assert sandbox.admin.state("whatomate", camp["id"])["description"] == "for the spring"
    assert sandbox.admin.counters()["creates"]["whatomate"]["Spring sale"] == 1


@pytest.mark.parametrize("body,msg", [
    ({"name": "x", "whatsapp_account": "demo-account", "template_id": "welcome_v2"}, "Invalid template ID"),
    ({"name": "x", "whatsapp_account": "demo-account"}, "Invalid template ID"),
    ({"name": "x", "whatsapp_account": "demo-account", "template_id": "00000000-0000-4000-a000-000000000000"},
     "Template not found"),
    ({"name": "x", "template_id": WELCOME}, "WhatsApp account not found"),
    ({"name": "x", "whatsapp_account": "nope", "template_id": WELCOME}, "WhatsApp account not found"),
    ({"name": 5, "whatsapp_account": "demo-account", "template_id": WELCOME}, "Invalid request body"),
    ({"name": "x", "whatsapp_account": "demo-account", "template_id": WELCOME, "scheduled_at": "soon"},
     "Invalid request body"),
])
def test_create_refusals(api, body, msg):
    assert api.refused("POST", "/campaigns", json=body) == msg


def test_create_accepts_an_empty_name(api):
    r = api("POST", "/campaigns", json={"whatsapp_account": "demo-account", "template_id": WELCOME})
    assert r.status_code == 200 and r.json()["data"]["name"] == ""


def test_templates_listed_with_uuids(api, sandbox):
    seeded = sandbox.admin.seed("whatomate", accounts=["other"],
                                templates=[{"name": "welcome_v2", "whatsapp_account": "other"}])["template_ids"]
    rows = api("GET", "/templates").json()["data"]["templates"]
    assert rows[0]["id"] == seeded[0]  # newest first
    demo = {(t["name"], t["language"]): t for t in rows if t["whatsapp_account"] == "demo-account"}
    assert set(demo) == {("welcome_v2", "en"), ("welcome_v2", "es"), ("spring_sale_v2", "en"), ("order_update", "en")}
    assert demo[("welcome_v2", "en")]["id"] == WELCOME and demo[("welcome_v2", "es")]["status"] == "PENDING"
    assert {"id", "name", "language", "whatsapp_account", "status", "category"} <= set(rows[0])
    mine = api("GET", "/templates", params={"account": "demo-account", "status": "APPROVED"}).json()["data"]
    assert len(mine["templates"]) == 2 and set(mine) == {"templates"}
    # The server looks a template up by id only (not by account): another account's works too.
    assert api("POST", "/campaigns", json={"name": "x", "whatsapp_account": "demo-account",
                                           "template_id": seeded[0]}).status_code == 200


def test_accounts_listed(api):
    accounts = api("GET", "/accounts").json()["data"]["accounts"]
    assert [a["name"] for a in accounts] == ["demo-account"] and "access_token" not in accounts[0]


# --------------------------------------------------------------------------- auth


def test_api_key_wrong_even_with_valid_jwt(sandbox):
    token = login(sandbox).json()["data"]["access_token"]
    assert Api(sandbox, key=None, token=token)("GET", "/campaigns").status_code == 200
    r = Api(sandbox, key="whm_wrong", token=token)("GET", "/campaigns")
    assert r.status_code == 401 and r.json() == {"status": "error", "message": "Invalid API key", "data": None}
    missing = Api(sandbox, key=None)("GET", "/campaigns")
    assert missing.status_code == 401 and missing.json()["message"] == "Missing authorization header"
    odd = requests.get(sandbox.base_url("whatomate") + "/api/campaigns", headers={"Authorization": "Token x"},
                       timeout=10)
    assert odd.status_code == 401 and odd.json()["message"] == "Invalid authorization header format"


def test_jwt_tokens_in_body_and_refresh_rotates(sandbox):
    base = sandbox.base_url("whatomate") + "/api/auth"
    bad = login(sandbox, password="x")
    assert bad.status_code == 401 and bad.json()["message"] == "Invalid credentials"
    r = login(sandbox)
    data = r.json()["data"]
    assert not r.cookies  # 387cae4: tokens only in the JSON body
    assert set(data) == {"access_token", "refresh_token", "expires_in", "user"}
    assert data["expires_in"] == 900 and data["access_token"].count(".") == 2
    assert data["user"]["email"] == "demo@example.com"
    jwt = Api(sandbox, key=None, token=data["access_token"])
    assert jwt("GET", "/campaigns").status_code == 200
    sandbox.admin.advance(901)
    expired = jwt("GET", "/campaigns")
    assert expired.status_code == 401 and expired.json()["message"] == "Invalid or expired token"
    new = requests.post(base + "/refresh", json={"refresh_token": data["refresh_token"]}, timeout=10)
    assert new.status_code == 200
    rotated = new.json()["data"]
    assert rotated["refresh_token"] != data["refresh_token"]
    assert Api(sandbox, key=None, token=rotated["access_token"])("GET", "/campaigns").status_code == 200
    old = requests.post(base + "/refresh", json={"refresh_token": data["refresh_token"]}, timeout=10)
    assert old.status_code == 401 and old.json()["message"] == "Invalid refresh token"
    assert requests.post(base + "/refresh", json={"refresh_token": rotated["refresh_token"]},
                         timeout=10).status_code == 200
    counters = sandbox.admin.counters()
    assert counters["logins"]["demo@example.com"] == 2 and counters["refreshes"]["demo@example.com"] == 2


def test_cookie_token_login(sandbox):
    sandbox.admin.configure("whatomate", login_tokens="cookies")
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


def test_config_refuses_unknown_build(sandbox):
    with pytest.raises(RuntimeError, match="whatomate_build must be one of"):
        sandbox.admin.configure("whatomate", build="legacy")


# --------------------------------------------------------------------------- error shapes


def test_role_checks_are_text_plain_403(sandbox):
    sandbox.admin.seed_whatomate(users=[{"email": "agent@example.com", "password": "agent-pass", "role": "agent"}],
                                 api_keys=[{"key": "whm_agent_key", "role": "agent"}])
    agent = Api(sandbox, key="whm_agent_key")
    for path in ("/campaigns", "/templates", "/accounts"):
        r = agent("GET", path)
        assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/plain")
        assert r.text == ACCESS_DENIED
    token = login(sandbox, email="agent@example.com", password="agent-pass").json()["data"]["access_token"]
    assert Api(sandbox, key=None, token=token)("GET", "/campaigns").text == ACCESS_DENIED
    admin_only = agent("POST", "/api-keys", json={"name": "ci"})
    assert admin_only.status_code == 403 and admin_only.text == '{"status":"error","message":"Admin access required"}'


def test_admin_creates_an_api_key_once(api, sandbox):
    created = api("POST", "/api-keys", json={"name": "airflow"}).json()["data"]
    key = created["key"]
    assert key.startswith("whm_") and len(key) == 36 and int(key[4:], 16) >= 0
    assert created["key_prefix"] == key[4:12]
    assert Api(sandbox, key=key)("GET", "/campaigns").status_code == 200
    listed = api("GET", "/api-keys").json()["data"]
    assert "airflow" in [k["name"] for k in listed] and all("key" not in k for k in listed)
    assert api.refused("POST", "/api-keys", json={}) == "Name is required"


def test_unknown_route_and_method(api):
    nope = api("GET", "/nope")
    assert nope.status_code == 404 and nope.headers["Content-Type"].startswith("text/plain")
    assert nope.text == "404 page not found"
    wrong = api("PATCH", "/campaigns")
    assert wrong.status_code == 405
    assert wrong.json() == {"status": "error", "message": "Request method not allowed", "data": None,
                            "error_type": "GeneralException"}


# --------------------------------------------------------------------------- recipients


def test_import_rules(api):
    cid = api.create().json()["data"]["id"]
    for body in ({"recipients": []}, {}):
        empty = api("POST", f"/campaigns/{cid}/recipients/import", json=body)
        assert empty.status_code == 500 and empty.json()["message"] == "Failed to add recipients"
    long_phone = [{"phone_number": "+1555000000100000000000"}, {"phone_number": "+15550002"}]
    assert api("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": long_phone}).status_code == 500
    assert api.get(cid)["total_recipients"] == 0  # one INSERT: nothing of a refused batch lands
    rows = [{"phone_number": "+15550001", "recipient_name": "A", "template_params": {"1": "A"}},
            {"phone_number": "+15550001", "recipient_name": "A again"},  # no de-duplication server-side
            {"phone_number": "not a phone"}]  # nor validation
    r = api("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows})
    assert r.json()["data"] == {"message": "Recipients added successfully", "added_count": 3, "total_recipients": 3}
    listed = api("GET", f"/campaigns/{cid}/recipients").json()["data"]
    assert listed["total"] == 3 and listed["recipients"][0]["status"] == "pending"
    assert listed["recipients"][0]["template_params"] == {"1": "A"} and listed["recipients"][2]["template_params"] == {}
    assert api.refused("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": "x"}) == "Invalid request body"
    assert api("POST", f"/campaigns/{cid}/start").status_code == 200
    assert (api.refused("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows})
            == "Can only add recipients to draft campaigns")


def test_import_over_the_parameter_limit_is_a_500(api):
    cid = api.create().json()["data"]["id"]
    rows = [{"phone_number": f"+1555{i:07d}"} for i in range(MAX_IMPORT_ROWS + 1)]
    big = api("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows})
    assert big.status_code == 500 and MAX_IMPORT_ROWS + 1 < 6_600
    ok = api("POST", f"/campaigns/{cid}/recipients/import", json={"recipients": rows[:5_000]})
    assert ok.status_code == 200 and ok.json()["data"]["total_recipients"] == 5_000


# --------------------------------------------------------------------------- state machine


def test_state_refusal_messages(api, sandbox):
    empty = api.create("empty").json()["data"]["id"]
    assert api.refused("POST", f"/campaigns/{empty}/start") == "Campaign has no recipients"
    assert api.refused("POST", f"/campaigns/{empty}/pause") == "Campaign is not running"
    cid = api.draft_with(100)
    api("POST", f"/campaigns/{cid}/start")
    assert api.refused("POST", f"/campaigns/{cid}/start") == "Campaign cannot be started in current state"
    assert api.refused("PUT", f"/campaigns/{cid}", json={"name": "x"}) == "Can only update draft campaigns"
    assert api.refused("DELETE", f"/campaigns/{cid}") == "Cannot delete running campaign"
    sandbox.admin.advance(60)
    assert api.get(cid)["status"] == "completed"
    assert api.refused("POST", f"/campaigns/{cid}/cancel") == "Campaign already finished"
    assert api.refused("POST", f"/campaigns/{cid}/pause") == "Campaign is not running"


def test_start_queued_then_processing_and_progress_is_the_campaign(api, sandbox):
    sandbox.admin.configure("whatomate", send_rate=10, delivered_ratio=0.5)
    cid = api.draft_with(100)
    assert api("POST", f"/campaigns/{cid}/start").json()["data"] == {"message": "Campaign started", "status": "queued"}
    assert api.get(cid)["status"] == "queued"
    sandbox.admin.advance(0.1)  # the worker picks it up milliseconds later
    assert api.get(cid)["status"] == "processing"
    sandbox.admin.advance(5)
    mid = api.get(cid)
    assert mid["status"] == "processing" and 45 <= mid["sent_count"] <= 55
    assert mid["delivered_count"] == mid["sent_count"] // 2
    assert api("GET", f"/campaigns/{cid}/progress").json()["data"] == mid
    sandbox.admin.advance(10)
    done = api.get(cid)
    assert done["status"] == "completed" and done["sent_count"] == 100 and done["read_count"] == 0
    assert "completed_at" in done and sandbox.admin.counters()["starts"]["whatomate"][cid] == 1


def test_scheduled_never_appears(api, sandbox):
    cid = api.create(scheduled_at="2000-01-01T00:00:00Z").json()["data"]["id"]
    sandbox.admin.advance(3600)
    camp = api.get(cid)
    assert camp["status"] == "draft" and camp["scheduled_at"] == "2000-01-01T00:00:00Z"


def test_all_failed_ends_completed_missing_account_fails(api, sandbox):
    sandbox.admin.configure("whatomate", failure_ratio=1.0, send_rate=100)
    cid = api.draft_with(10)
    api("POST", f"/campaigns/{cid}/start")
    sandbox.admin.advance(5)
    camp = api.get(cid)
    assert camp["status"] == "completed" and camp["failed_count"] == 10 and camp["sent_count"] == 0
    orphan = sandbox.admin.seed_whatomate(campaigns=[{"name": "orphan", "whatsapp_account": "gone", "recipients": 3}])[0]
    api("POST", f"/campaigns/{orphan}/start")
    sandbox.admin.advance(5)
    assert api.get(orphan)["status"] == "failed"


def test_pause_resume_resets_counters_cancel_keeps_completed_at_empty(api, sandbox):
    sandbox.admin.configure("whatomate", send_rate=10)
    cid = api.draft_with(100)
    api("POST", f"/campaigns/{cid}/start")
    sandbox.admin.advance(3)
    assert api("POST", f"/campaigns/{cid}/pause").json()["data"] == {"message": "Campaign paused", "status": "paused"}
    paused = api.get(cid)
    assert paused["status"] == "paused" and 25 <= paused["sent_count"] <= 35
    sandbox.admin.advance(100)
    assert api.get(cid)["sent_count"] == paused["sent_count"]
    assert api("POST", f"/campaigns/{cid}/start").json()["data"]["status"] == "queued"
    assert api.get(cid)["sent_count"] == 0  # counters reset on resume (real-server quirk)
    sandbox.admin.advance(100)
    final = api.get(cid)
    assert final["status"] == "completed" and final["sent_count"] == 100 - paused["sent_count"]
    statuses = [r["status"] for r in api("GET", f"/campaigns/{cid}/recipients").json()["data"]["recipients"]]
    assert statuses.count("sent") == 100
    running = api.draft_with(50, name="r")
    api("POST", f"/campaigns/{running}/start")
    sandbox.admin.advance(1)
    assert api("POST", f"/campaigns/{running}/cancel").json()["data"] == {"message": "Campaign cancelled",
                                                                          "status": "cancelled"}
    cancelled = api.get(running)
    assert cancelled["status"] == "cancelled" and "completed_at" not in cancelled
    assert api.refused("POST", f"/campaigns/{running}/start") == "Campaign cannot be started in current state"
    draft = api.create("d").json()["data"]["id"]
    assert api("POST", f"/campaigns/{draft}/cancel").status_code == 200


def test_failure_ratio_deterministic(api, sandbox):
    def run():
        sandbox.admin.configure("whatomate", failure_ratio=0.25, send_rate=1000)
        cid = api.draft_with(40)
        api("POST", f"/campaigns/{cid}/start")
        sandbox.admin.advance(1)
        return cid, api("GET", f"/campaigns/{cid}/recipients").json()["data"]["recipients"]

    cid, recips = run()
    camp = api.get(cid)
    assert camp["failed_count"] == 10 and camp["sent_count"] == 30
    failed = [r for r in recips if r["status"] == "failed"]
    assert len(failed) == 10 and all(r["error_message"] for r in failed)
    assert all(r["whatsapp_message_id"].startswith("wamid.") for r in recips if r["status"] == "sent")
    sandbox.admin.reset(seed=0)
    sandbox.admin.configure(speed=0)
    cid2, recips2 = run()
    assert cid2 == cid and [r["status"] for r in recips2] == [r["status"] for r in recips]


# --------------------------------------------------------------------------- list


def test_list_ignores_paging_and_search(api):
    for i in range(60):
        api.create(f"c{i}" + (" [mk-abc]" if i == 7 else ""))
    api.draft_with(1, name="with-one")
    data = api("GET", "/campaigns", params={"page": 2, "limit": 10, "search": "mk-abc"}).json()["data"]
    assert set(data) == {"campaigns", "total"} and len(data["campaigns"]) == data["total"] == 61
    assert data["campaigns"][0]["name"] == "with-one"  # newest first
    cid = data["campaigns"][0]["id"]
    api("POST", f"/campaigns/{cid}/start")
    queued = api("GET", "/campaigns", params={"status": "queued"}).json()["data"]
    assert [c["id"] for c in queued["campaigns"]] == [cid] and queued["total"] == 1
    assert api("GET", "/campaigns", params={"whatsapp_account": "other"}).json()["data"]["total"] == 0


def test_paginated_build_pages_and_searches(api, paginated):
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


def test_paginated_build_starts_straight_to_processing(api, sandbox, paginated):
    empty = api.create().json()["data"]["id"]
    assert api.refused("POST", f"/campaigns/{empty}/start") == "Campaign has no pending recipients"
    cid = api.draft_with(5)
    assert api("POST", f"/campaigns/{cid}/start").json()["data"]["status"] == "processing"
    assert api.get(cid)["status"] == "processing"
    assert api.refused("POST", f"/campaigns/{cid}/start") == "Campaign cannot be started in current state"


# --------------------------------------------------------------------------- get, update, delete, scale


def test_get_update_delete(api):
    cid = api.create(scheduled_at="2030-01-01T09:00:00Z").json()["data"]["id"]
    assert api.refused("GET", "/campaigns/not-a-uuid") == "Invalid campaign ID"
    missing = api("GET", "/campaigns/00000000-0000-4000-a000-000000000000")
    assert missing.status_code == 404 and missing.json()["message"] == "Campaign not found"
    up = api("PUT", f"/campaigns/{cid}", json={"name": "renamed"}).json()["data"]
    assert up["name"] == "renamed" and "scheduled_at" not in up  # the server writes absent fields as empty
    blank = api("PUT", f"/campaigns/{cid}", json={"template_id": template_id("spring_sale_v2")}).json()["data"]
    assert blank["name"] == "" and blank["template_name"] == "spring_sale_v2"
    assert api.refused("PUT", f"/campaigns/{cid}", json={"template_id": "spring_sale_v2"}) == "Invalid template ID"
    deleted = api("DELETE", f"/campaigns/{cid}")
    assert deleted.json()["data"] == {"message": "Campaign deleted successfully"}
    assert api("GET", f"/campaigns/{cid}").status_code == 404


def test_seed_100k_recipients(api, sandbox):
    sandbox.admin.configure("whatomate", send_rate=1000)
    cid = sandbox.admin.seed_whatomate(campaigns=[{"name": "huge", "recipients": 100_000}])[0]
    assert api.get(cid)["total_recipients"] == 100_000 and api.get(cid)["template_name"] == "welcome_v2"
    assert api("POST", f"/campaigns/{cid}/start").status_code == 200
    sandbox.admin.advance(50.05)
    assert api.get(cid)["sent_count"] == 50_000
    recips = api("GET", f"/campaigns/{cid}/recipients").json()["data"]
    assert recips["total"] == 100_000 and recips["recipients"][49_999]["status"] == "sent"
    assert recips["recipients"][50_000]["status"] == "pending"
    sandbox.admin.advance(60)
    assert api.get(cid)["status"] == "completed"
    assert sandbox.admin.state("whatomate", cid)["public"]["sent_count"] == 100_000
