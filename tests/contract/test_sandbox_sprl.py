"""Contract tests: SPRL tracking endpoint of the sandbox."""

from __future__ import annotations

import pytest
import requests

KEY = "sprl_demo_key"


def track(sandbox, body=None, key=KEY, form=False, **overrides):
    payload = {"client_id": "demo-client", "account_id": "demo-account", "campaign_uid": "demo-campaign"}
    payload.update(body or {})
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = sandbox.base_url("sprl") + "/whatsapp/v1/campaigns/tracking"
    if form:
        return requests.post(url, data=payload, headers=headers, timeout=10)
    return requests.post(url, json=payload, headers=headers, timeout=10)


def test_success_envelope_and_fields(sandbox):
    r = track(sandbox)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] is True and body["code"] == 100
    camp = body["data"]["campaign"]
    assert camp["campaign_id"] == "demo-campaign"
    assert camp["status"] == "completed"
    assert camp["total"] == 120
    assert camp["sent"] + camp["failed"] == 120
    assert camp["delivered"] <= camp["sent"] and camp["read"] <= camp["delivered"]
    assert camp["replied"] <= camp["read"]
    assert camp["delivery_rate"] == round(camp["delivered"] * 100 / camp["sent"], 2)
    assert body["data"]["pagination"] == {"current_page": 1, "last_page": 3, "per_page": 50, "total": 120}
    contact = body["data"]["contacts"][0]
    assert set(contact) == {"phone", "status", "message_id", "created_at", "sent_at", "delivered_at",
                            "read_at", "replied_at"}
    assert contact["message_id"].startswith("wamid.")


def test_pagination_walks_all_contacts(sandbox):
    seen = []
    page = 1
    while True:
        data = track(sandbox, page=page, per_page=7).json()["data"]
        seen += [c["message_id"] for c in data["contacts"]]
        if data["pagination"]["current_page"] >= data["pagination"]["last_page"]:
            break
        page += 1
    assert page == 18
    assert len(seen) == len(set(seen)) == 120


def test_ignore_page_mode_repeats_first_page(sandbox):
    sandbox.admin.configure("sprl", ignore_page=True)
    first = track(sandbox, page=1, per_page=10).json()["data"]
    second = track(sandbox, page=2, per_page=10).json()["data"]
    assert first["contacts"][0]["message_id"] == second["contacts"][0]["message_id"]
    assert second["pagination"]["current_page"] == 1
    assert second["pagination"]["last_page"] == 12


def test_form_urlencoded_body(sandbox):
    r = track(sandbox, form=True, per_page="5")
    assert r.status_code == 200
    assert len(r.json()["data"]["contacts"]) == 5


def test_status_and_phone_filters(sandbox):
    full = track(sandbox, per_page=100, page=1).json()["data"]
    failed = track(sandbox, status="failed", per_page=100).json()["data"]
    assert failed["pagination"]["total"] == full["campaign"]["failed"]
    assert all(c["status"] == "failed" for c in failed["contacts"])
    replied = track(sandbox, status="replied", per_page=100).json()["data"]
    assert replied["pagination"]["total"] == full["campaign"]["replied"]
    phone = full["contacts"][3]["phone"]
    one = track(sandbox, phone=phone).json()["data"]
    assert [c["phone"] for c in one["contacts"]] == [phone]


def test_large_generated_campaign_is_cheap(sandbox):
    uid = sandbox.admin.seed_sprl(campaigns=[{"campaign_uid": "big", "contact_count": 100_000}])[0]
    r = track(sandbox, campaign_uid=uid, per_page=100, page=1000)
    data = r.json()["data"]
    assert data["pagination"]["last_page"] == 1000
    assert len(data["contacts"]) == 100
    assert data["campaign"]["total"] == 100_000


def test_running_campaign_progresses_with_clock(sandbox):
    sandbox.admin.seed_sprl(campaigns=[{"campaign_uid": "live", "contact_count": 100, "status": "running",
                                        "send_rate": 10, "queued_for": 5}])
    assert track(sandbox, campaign_uid="live").json()["data"]["campaign"]["status"] == "queued"
    sandbox.admin.advance(10)
    camp = track(sandbox, campaign_uid="live").json()["data"]["campaign"]
    assert camp["status"] == "running" and 40 <= camp["sent"] + camp["failed"] <= 60
    pending = track(sandbox, campaign_uid="live", status="pending").json()["data"]["pagination"]["total"]
    assert pending == 100 - camp["sent"] - camp["failed"]
    sandbox.admin.advance(10)
    assert track(sandbox, campaign_uid="live").json()["data"]["campaign"]["status"] == "completed"


def test_queued_campaign_stays_queued(sandbox):
    sandbox.admin.seed_sprl(campaigns=[{"campaign_uid": "stuck", "status": "queued"}])
    sandbox.admin.advance(86400)
    camp = track(sandbox, campaign_uid="stuck").json()["data"]["campaign"]
    assert camp["status"] == "queued" and camp["sent"] == 0


@pytest.mark.parametrize("key,client", [(None, "demo-client"), ("wrong", "demo-client"), (KEY, "other")])
def test_101_invalid_credentials(sandbox, key, client):
    r = track(sandbox, key=key, client_id=client)
    assert r.status_code == 401
    assert r.json() == {"status": False, "code": 101, "message": r.json()["message"], "flag": "INVALID_CREDENTIALS"}


@pytest.mark.parametrize("override,field", [
    ({"campaign_uid": None}, "campaign_uid"), ({"per_page": 101}, "per_page"), ({"per_page": 0}, "per_page"),
    ({"status": "bogus"}, "status"), ({"campaign_uid": "nope"}, "campaign_uid"),
    ({"account_id": "other"}, "account_id")])
def test_102_validation(sandbox, override, field):
    r = track(sandbox, **override)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == 102 and body["flag"] == "INVALID_PARAMETER" and body["status"] is False
    assert field in body["errors"] and isinstance(body["errors"][field], list)


@pytest.mark.parametrize("flags,status,code,flag", [
    ({"blocked": "temp"}, 403, 103, "ACCOUNT_TEMP_BLOCKED"),
    ({"blocked": "permanent"}, 403, 103, "ACCOUNT_PERMANENT_BLOCKED"),
    ({"insufficient_balance": True}, 400, 104, "INSUFFICIENT_BALANCE"),
    ({"limit_reached": "daily"}, 429, 129, "DAILY_LIMIT_REACHED"),
    ({"limit_reached": "monthly"}, 429, 129, "MONTHLY_LIMIT_REACHED"),
    ({"limit_reached": "total"}, 429, 129, "TOTAL_LIMIT_REACHED"),
])
def test_account_flag_errors(sandbox, flags, status, code, flag):
    sandbox.admin.seed_sprl(clients=[{"client_id": "demo-client", **flags}])
    r = track(sandbox)
    assert r.status_code == status
    assert r.json()["code"] == code and r.json()["flag"] == flag and r.json()["status"] is False


def test_105_unexpected_error_via_fault(sandbox):
    sandbox.admin.fault("error", vendor="sprl", status=500, times=1)
    r = track(sandbox)
    assert r.status_code == 500
    assert r.json()["code"] == 105 and r.json()["flag"] == "UNEXPECTED_ERROR" and "error" in r.json()
    assert track(sandbox).status_code == 200
