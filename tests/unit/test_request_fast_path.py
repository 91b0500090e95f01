"""Most requests succeed at once: they must not pay for building the retry policy. A failed first
attempt still goes through the one policy (tenacity), counted as its attempt 1."""

from __future__ import annotations

from unittest import mock

from airflow_provider_whatsapp_campaigns._http import core as core_module
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook


def _seeded(sandbox) -> str:
    sandbox.admin.configure("waplify", rate_limit=None)
    return sandbox.admin.seed_waplify([{"name": "c", "contacts": 5, "status": "completed"}])[0]


async def test_a_successful_poll_builds_no_retry_policy(sandbox, sandbox_conns):
    cid = _seeded(sandbox)
    hook = get_hook("waplify_default")
    with mock.patch.object(core_module, "AsyncRetrying", side_effect=AssertionError("built")) as built:
        assert (await hook.aget_campaign_stats(cid)).campaign_id == cid
        assert (await hook.aget_campaign_stats(cid)).campaign_id == cid
    assert built.call_count == 0


def test_a_failed_first_attempt_is_retried_by_the_policy(sandbox, sandbox_conns):
    cid = _seeded(sandbox)
    hook = get_hook("waplify_default")
    hook.core.backoff = lambda state: 0.0
    sandbox.admin.fault("error", vendor="waplify", status=503, times=1)
    with mock.patch.object(core_module, "Retrying", wraps=core_module.Retrying) as built:
        assert hook.get_campaign_stats(cid).campaign_id == cid
    assert built.call_count == 1
    assert sum(sandbox.admin.counters()["requests"]["waplify"].values()) == 2


def test_the_environment_is_read_once_per_session_not_per_request(sandbox, sandbox_conns):
    cid = _seeded(sandbox)
    hook = get_hook("waplify_default")
    hook.get_campaign_stats(cid)  # the session (and its one look at the environment) exists now
    with mock.patch("requests.sessions.get_environ_proxies", side_effect=AssertionError("per request")):
        for _ in range(3):
            hook.get_campaign_stats(cid)


def test_proxies_from_the_environment_still_apply(airflow_conn, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    airflow_conn("wpl_env", "waplify", host="https://server.example", password="wapl_demo_key")
    assert get_hook("wpl_env").core.session.proxies.get("https") == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "server.example")
    airflow_conn("wpl_direct", "waplify", host="https://server.example", password="wapl_demo_key")
    assert "https" not in get_hook("wpl_direct").core.session.proxies, "NO_PROXY is honoured"


def test_a_clean_result_is_not_walked_but_one_echoing_a_secret_is_scrubbed(airflow_conn):
    from airflow_provider_whatsapp_campaigns.stats import CampaignStats

    secret = 'wapl_"quoted"_key'  # its JSON form carries escapes
    airflow_conn("wpl_scrub", "waplify", host="https://server.example", password=secret)
    core = get_hook("wpl_scrub").core
    clean = CampaignStats(provider="waplify", campaign_id="7", name="spring", details={"n": [1, 2]})
    with mock.patch.object(core_module.RequestCore, "_scrubbed", side_effect=AssertionError("walked")):
        assert core.scrub_result(clean) is clean, "one search over the encoded result, no walk"
    for echoed in (
        CampaignStats(provider="waplify", campaign_id="7", name=f"x {secret} y"),
        CampaignStats(provider="waplify", campaign_id="7", details={"echo": {f"k{secret}": 1}}),
        CampaignStats(provider="waplify", campaign_id="7", details={"echo": "wapl_%22quoted%22_key"}),
    ):
        scrubbed = core.scrub_result(echoed)
        assert "quoted" not in repr(scrubbed), scrubbed
    unencodable = {"value": object(), "text": secret}
    assert core.scrub_result(unencodable)["text"] == "***"
