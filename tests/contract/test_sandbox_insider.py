"""Contract tests: Insider One v1 (API key), v2 gateway (OAuth) and transactional statistics."""

from __future__ import annotations

import pytest
import requests

KEY = "INS.demo-api-key"
DAY = 86400
T2024 = 1704067200  # 2024-01-01


def v1(sandbox, path, body, key=KEY, raw=None):
    headers = {"x-ins-auth-key": key} if key else {}
    url = sandbox.base_url("insider") + path
    if raw is not None:
        return requests.post(url, data=raw, headers={**headers, "Content-Type": "application/json"}, timeout=10)
    return requests.post(url, json=body, headers=headers, timeout=10)


DEMO_SECRET = "demo-secret"  # sandbox-only demo value


def mint(sandbox, client_id="demo-client", secret=DEMO_SECRET, scopes=("wa-stats-api",)):
    return requests.post(sandbox.base_url("insider_oauth") + "/auth/token", timeout=10,
                         json={"client_id": client_id, "client_secret": secret, "scopes": list(scopes)})


def v2(sandbox, body, token):
    return requests.post(sandbox.base_url("insider_oauth") + "/api/wa/v2/statistics/campaign", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_flat_shape_has_all_fields(sandbox):
    body = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1001}).json()
    for field in ("sent", "delivered", "open", "click", "conversion", "revenue", "drop", "targeted",
                  "unsubscribe", "undelivered", "deliveryPending"):
        assert isinstance(body[field], int), field
    assert body["targeted"] == 1000 and body["sent"] == 970
    assert sum(body["dropDetails"].values()) == body["drop"]
    assert len(body["dropDetails"]) == 12 and len(body["undeliveredDetails"]) == 9
    assert sum(body["undeliveredDetails"].values()) == body["undelivered"]
    assert "responses" not in body


def test_conversational_campaign_has_responses(sandbox):
    body = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1003}).json()
    assert {"cardId", "buttonName", "sent", "delivered", "open", "click", "conversion", "revenue",
            "isNoReplyMessage"} == set(body["responses"][0])
    assert body["responseSummary"]["sent"] == sum(r["sent"] for r in body["responses"])


def test_wrapped_shape(sandbox):
    body = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1002}).json()
    assert set(body) == {"data"}
    assert set(body["data"]["statistics"]) == {"sent", "delivered", "read"}
    assert body["data"]["statistics"]["sent"] == 970


def test_window_sums_daily_rows(sandbox):
    sandbox.admin.seed_insider(campaigns=[{"campaign_id": 77, "daily": [
        {"date": "2024-01-01", "targeted": 100}, {"date": "2024-01-02", "targeted": 200},
        {"date": "2024-01-03", "targeted": 400}]}])
    whole = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 77}).json()
    assert whole["targeted"] == 700
    part = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 77, "start_time": T2024 + DAY,
                                                   "end_time": T2024 + 2 * DAY - 1}).json()
    assert part["targeted"] == 200
    two = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 77, "start_time": T2024 + DAY,
                                                  "end_time": T2024 + 2 * DAY}).json()
    assert two["targeted"] == 600


def test_delivery_pending_drains_over_sandbox_time(sandbox):
    sandbox.admin.seed_insider(campaigns=[{"campaign_id": 88, "delivery_pending": 50, "drain_rate": 1}])
    first = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 88}).json()
    assert first["deliveryPending"] in (49, 50)
    sandbox.admin.advance(20)
    mid = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 88}).json()
    assert 28 <= mid["deliveryPending"] <= 30 and mid["delivered"] > first["delivered"]
    sandbox.admin.advance(100)
    done = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 88}).json()
    again = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 88}).json()
    assert done["deliveryPending"] == 0 and done == again
    assert done["delivered"] == first["delivered"] + first["deliveryPending"]


@pytest.mark.parametrize("body,code", [
    ({}, "3002"), ({"campaign_id": 0}, "3002"), ({"campaign_id": "1001"}, "3002"),
    ({"campaign_id": 1001, "start_time": 123}, "3002"),
    ({"campaign_id": 1001, "start_time": T2024, "end_time": T2024}, "3002"),
    ({"campaign_id": 1001, "start_time": T2024, "end_time": T2024 + 366 * DAY}, "3002"),
    ({"campaign_id": 424242}, "3004"),
])
def test_v1_400_errors_use_string_codes(sandbox, body, code):
    r = v1(sandbox, "/v1/statistics/campaign", body)
    assert r.status_code == 400
    assert r.json()["errorCode"] == code and isinstance(r.json()["message"], str)


def test_one_year_range_is_accepted(sandbox):
    r = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1001, "start_time": T2024,
                                                "end_time": T2024 + 365 * DAY})
    assert r.status_code == 200


def test_unparseable_body_3001(sandbox):
    r = v1(sandbox, "/v1/statistics/campaign", None, raw="{not json")
    assert r.status_code == 400 and r.json()["errorCode"] == "3001"


def test_v1_auth_errors(sandbox):
    missing = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1001}, key=None)
    assert missing.status_code == 401 and missing.json()["errorCode"] == "1001"
    wrong = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1001}, key="INS.nope")
    assert wrong.status_code == 401 and "errorCode" not in wrong.json()


def test_campaign_of_other_partner_is_3004(sandbox):
    sandbox.admin.seed_insider(keys=[{"partner": "p2", "api_key": "INS.other"}],
                               campaigns=[{"campaign_id": 5, "partner": "p2"}])
    assert v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 5}, key="INS.other").status_code == 200
    r = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 5})
    assert r.status_code == 400 and r.json()["errorCode"] == "3004"


@pytest.mark.parametrize("flag,path,code", [
    ("product_inactive", "/v1/statistics/campaign", "3007"),
    ("ip_blocked", "/v1/statistics/campaign", "1088"),
    ("ip_blocked", "/v1/statistics/transactional", "1088"),
    ("transactional_inactive", "/v1/statistics/transactional", "3005"),
])
def test_403_account_flags(sandbox, flag, path, code):
    sandbox.admin.seed_insider(keys=[{"partner": "demo", "api_key": KEY, flag: True}])
    r = v1(sandbox, path, {"campaign_id": 1001, "start_time": T2024, "end_time": T2024 + DAY})
    assert r.status_code == 403 and r.json()["errorCode"] == code


def test_transactional_inactive_does_not_block_campaign_stats(sandbox):
    sandbox.admin.seed_insider(keys=[{"partner": "demo", "api_key": KEY, "transactional_inactive": True}])
    assert v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1001}).status_code == 200


def test_rate_limit_2021(sandbox):
    sandbox.admin.configure("insider", rate_limit=5)
    codes = [v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1001}) for _ in range(8)]
    limited = [r for r in codes if r.status_code == 429]
    assert len(limited) >= 3
    assert limited[0].json()["errorCode"] == "2021" and int(limited[0].headers["Retry-After"]) >= 1
    assert sandbox.admin.counters()["rate_limited"]["insider"] == len(limited)
    sandbox.admin.advance(2)
    assert v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 1001}).status_code == 200


def test_oauth_flow_and_expiry(sandbox):
    sandbox.admin.configure("insider", token_ttl=120)
    tok = mint(sandbox).json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 120 and tok["access_token"]
    r = v2(sandbox, {"campaign_id": 1001}, tok["access_token"])
    assert r.status_code == 200 and r.json()["sent"] == 970
    sandbox.admin.advance(121)
    expired = v2(sandbox, {"campaign_id": 1001}, tok["access_token"])
    assert expired.status_code == 401 and expired.json()["error"]["code"] == 1001
    unknown = v2(sandbox, {"campaign_id": 1001}, "garbage")
    assert unknown.status_code == 401


def test_gateway_errors_use_int_codes(sandbox):
    token = mint(sandbox).json()["access_token"]
    r = v2(sandbox, {"campaign_id": 999999}, token)
    assert r.status_code == 400 and r.json() == {"error": {"code": 3004, "message": "Campaign not found"}}


def test_error_style_configurable(sandbox):
    sandbox.admin.configure("insider", error_style="object")
    r = v1(sandbox, "/v1/statistics/campaign", {"campaign_id": 999999})
    assert r.json()["error"]["code"] == 3004


def test_oauth_bad_credentials_and_scope(sandbox):
    assert mint(sandbox, secret="nope").status_code == 401
    r = mint(sandbox, scopes=["other"])
    assert r.status_code == 400 and r.json()["error"]["code"] == 3002


def test_oauth_mint_limit(sandbox):
    statuses = [mint(sandbox).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429, 429]
    assert sandbox.admin.counters()["tokens_minted"]["demo-client"] == 10
    assert sandbox.admin.counters()["mints_refused"] == {"demo-client": 2}
    sandbox.admin.advance(61)
    assert mint(sandbox).status_code == 200


def test_transactional_chart_and_counters(sandbox):
    r = v1(sandbox, "/v1/statistics/transactional", {"start_time": T2024, "end_time": T2024 + 7 * DAY - 1})
    body = r.json()
    chart = body["chart"]
    assert chart["dates"][0] == "2024-01-01" and len(chart["dates"]) == 7
    assert chart["datesAsTimestamp"][0] == T2024
    for key in ("sent", "delivered", "open", "click", "conversion", "verified", "responses",
                "clickFromResponses", "conversionFromResponses"):
        assert len(chart[key]) == 7 and sum(chart[key]) == body[key]
    one = v1(sandbox, "/v1/statistics/transactional", {"start_time": T2024, "end_time": T2024 + 7 * DAY - 1,
                                                       "accounts": ["+905551110000"]}).json()
    assert 0 < one["sent"] < body["sent"]


@pytest.mark.parametrize("body,field", [
    ({"end_time": T2024}, "start_time"), ({"start_time": T2024}, "end_time"),
    ({"start_time": 1514764799, "end_time": 1514764799 + DAY}, "time.start"),
    ({"start_time": T2024, "end_time": T2024 + 366 * DAY}, "time.range"),
])
def test_transactional_422(sandbox, body, field):
    r = v1(sandbox, "/v1/statistics/transactional", body)
    assert r.status_code == 422
    assert field in r.json()["errors"] and isinstance(r.json()["errors"][field], list)


def test_transactional_windows_sum_to_admin_total(sandbox):
    start, end = 1577836800, 1577836800 + 912 * DAY  # 2020-01-01 + ~2.5 years
    total = sandbox.admin.transactional_total(start, end)
    windows, s = [], start
    while s <= end:
        e = min(end, s + 365 * DAY - 1)
        windows.append(v1(sandbox, "/v1/statistics/transactional", {"start_time": s, "end_time": e}).json())
        s = e + 1
    assert len(windows) == 3
    assert sum(w["sent"] for w in windows) == total["sent"]
    assert sum(w["conversion"] for w in windows) == total["conversion"]
    assert sum(len(w["chart"]["dates"]) for w in windows) == total["days"] == 913


def test_transactional_same_seed_same_data(sandbox):
    body = {"start_time": T2024, "end_time": T2024 + 30 * DAY}
    first = v1(sandbox, "/v1/statistics/transactional", body).json()
    sandbox.admin.reset(seed=0)
    assert v1(sandbox, "/v1/statistics/transactional", body).json() == first
    sandbox.admin.reset(seed=1)
    assert v1(sandbox, "/v1/statistics/transactional", body).json()["sent"] != first["sent"]


def test_transactional_wrapped_shape(sandbox):
    sandbox.admin.seed_insider(keys=[{"partner": "demo", "api_key": KEY, "transactional_shape": "wrapped"}])
    body = v1(sandbox, "/v1/statistics/transactional", {"start_time": T2024, "end_time": T2024 + DAY}).json()
    assert set(body["data"]["statistics"]) == {"sent", "delivered", "read"}
