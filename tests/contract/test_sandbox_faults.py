"""Contract tests: fault injection, configurable rate limits, admin API, counters, runner."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_whatsapp_campaigns.sandbox import SandboxServer
from airflow_provider_whatsapp_campaigns.sandbox.vendors.whatomate import template_id

WAPL = {"Authorization": "Bearer wapl_demo_key"}
WHM = {"X-API-Key": "whm_demo_key"}


def wapl_create(sandbox, name="promo"):
    return requests.post(sandbox.base_url("waplify") + "/api/v1/campaigns/", headers=WAPL, timeout=10,
                         json={"name": name, "template_name": "t", "contacts": [{"phone": "+447700000001"}]})


def whm_create(sandbox, name):
    return requests.post(sandbox.base_url("whatomate") + "/api/campaigns", headers=WHM, timeout=10,
                         json={"name": name, "whatsapp_account": "demo-account", "template_id": template_id("welcome_v2")})


@pytest.mark.parametrize("vendor,status,check", [
    ("waplify", 503, lambda b: b["error"] == "internal_error"),
    ("whatomate", 500, lambda b: b["status"] == "error" and b["data"] is None),
])
def test_error_fault_uses_vendor_body_then_clears(sandbox, vendor, status, check):
    sandbox.admin.fault("error", vendor=vendor, status=status, times=2)
    send = wapl_create if vendor == "waplify" else whm_create
    first, second, third = (send(sandbox, f"n{i}") for i in range(3))
    assert first.status_code == second.status_code == status and check(first.json())
    assert third.status_code in (200, 201)
    assert sandbox.admin.faults() == []


def test_fail_next_n_with_status_matching_method_and_path(sandbox):
    sandbox.admin.fault("error", vendor="insider", method="POST", path=r"/v1/statistics/campaign$", status=429,
                        times=1)
    url = sandbox.base_url("insider") + "/v1/statistics/campaign"
    tx = requests.post(sandbox.base_url("insider") + "/v1/statistics/transactional", timeout=10,
                       headers={"x-ins-auth-key": "INS.demo-api-key"},
                       json={"start_time": 1704067200, "end_time": 1704153600})
    assert tx.status_code == 200  # path did not match
    r = requests.post(url, json={"campaign_id": 1001}, headers={"x-ins-auth-key": "INS.demo-api-key"}, timeout=10)
    assert r.status_code == 429 and r.json()["errorCode"] == "2021"
    ok = requests.post(url, json={"campaign_id": 1001}, headers={"x-ins-auth-key": "INS.demo-api-key"}, timeout=10)
    assert ok.status_code == 200


def test_reset_fault_gives_no_response_and_no_action(sandbox):
    sandbox.admin.fault("reset", vendor="waplify", method="POST", times=1)
    with pytest.raises(requests.ConnectionError):
        wapl_create(sandbox)
    assert sandbox.admin.counters()["creates"].get("waplify", {}) == {}
    assert wapl_create(sandbox).status_code == 201


def test_lost_response_applies_the_action(sandbox):
    sandbox.admin.fault("lost", vendor="whatomate", method="POST", path=r"/api/campaigns$", times=1)
    with pytest.raises(requests.ConnectionError):
        whm_create(sandbox, "marker-123")
    listed = requests.get(sandbox.base_url("whatomate") + "/api/campaigns", headers=WHM,
                          params={"search": "marker-123"}, timeout=10).json()["data"]
    assert listed["total"] == 1  # created although the client never saw a response
    assert sandbox.admin.counters()["creates"]["whatomate"]["marker-123"] == 1


def test_lost_response_on_start(sandbox):
    sandbox.admin.configure(speed=0)
    cid = sandbox.admin.seed_whatomate(campaigns=[{"name": "x", "recipients": 5}])[0]
    sandbox.admin.fault("lost", vendor="whatomate", path=r"/start$", times=1)
    url = sandbox.base_url("whatomate") + f"/api/campaigns/{cid}/start"
    with pytest.raises(requests.ConnectionError):
        requests.post(url, headers=WHM, timeout=10)
    assert sandbox.admin.state("whatomate", cid)["status"] == "queued"  # started: 387cae4 queues first
    assert sandbox.admin.counters()["starts"]["whatomate"][cid] == 1


def test_slow_fault_delays(sandbox):
    sandbox.admin.fault("slow", vendor="waplify", delay_ms=300, times=1)
    t0 = time.monotonic()
    assert wapl_create(sandbox).status_code == 201
    assert time.monotonic() - t0 >= 0.3
    t1 = time.monotonic()
    wapl_create(sandbox)
    assert time.monotonic() - t1 < 0.3


def test_stalled_request_whose_client_left_is_not_applied(sandbox):
    """A killed worker's request must not land later: the server drops it, as Go cancels its context."""
    sandbox.admin.fault("slow", vendor="whatomate", method="POST", delay_ms=600, times=1)
    with pytest.raises(requests.Timeout), requests.Session() as session:
        session.post(sandbox.base_url("whatomate") + "/api/campaigns", headers=WHM, timeout=0.2,
                     json={"name": "gone", "whatsapp_account": "demo-account", "template_id": template_id("welcome_v2")})
    deadline = time.monotonic() + 10
    while sandbox.admin.counters()["abandoned"].get("whatomate") != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    counters = sandbox.admin.counters()
    assert counters["abandoned"] == {"whatomate": 1}
    assert counters["creates"].get("whatomate", {}) == {}


def test_fault_can_skip_the_first_matching_requests(sandbox):
    sandbox.admin.fault("error", vendor="waplify", method="POST", status=500, times=1, skip=2)
    assert [wapl_create(sandbox, f"s{i}").status_code for i in range(4)] == [201, 201, 500, 201]


def test_peak_rps_is_the_busiest_one_second_window_per_key(sandbox):
    sandbox.admin.configure("waplify", rate_limit=5)
    for i in range(3):
        assert wapl_create(sandbox, f"p{i}").status_code == 201
    assert sandbox.admin.counters()["peak_rps"] == {"waplify": 3}


def test_probabilistic_fault_is_seeded(sandbox):
    def run():
        sandbox.admin.reset(seed=5)
        sandbox.admin.configure("waplify", rate_limit=None)
        sandbox.admin.fault("error", vendor="waplify", probability=0.5)
        return [wapl_create(sandbox).status_code for _ in range(20)]

    first = run()
    assert 0 < first.count(500) < 20
    assert run() == first


def test_fault_validation(sandbox):
    r = requests.post(sandbox.url + "/__sandbox__/faults", json={"mode": "explode"}, timeout=10)
    assert r.status_code == 400


@pytest.mark.parametrize("vendor,path,headers,body,check", [
    ("sprl", "/whatsapp/v1/campaigns/tracking", {"Authorization": "Bearer sprl_demo_key"},
     {"client_id": "demo-client", "account_id": "demo-account", "campaign_uid": "demo-campaign"},
     lambda r: r.json()["status"] is False and "Retry-After" in r.headers),
    ("whatomate", "/api/campaigns", WHM, None, lambda r: r.json()["status"] == "error"),
])
def test_configurable_rate_limits(sandbox, vendor, path, headers, body, check):
    sandbox.admin.configure(speed=0)
    url = sandbox.base_url(vendor) + path
    method = "POST" if body else "GET"
    unlimited = [requests.request(method, url, json=body, headers=headers, timeout=10).status_code
                 for _ in range(15)]
    assert 429 not in unlimited
    sandbox.admin.configure(vendor, rate_limit=3)
    sandbox.admin.advance(2)
    got = [requests.request(method, url, json=body, headers=headers, timeout=10) for _ in range(5)]
    assert [r.status_code for r in got] == [200, 200, 200, 429, 429]
    assert check(got[-1])


def test_counters_per_endpoint(sandbox):
    cid = wapl_create(sandbox).json()["id"]
    for _ in range(3):
        requests.get(sandbox.base_url("waplify") + f"/api/v1/campaigns/{cid}/stats", headers=WAPL, timeout=10)
    reqs = sandbox.admin.counters()["requests"]["waplify"]
    assert reqs == {"POST /waplify/api/v1/campaigns/": 1, "GET /waplify/api/v1/campaigns/{id}/stats": 3}


def test_admin_config_and_reset(sandbox):
    assert sandbox.admin.config()["waplify_rate_limit"] == 10
    sandbox.admin.configure("waplify", rate_limit=99)
    assert sandbox.admin.config()["waplify_rate_limit"] == 99
    bad = requests.post(sandbox.url + "/__sandbox__/config", json={"nope": 1}, timeout=10)
    assert bad.status_code == 400
    sandbox.admin.reset()
    assert sandbox.admin.config()["waplify_rate_limit"] == 10
    assert sandbox.admin.counters()["requests"] == {}


def test_clock_advance_and_speed(sandbox):
    t0 = sandbox.admin.now()
    assert sandbox.admin.advance(3600) >= t0 + 3600
    sandbox.admin.configure(speed=0)
    a = sandbox.admin.now()
    time.sleep(0.05)
    assert sandbox.admin.now() == a
    sandbox.admin.configure(speed=100)
    time.sleep(0.05)
    assert sandbox.admin.now() - a >= 4


def test_state_endpoint_404_and_vendor_check(sandbox):
    assert requests.get(sandbox.url + "/__sandbox__/state/waplify/nope", timeout=10).status_code == 404
    assert requests.get(sandbox.url + "/__sandbox__/state/acme/1", timeout=10).status_code == 404
    assert sandbox.admin.state("insider", 1002)["shape"] == "wrapped"


def test_runner_urls_and_connections(sandbox):
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert sandbox.base_url("insider_oauth") == sandbox.url + "/insider-gw"
    import json

    conns = {k: json.loads(v) for k, v in sandbox.airflow_connections().items()}
    assert set(conns) == {"AIRFLOW_CONN_SPRL_DEFAULT", "AIRFLOW_CONN_INSIDER_WHATSAPP_DEFAULT",
                          "AIRFLOW_CONN_INSIDER_WHATSAPP_OAUTH_DEFAULT", "AIRFLOW_CONN_WHATOMATE_DEFAULT",
                          "AIRFLOW_CONN_WHATOMATE_JWT_DEFAULT", "AIRFLOW_CONN_WAPLIFY_DEFAULT"}
    assert conns["AIRFLOW_CONN_SPRL_DEFAULT"] == {"conn_type": "sprl", "host": sandbox.url + "/sprl/api",
                                                  "login": "demo-client", "password": "sprl_demo_key",
                                                  "extra": {"account_id": "demo-account"}}
    oauth = conns["AIRFLOW_CONN_INSIDER_WHATSAPP_OAUTH_DEFAULT"]
    assert oauth["extra"]["token_url"] == sandbox.url + "/insider-gw/auth/token"
    assert conns["AIRFLOW_CONN_WHATOMATE_JWT_DEFAULT"]["login"] == "demo@example.com"
    assert conns["AIRFLOW_CONN_WAPLIFY_DEFAULT"]["extra"] == {"waba_phone_id": "demo-waba"}


def test_second_server_in_process_and_persistence(tmp_path):
    state = tmp_path / "state.json"
    with SandboxServer(state_file=str(state)) as one:
        cid = one.admin.seed_whatomate(campaigns=[{"name": "kept", "recipients": 3}])[0]
        requests.post(one.base_url("whatomate") + f"/api/campaigns/{cid}/start", headers=WHM, timeout=10)
    assert state.exists()
    with SandboxServer(state_file=str(state)) as two:
        camp = requests.get(two.base_url("whatomate") + f"/api/campaigns/{cid}", headers=WHM, timeout=10)
        assert camp.status_code == 200 and camp.json()["data"]["name"] == "kept"
        assert camp.json()["data"]["status"] in ("queued", "processing", "completed")
        new = two.admin.seed_whatomate(campaigns=[{"name": "next"}])[0]
        assert new != cid  # id counter persisted too
