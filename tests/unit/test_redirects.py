"""Redirects never carry a credential to another host: one test per auth scheme, sync and async.

The vendor (server A) answers with a redirect to server B (another port on 127.0.0.1). B answers
like a friendly vendor; it must receive no credential in any form, its answer must never be taken
as stats, and the caller gets a typed error naming where the vendor tried to send it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse, WhatsAppCampaignError
from airflow_provider_whatsapp_campaigns.hooks.base import get_hook
from tests.hostile import (
    AUTH_PATHS,
    MINTING,
    SCHEMES,
    SECRETS,
    HostileServer,
    Received,
    Reply,
    campaign_id_for,
    leaked,
    reply,
)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[HostileServer, HostileServer]]:
    with HostileServer() as vendor, HostileServer() as other:
        yield vendor, other


def friendly(received: Received) -> Reply:
    """What B answers: a token, a login and stats a naive client would happily accept."""
    return reply(
        200,
        {
            "access_token": "token-from-the-other-host",
            "expires_in": 3600,
            "status": "success",
            "data": {"access_token": "token-from-the-other-host", "campaign": {"status": "completed"}},
            "campaign_status": "completed",
        },
    )


def redirecting(status: int, other: HostileServer, stage: str):
    def answer(received: Received) -> Reply:
        if stage == "api" and received.path.split("?")[0].endswith(AUTH_PATHS):
            return friendly(received)
        return reply(status, b"", [("Location", f"{other.url}{received.path}")])

    return answer


def cases() -> Iterator[tuple[str, str]]:
    for conn_type in SCHEMES:
        yield conn_type, "api"
        if conn_type in MINTING:
            yield conn_type, "auth"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(("conn_type", "stage"), list(cases()))
def test_redirect_is_a_typed_error_and_the_other_host_gets_no_credential(
    servers, airflow_conn, conn_type, stage, status, mode
):
    vendor, other = servers
    vendor.reset()
    other.reset()
    vendor.answer(redirecting(status, other, stage))
    other.answer(friendly)
    fields = SCHEMES[conn_type]
    conn_id = airflow_conn(
        f"redirect_{conn_type}", conn_type, host=vendor.url, **{**fields, "extra": {**fields.get("extra", {}),
                                                                                    "max_retries": 0}}
    )
    hook = get_hook(conn_id)
    with pytest.raises(WhatsAppCampaignError) as info:
        if mode == "sync":
            hook.get_campaign_stats(campaign_id_for(conn_type))
        else:
            asyncio.run(hook.aget_campaign_stats(campaign_id_for(conn_type)))
    assert leaked([r.text() for r in other.received], SECRETS) == []
    assert other.received == [], "the provider must not follow a vendor's redirect at all"
    assert isinstance(info.value, UnexpectedResponse)
    assert other.netloc in info.value.message, "the error names where the vendor redirected to"
    assert vendor.received, "the vendor itself was asked"
