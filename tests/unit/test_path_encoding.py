"""Ids reach a vendor as one percent-encoded path segment, built once in the request core (Call)."""

from __future__ import annotations

import pytest

from airflow_provider_whatsapp_campaigns._http.flow import Call, build_path
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError, WhatsAppCampaignError
from airflow_provider_whatsapp_campaigns.hooks.base import get_hook

ONE_SEGMENT = "GET /whatomate/api/campaigns/{id}"
NASTY = ["1/../../x?y=", "a/b", "x?y=1#z", "%2e%2e", "..%2F..", "Grüße &="]


@pytest.mark.parametrize("value", NASTY)
def test_build_path_encodes_each_value_as_one_segment(value):
    path = build_path("/api/campaigns/{campaign_id}/start", {"campaign_id": value})
    assert path.startswith("/api/campaigns/") and path.endswith("/start")
    assert path.count("/") == 4 and "?" not in path and "#" not in path


@pytest.mark.parametrize("value", ["", "  ", None, ".", ".."])
def test_build_path_refuses_values_that_name_no_resource(value):
    with pytest.raises(ValidationError, match="campaign_id"):
        Call("GET", "/api/campaigns/{campaign_id}", path_params={"campaign_id": value})


@pytest.mark.parametrize("path", ["/api/campaigns/1/../../x", "/api/campaigns/1?y=", "/api/./x", "/api/x#frag"])
def test_a_path_built_without_path_params_is_refused(path):
    with pytest.raises(ValidationError, match="unsafe request path"):
        Call("GET", path)


def test_full_urls_are_left_alone():
    assert Call("POST", "https://gw.example.com/auth/token?x=1").path == "https://gw.example.com/auth/token?x=1"


@pytest.mark.parametrize("value", NASTY)
def test_sync_request_hits_the_one_campaign_route(value, sandbox, sandbox_conns):
    hook = get_hook("whatomate_default")
    with pytest.raises(WhatsAppCampaignError):  # the flow itself, past the hook's UUID check
        hook._run(hook._campaign_flow(value))
    assert sandbox.admin.counters()["requests"]["whatomate"] == {ONE_SEGMENT: 1}


@pytest.mark.parametrize("value", NASTY)
async def test_async_request_hits_the_one_campaign_route(value, sandbox, sandbox_conns):
    from airflow_provider_whatsapp_campaigns.hooks.base import aget_hook

    hook = await aget_hook("whatomate_default")
    with pytest.raises(WhatsAppCampaignError):
        await hook._arun(hook._campaign_flow(value))
    assert sandbox.admin.counters()["requests"]["whatomate"] == {ONE_SEGMENT: 1}
