"""SPRL and Waplify hooks against the sandbox: every verb, sync and async, every documented error."""

from __future__ import annotations

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InsufficientBalance,
    InvalidState,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    UnsupportedOperation,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.hooks.base import CampaignSpec, Recipient, get_hook
from airflow_provider_whatsapp_campaigns.stats import CampaignStatus
from airflow_provider_whatsapp_campaigns.vendors.sprl.hook import SprlHook
from airflow_provider_whatsapp_campaigns.vendors.waplify.hook import WaplifyHook


def requests_to(sandbox, vendor: str) -> int:
    return sum(sandbox.admin.counters()["requests"].get(vendor, {}).values())


@pytest.fixture
def sprl(sandbox, sandbox_conns) -> SprlHook:
    hook = get_hook("sprl_default")
    hook.core.backoff = lambda state: 0
    assert isinstance(hook, SprlHook)
    return hook


@pytest.fixture
def waplify(sandbox, sandbox_conns) -> WaplifyHook:
    hook = get_hook("waplify_default")
    hook.core.backoff = lambda state: 0
    assert isinstance(hook, WaplifyHook)
    return hook


# --------------------------------------------------------------------------- SPRL


def test_sprl_stats_map_the_campaign_block(sprl, sandbox):
    stats = sprl.get_campaign_stats("demo-campaign")
    raw = sandbox.admin.state("sprl", "demo-campaign")
    assert stats.provider == "sprl"
    assert stats.status is CampaignStatus.COMPLETED
    assert stats.total == 120
    assert stats.sent is not None and stats.delivered is not None
    assert stats.to_dict()["is_terminal"] is True
    assert raw  # the sandbox knows the campaign we mapped


async def test_sprl_async_twin_gives_the_same_stats(sprl):
    sync = sprl.get_campaign_stats("demo-campaign").to_dict()
    fresh = get_hook("sprl_default")
    async_ = (await fresh.aget_campaign_stats("demo-campaign")).to_dict()
    sync.pop("fetched_at")
    async_.pop("fetched_at")
    assert async_ == sync


def test_sprl_contacts_follow_pagination(sprl, sandbox):
    rows = list(sprl.iter_contacts("demo-campaign", per_page=50))
    assert len(rows) == 120
    assert len({r["message_id"] for r in rows}) == 120
    assert requests_to(sandbox, "sprl") == 3


def test_sprl_contacts_stop_when_server_ignores_page(sprl, sandbox):
    sandbox.admin.configure("sprl", ignore_page=True)
    rows = list(sprl.iter_contacts("demo-campaign", per_page=50))
    assert len(rows) == 50, "page 2 repeats page 1: stop instead of looping"
    assert requests_to(sandbox, "sprl") == 2


async def test_sprl_contacts_async(sprl):
    rows = [row async for row in get_hook("sprl_default").aiter_contacts("demo-campaign", status="delivered")]
    assert rows
    assert {r["status"] for r in rows} == {"delivered"}


@pytest.mark.parametrize("kwargs", [{"per_page": 0}, {"per_page": 101}, {"status": "lost"}, {"phone": "12"}])
def test_sprl_contact_filters_are_validated_before_any_request(sprl, sandbox, kwargs):
    with pytest.raises(ValidationError):
        list(sprl.iter_contacts("demo-campaign", **kwargs))
    assert requests_to(sandbox, "sprl") == 0


@pytest.mark.parametrize("verb", ["create", "start", "pause", "cancel"])
def test_sprl_has_no_write_api(sprl, sandbox, verb):
    with pytest.raises(UnsupportedOperation, match="sprl"):
        if verb == "create":
            sprl.create_campaign(CampaignSpec(name="x", template="t"))
        else:
            getattr(sprl, f"{verb}_campaign")("demo-campaign")
    assert requests_to(sandbox, "sprl") == 0


@pytest.mark.parametrize(
    ("client", "error", "code"),
    [
        ({"blocked": "temp"}, PermissionDenied, "103"),
        ({"blocked": "permanent"}, PermissionDenied, "103"),
        ({"insufficient_balance": True}, InsufficientBalance, "104"),
        ({"limit_reached": "daily"}, QuotaExceeded, "129"),
        ({"limit_reached": "monthly"}, QuotaExceeded, "129"),
        ({"limit_reached": "total"}, QuotaExceeded, "129"),
    ],
)
def test_sprl_account_errors_are_permanent(sprl, sandbox, client, error, code):
    sandbox.admin.seed_sprl(clients=[{"client_id": "demo-client", **client}])
    with pytest.raises(error) as info:
        sprl.get_campaign_stats("demo-campaign")
    assert info.value.vendor_code == code
    assert requests_to(sandbox, "sprl") == 1, "permanent errors are never retried"
    if code == "129":
        assert client["limit_reached"] in info.value.message.lower()


def test_sprl_bad_key_and_unknown_campaign(sprl, sandbox, airflow_conn):
    with pytest.raises(ValidationError):
        sprl.get_campaign_stats("nope")
    airflow_conn(
        "sprl_bad",
        "sprl",
        host=sandbox.base_url("sprl"),
        login="demo-client",
        password="wrong",
        extra={"account_id": "demo-account"},
    )
    bad = get_hook("sprl_bad")
    with pytest.raises(AuthenticationError):
        bad.get_campaign_stats("demo-campaign")
    ok, message = bad.test_connection()
    assert not ok
    assert "rejected" in message
    assert "wrong" not in message


def test_sprl_server_error_105_is_retried(sprl, sandbox):
    sandbox.admin.fault("error", vendor="sprl", status=500, times=2)
    assert sprl.get_campaign_stats("demo-campaign").total == 120
    assert requests_to(sandbox, "sprl") == 3


def test_sprl_missing_account_names_the_field(sandbox, airflow_conn):
    airflow_conn("sprl_noacct", "sprl", host=sandbox.base_url("sprl"), login="demo-client", password="sprl_demo_key")
    with pytest.raises(ValidationError, match="account_id"):
        get_hook("sprl_noacct").get_campaign_stats("demo-campaign")


def test_sprl_test_connection_ok(sprl):
    ok, message = sprl.test_connection()
    assert ok, message


# --------------------------------------------------------------------------- Waplify


def spec(n: int, name: str = "Promo") -> CampaignSpec:
    return CampaignSpec(name=name, template="promo_v1", recipients=[Recipient(f"+1415555{i:04d}") for i in range(n)])


def test_waplify_create_send_and_complete(waplify, sandbox):
    created = waplify.create_campaign(spec(3))
    raw = sandbox.admin.state("waplify", created.campaign_id)
    assert raw["status"] == "draft"
    assert created.recipients_added == 3
    started = waplify.start_campaign(created.campaign_id)
    assert started.status in (CampaignStatus.RUNNING, CampaignStatus.COMPLETED)
    sandbox.admin.advance(3600)
    final = waplify.get_campaign_stats(created.campaign_id)
    assert final.status is CampaignStatus.COMPLETED
    assert final.total == 3
    assert final.sent + final.failed == 3
    counters = sandbox.admin.counters()
    assert counters["starts"]["waplify"][created.campaign_id] == 1


def test_waplify_start_twice_sends_once(waplify, sandbox):
    created = waplify.create_campaign(spec(2))
    waplify.start_campaign(created.campaign_id)
    waplify.start_campaign(created.campaign_id)
    assert sandbox.admin.counters()["starts"]["waplify"][created.campaign_id] == 1


def test_waplify_lost_send_answer_is_judged_by_state(waplify, sandbox):
    created = waplify.create_campaign(spec(2))
    sandbox.admin.fault("lost", vendor="waplify", method="POST", path="/send", times=1)
    stats = waplify.start_campaign(created.campaign_id)
    assert stats.status in (CampaignStatus.RUNNING, CampaignStatus.COMPLETED)
    assert sandbox.admin.counters()["starts"]["waplify"][created.campaign_id] == 1


def test_waplify_lost_create_answer_is_not_resent(waplify, sandbox):
    sandbox.admin.fault("lost", vendor="waplify", method="POST", path="/campaigns/$", times=1)
    with pytest.raises(VendorUnavailable) as info:
        waplify.create_campaign(spec(1, name="Lost"))
    assert info.value.may_have_applied
    assert sandbox.admin.counters()["creates"]["waplify"]["Lost"] == 1


@pytest.mark.parametrize("count", [0, 10_001])
def test_waplify_contact_count_validated_before_sending(waplify, sandbox, count):
    with pytest.raises(ValidationError, match="10,000"):
        waplify.create_campaign(spec(count))
    assert requests_to(sandbox, "waplify") == 0


def test_waplify_invalid_phone_validated_before_sending(waplify, sandbox):
    bad = CampaignSpec(name="x", template="t", recipients=[Recipient("+14155550000"), Recipient("+1 (415) 12")])
    with pytest.raises(ValidationError, match="row 1") as info:
        waplify.create_campaign(bad)
    assert "+1415" not in str(info.value)
    assert requests_to(sandbox, "waplify") == 0


def test_waplify_10000_contacts_in_one_campaign(waplify, sandbox):
    created = waplify.create_campaign(spec(10_000))
    assert sandbox.admin.state("waplify", created.campaign_id)["total"] == 10_000


def test_waplify_errors(waplify, sandbox, airflow_conn):
    with pytest.raises(NotFound):
        waplify.get_campaign_stats("00000000-0000-4000-8000-000000000000")
    airflow_conn("waplify_bad", "waplify", host=sandbox.base_url("waplify"), password="wapl_wrong")
    with pytest.raises(AuthenticationError):
        get_hook("waplify_bad").get_campaign_stats("00000000-0000-4000-8000-000000000000")
    ok, message = get_hook("waplify_bad").test_connection()
    assert not ok and "rejected" in message
    ok, message = waplify.test_connection()
    assert ok, message


def test_waplify_429_retry_after_is_honoured(waplify, sandbox):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 2, "status": "completed"}])
    sandbox.admin.fault("error", vendor="waplify", status=429, times=2)
    slept: list[float] = []
    waplify.core.sleep = slept.append
    assert waplify.get_campaign_stats(cid).status is CampaignStatus.COMPLETED
    assert len(slept) == 2
    assert all(s >= 0 for s in slept)


def test_waplify_unsupported_verbs(waplify, sandbox):
    for verb in ("pause", "cancel"):
        with pytest.raises(UnsupportedOperation, match="waplify"):
            getattr(waplify, f"{verb}_campaign")("x")
    with pytest.raises(UnsupportedOperation):
        list(waplify.iter_contacts("x"))
    assert requests_to(sandbox, "waplify") == 0


def test_waplify_start_of_cancelled_campaign_is_invalid_state(waplify, sandbox):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 2, "status": "cancelled"}])
    with pytest.raises(InvalidState):
        waplify.start_campaign(cid)


async def test_waplify_async_twins(waplify, sandbox):
    hook = get_hook("waplify_default")
    created = await hook.acreate_campaign(spec(2, name="Async"))
    stats = await hook.astart_campaign(created.campaign_id)
    assert stats.campaign_id == created.campaign_id
    assert sandbox.admin.counters()["creates"]["waplify"]["Async"] == 1


def test_waplify_already_sent_after_a_lost_answer_is_success(waplify, sandbox):
    """The send was taken but its answer lost; the worker has not picked it up, so the status reads draft."""
    sandbox.admin.configure("waplify", send_lag=30)
    created = waplify.create_campaign(spec(2))
    sandbox.admin.fault("lost", vendor="waplify", method="POST", path="/send", times=1)
    with pytest.raises(VendorUnavailable):  # the lost answer, and the status still reads draft
        waplify.start_campaign(created.campaign_id)
    retried = waplify.start_campaign(created.campaign_id)  # Airflow's retry: "Campaign has already been sent"
    assert retried.status is CampaignStatus.DRAFT, "judged by the refusal, reported as the state reads"
    assert sandbox.admin.counters()["starts"]["waplify"][created.campaign_id] == 1, "sent once"
    sandbox.admin.advance(3600)
    assert waplify.get_campaign_stats(created.campaign_id).status is CampaignStatus.COMPLETED


def test_waplify_create_500_says_it_was_not_retried(waplify, sandbox):
    sandbox.admin.fault("error", vendor="waplify", method="POST", path="/campaigns/$", status=500, times=1)
    with pytest.raises(VendorUnavailable) as info:
        waplify.create_campaign(spec(1, name="Five hundred"))
    assert requests_to(sandbox, "waplify") == 1
    assert "retried with backoff" not in str(info.value)
    assert "not retried: the request may have taken effect" in str(info.value)


def test_waplify_stats_500s_say_how_often_they_were_retried(waplify, sandbox):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 2, "status": "completed"}])
    sandbox.admin.fault("error", vendor="waplify", status=500, times=20)
    waplify.core.sleep = lambda seconds: None
    attempts = waplify.config.max_retries + 1
    with pytest.raises(VendorUnavailable) as info:
        waplify.get_campaign_stats(cid)
    assert requests_to(sandbox, "waplify") == attempts
    assert f"gave up after {attempts} attempts with backoff" in str(info.value)


def test_waplify_create_carries_the_marker_in_its_name(waplify, sandbox):
    created = waplify.create_campaign(spec(1, name="Spring"), marker="af-0123456789ab")
    assert sandbox.admin.state("waplify", created.campaign_id)["name"] == "Spring [af-0123456789ab]"
