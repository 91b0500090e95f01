"""WhatomateHook against the sandbox: both auth schemes, sync and async, the 387cae4 build (the
sandbox's default) and the newer paginated one."""

from __future__ import annotations

import contextlib

import pytest
import requests

from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.hooks.base import CampaignSpec, Recipient, get_hook
from airflow_provider_whatsapp_campaigns.sandbox.vendors.whatomate import template_id
from airflow_provider_whatsapp_campaigns.stats import CampaignStatus
from airflow_provider_whatsapp_campaigns.vendors.whatomate.hook import WhatomateHook, WhatomateJwtHook

EMAIL = "demo@example.com"
CREATE = "POST /whatomate/api/campaigns"
IMPORT = "POST /whatomate/api/campaigns/{id}/recipients/import"
WELCOME = template_id("welcome_v2")


def phones(n: int, start: int = 0) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(start, start + n)]


def spec(name: str = "Spring sale", n: int = 3, **kw) -> CampaignSpec:
    return CampaignSpec(
        name=name, template="welcome_v2", recipients=[Recipient(p, f"R{i}") for i, p in enumerate(phones(n))], **kw
    )


@pytest.fixture(autouse=True)
def _frozen_clock(sandbox):
    """Only explicit advances move the sandbox clock: counts after advance(n) are exact on a busy machine."""
    sandbox.admin.configure(speed=0)


@pytest.fixture
def make_hook(sandbox, airflow_conn):
    """Build a hook of either scheme on a fresh connection (fast retries, no client-side limit)."""

    def make(scheme: str = "whatomate", conn_id: str | None = None, **fields) -> WhatomateHook:
        conn_id = conn_id or f"whm_{scheme}"
        extra = {"whatsapp_account": "demo-account", "rate_limit": 1000, "max_retries": 2, **fields.pop("extra", {})}
        creds = {"password": "whm_demo_key"} if scheme == "whatomate" else {"login": EMAIL, "password": "demo-password"}
        airflow_conn(conn_id, scheme, **{"host": sandbox.base_url("whatomate"), **creds, **fields, "extra": extra})
        hook = (WhatomateHook if scheme == "whatomate" else WhatomateJwtHook)(conn_id)
        hook.core.backoff = lambda state: 0
        return hook

    return make


@pytest.fixture(params=["whatomate", "whatomate_jwt"])
def hook(request, make_hook) -> WhatomateHook:
    return make_hook(request.param)


def seed(sandbox, **campaign) -> str:
    return sandbox.admin.seed_whatomate(campaigns=[{"name": "seeded", **campaign}])[0]


def state(sandbox, cid: str) -> dict:
    return sandbox.admin.state("whatomate", cid)


def requests_to(sandbox, endpoint: str) -> int:
    return sandbox.admin.counters()["requests"]["whatomate"].get(endpoint, 0)


# --------------------------------------------------------------------------- create and import


def test_create_with_default_account_and_import(hook, sandbox):
    created = hook.create_campaign(spec(n=3, template_params={"2": "promo"}))
    st = state(sandbox, created.campaign_id)
    assert created.recipients_added == 3 and not created.adopted and created.invalid == ()
    assert st["status"] == "draft" and st["whatsapp_account"] == "demo-account" and st["template_id"] == WELCOME
    assert st["imported_count"] == 3
    rows = hook.list_recipients(created.campaign_id)
    assert [r["phone"] for r in rows] == phones(3)
    assert rows[1]["name"] == "R1"
    raw = requests.get(
        f"{sandbox.base_url('whatomate')}/api/campaigns/{created.campaign_id}/recipients",
        headers={"X-API-Key": "whm_demo_key"},
        timeout=30,
    ).json()["data"]["recipients"]
    assert raw[1]["template_params"] == {"2": "promo"}
    assert {r["status"] for r in rows} == {"pending"}


def test_create_with_explicit_account_by_name(make_hook, sandbox):
    [theirs] = sandbox.admin.seed("whatomate", accounts=["second-account"],
                                  templates=[{"name": "welcome_v2", "whatsapp_account": "second-account"}])["template_ids"]
    hook = make_hook()
    cid = hook.create_campaign(spec(account="second-account", n=1)).campaign_id
    assert state(sandbox, cid)["whatsapp_account"] == "second-account" and state(sandbox, cid)["template_id"] == theirs
    with pytest.raises(ValidationError, match="account 'no-such-account' has no template 'welcome_v2'"):
        hook.create_campaign(spec(account="no-such-account"))
    assert requests_to(sandbox, CREATE) == 1


def test_idempotent_create_adopts_on_second_call(hook, sandbox):
    first = hook.create_campaign(spec(n=4), marker="af-abc123")
    second = hook.create_campaign(spec(n=4), marker="af-abc123")
    assert second.adopted and second.campaign_id == first.campaign_id
    assert second.recipients_added == 4
    counters = sandbox.admin.counters()
    assert counters["creates"]["whatomate"] == {"Spring sale [af-abc123]": 1}
    assert state(sandbox, first.campaign_id)["imported_count"] == 4  # not imported twice
    other = hook.create_campaign(spec(n=1), marker="af-other")
    assert other.campaign_id != first.campaign_id and not other.adopted


def test_lost_create_response_leaves_exactly_one_campaign(hook, sandbox):
    sandbox.admin.fault("lost", vendor="whatomate", method="POST", path=r"/api/campaigns$", times=1)
    created = hook.create_campaign(spec(n=5), marker="af-lost01")
    assert created.adopted
    assert sandbox.admin.counters()["creates"]["whatomate"] == {"Spring sale [af-lost01]": 1}
    assert [c["id"] for c in hook.list_campaigns()] == [created.campaign_id]
    assert state(sandbox, created.campaign_id)["imported_count"] == 5


def test_lost_create_without_marker_is_not_resent(hook, sandbox):
    sandbox.admin.fault("lost", vendor="whatomate", method="POST", path=r"/api/campaigns$", times=1)
    with pytest.raises(VendorUnavailable) as info:
        hook.create_campaign(spec(n=1))
    assert info.value.may_have_applied
    assert requests_to(sandbox, CREATE) == 1


def test_adopt_resumes_an_import_stopped_between_batches(make_hook, sandbox):
    hook = make_hook()
    s = CampaignSpec(
        name="big", template=WELCOME, recipients=[Recipient(p) for p in phones(5)], options={"batch_size": 2}
    )
    # An earlier try created the campaign and imported one full batch, then died.
    cid = hook.create_campaign(CampaignSpec(name="big", template="welcome_v2"), marker="af-resume").campaign_id
    hook.import_recipients(cid, phones(2))
    again = hook.create_campaign(s, marker="af-resume")
    assert again.adopted and again.campaign_id == cid and again.recipients_added == 5
    assert [r["phone"] for r in hook.list_recipients(cid)] == phones(5)  # the rest, in order, once
    assert sandbox.admin.counters()["creates"]["whatomate"] == {"big [af-resume]": 1}
    # A count that is not a whole number of batches cannot be resumed safely.
    odd = hook.create_campaign(CampaignSpec(name="odd", template="welcome_v2"), marker="af-odd").campaign_id
    hook.import_recipients(odd, phones(3))
    with pytest.raises(InvalidState, match="holds 3 recipients but 5"):
        hook.create_campaign(
            CampaignSpec(name="odd", template=WELCOME, recipients=s.recipients, options={"batch_size": 2}),
            marker="af-odd",
        )
    assert state(sandbox, odd)["imported_count"] == 3


def test_import_in_batches_and_lost_batch_not_duplicated(make_hook, sandbox):
    hook = make_hook()
    cid = hook.create_campaign(CampaignSpec(name="b", template="welcome_v2")).campaign_id
    sandbox.admin.fault("lost", vendor="whatomate", method="POST", path=r"/recipients/import$", times=1)
    result = hook.import_recipients(cid, [*phones(2500), "nope"])
    assert result["added_count"] == 2500 and result["total_recipients"] == 2500 and result["batches"] == 3
    assert result["invalid"] == [{"row": 2500, "phone": "", "reason": result["invalid"][0]["reason"]}]
    assert requests_to(sandbox, IMPORT) == 3  # lost first batch judged applied, not resent
    assert state(sandbox, cid)["imported_count"] == 2500


async def test_async_create_import_and_list(hook, sandbox):
    created = await hook.acreate_campaign(spec(n=2), marker="af-async1")
    adopted = await hook.acreate_campaign(spec(n=2), marker="af-async1")
    assert adopted.adopted and adopted.campaign_id == created.campaign_id
    result = await hook.aimport_recipients(created.campaign_id, phones(3, start=10), batch_size=2)
    assert result["added_count"] == 3 and result["batches"] == 2
    campaigns = await hook.alist_campaigns(search="af-async1")
    assert [c["id"] for c in campaigns] == [created.campaign_id]
    assert (await hook.aget_campaign(created.campaign_id))["total_recipients"] == 5
    rows = await hook.alist_recipients(created.campaign_id)
    assert [r["phone"] for r in rows] == phones(2) + phones(3, start=10)


def test_update_and_delete(make_hook, sandbox):
    hook = make_hook()
    cid = hook.create_campaign(CampaignSpec(name="old", template="welcome_v2")).campaign_id
    assert hook.update_campaign(cid, name="new")["name"] == "new"
    sandbox.admin.fault("lost", vendor="whatomate", method="DELETE", times=1)
    hook.delete_campaign(cid)  # lost answer, judged by the 404 after
    with pytest.raises(NotFound):
        hook.get_campaign(cid)


# --------------------------------------------------------------------------- state machine


def test_start_pause_resume_cancel_with_real_rules(hook, sandbox):
    sandbox.admin.configure(speed=0)  # the sandbox clock moves only by advance(): no race with a slow machine
    sandbox.admin.configure("whatomate", build="paginated")
    cid = seed(sandbox, recipients=1000, send_rate=10)
    with pytest.raises(InvalidState):
        hook.pause_campaign(cid)  # a draft cannot be paused: refused before any POST
    assert requests_to(sandbox, "POST /whatomate/api/campaigns/{id}/pause") == 0
    started = hook.start_campaign(cid)
    assert started.status is CampaignStatus.RUNNING and started.vendor_status == "processing"
    again = hook.start_campaign(cid)  # start twice is success, the server saw one start
    assert again.status is CampaignStatus.RUNNING
    assert sandbox.admin.counters()["starts"]["whatomate"] == {cid: 1}
    sandbox.admin.advance(10)
    paused = hook.pause_campaign(cid)
    assert paused.status is CampaignStatus.PAUSED and paused.sent == 100
    assert hook.pause_campaign(cid).status is CampaignStatus.PAUSED  # already paused: success
    resumed = hook.start_campaign(cid)
    assert resumed.status is CampaignStatus.RUNNING
    assert resumed.sent == 0  # vendor quirk: resuming resets the counters
    cancelled = hook.cancel_campaign(cid)
    assert cancelled.status is CampaignStatus.CANCELLED and cancelled.is_terminal
    assert hook.cancel_campaign(cid).status is CampaignStatus.CANCELLED
    with pytest.raises(InvalidState, match="cancelled"):
        hook.start_campaign(cid)
    assert sandbox.admin.counters()["starts"]["whatomate"] == {cid: 2}


def test_start_without_recipients_is_invalid_state(hook, sandbox):
    sandbox.admin.configure("whatomate", build="paginated")
    cid = seed(sandbox)
    with pytest.raises(InvalidState, match="no pending recipients"):
        hook.start_campaign(cid)
    assert state(sandbox, cid)["status"] == "draft"


def test_lost_start_response_is_success_with_one_start(hook, sandbox):
    sandbox.admin.configure("whatomate", build="paginated")
    cid = seed(sandbox, recipients=100, send_rate=1)
    sandbox.admin.fault("lost", vendor="whatomate", method="POST", path=r"/start$", times=1)
    stats = hook.start_campaign(cid)
    assert stats.status is CampaignStatus.RUNNING
    assert sandbox.admin.counters()["starts"]["whatomate"] == {cid: 1}


def test_cancel_completed_is_invalid_state(make_hook, sandbox):
    cid = seed(sandbox, status="completed", recipients=3, processed=3)
    with pytest.raises(InvalidState):
        make_hook().cancel_campaign(cid)


async def test_async_transitions(hook, sandbox):
    sandbox.admin.configure("whatomate", build="paginated")
    cid = seed(sandbox, recipients=500, send_rate=10)
    assert (await hook.astart_campaign(cid)).status is CampaignStatus.RUNNING
    assert (await hook.astart_campaign(cid)).status is CampaignStatus.RUNNING
    assert (await hook.apause_campaign(cid)).status is CampaignStatus.PAUSED
    assert (await hook.acancel_campaign(cid)).status is CampaignStatus.CANCELLED
    with pytest.raises(InvalidState):
        await hook.apause_campaign(cid)
    assert sandbox.admin.counters()["starts"]["whatomate"] == {cid: 1}


def test_full_run_to_completed(make_hook, sandbox):
    sandbox.admin.configure(speed=0)
    sandbox.admin.configure("whatomate", build="paginated")
    sandbox.admin.configure("whatomate", failure_ratio=0.1)
    hook = make_hook()
    created = hook.create_campaign(spec(n=200), marker="af-full")
    first = hook.start_campaign(created.campaign_id)
    assert first.status is CampaignStatus.RUNNING and first.total == 200
    sandbox.admin.advance(2)  # 50/s: 100 processed
    mid = hook.get_campaign_stats(created.campaign_id)
    assert mid.sent + mid.failed == 100 and mid.pending == 100
    sandbox.admin.advance(60)
    done = hook.get_campaign_stats(created.campaign_id)
    assert done.status is CampaignStatus.COMPLETED and done.is_terminal
    assert (done.total, done.sent, done.failed, done.pending, done.read) == (200, 180, 20, 0, None)
    assert done.delivered == 180 and done.delivery_rate == 1.0 and done.failure_rate == 0.1
    assert done.completed_at is not None and done.started_at is not None
    rows = list(hook.iter_contacts(created.campaign_id))
    assert len(rows) == 200 and sum(r["status"] == "failed" for r in rows) == 20
    assert all(r["error"] for r in rows if r["status"] == "failed")
    assert len({r["recipient_id"] for r in rows}) == 200, "the server's recipient id, to join back"
    failed_rows = hook.list_recipients(created.campaign_id, status="failed")
    assert len(failed_rows) == 20 and all(r["error"] for r in failed_rows)
    assert hook.start_campaign(created.campaign_id).status is CampaignStatus.COMPLETED  # start after done: success


async def test_async_stats_and_contacts(hook, sandbox):
    sandbox.admin.configure(speed=0)  # the sandbox clock moves only by advance(): no race with a slow machine
    cid = seed(sandbox, status="processing", recipients=40, send_rate=10)
    sandbox.admin.advance(2)
    stats = await hook.aget_campaign_stats(cid)
    assert (stats.status, stats.sent, stats.pending) == (CampaignStatus.RUNNING, 20, 20)
    rows = [r async for r in hook.aiter_contacts(cid)]
    assert [r["status"] for r in rows].count("sent") == 20 and len(rows) == 40


# --------------------------------------------------------------------------- JWT


def test_jwt_expiry_mid_run_refreshes_once(make_hook, sandbox):
    sandbox.admin.configure("whatomate", access_ttl=60)
    hook = make_hook("whatomate_jwt")
    cid = seed(sandbox, recipients=10)
    hook.start_campaign(cid)
    sandbox.admin.advance(120)
    assert hook.get_campaign_stats(cid).status is CampaignStatus.COMPLETED
    counters = sandbox.admin.counters()
    assert counters["logins"] == {EMAIL: 1} and counters["refreshes"] == {EMAIL: 1}
    assert hook.core.auth.refreshes == 1


def test_jwt_expired_refresh_logs_in_again(make_hook, sandbox):
    sandbox.admin.configure("whatomate", access_ttl=60, refresh_ttl=100)
    hook = make_hook("whatomate_jwt")
    hook.list_campaigns()
    sandbox.admin.advance(200)
    hook.list_campaigns()
    counters = sandbox.admin.counters()
    assert counters["logins"] == {EMAIL: 2} and counters.get("refreshes", {}) == {}


async def test_jwt_async_expiry_refreshes_once(make_hook, sandbox):
    sandbox.admin.configure("whatomate", access_ttl=60)
    hook = make_hook("whatomate_jwt")
    await hook.alist_campaigns()
    sandbox.admin.advance(61)
    await hook.alist_campaigns()
    assert sandbox.admin.counters()["refreshes"] == {EMAIL: 1}


def test_cookie_token_login_mode(make_hook, sandbox):
    sandbox.admin.configure("whatomate", login_tokens="cookies", access_ttl=60)
    hook = make_hook("whatomate_jwt")
    cid = hook.create_campaign(spec(n=2)).campaign_id
    assert hook.core.auth.tokens.refresh_cookie == "whm_refresh_token"
    sandbox.admin.advance(61)
    assert hook.get_campaign(cid)["total_recipients"] == 2
    assert sandbox.admin.counters()["refreshes"] == {EMAIL: 1}


async def test_cookie_token_login_mode_async(make_hook, sandbox):
    sandbox.admin.configure("whatomate", login_tokens="cookies")
    hook = make_hook("whatomate_jwt")
    assert await hook.alist_campaigns() == []
    assert hook.core.auth.tokens.access


def test_wrong_password(make_hook):
    hook = make_hook("whatomate_jwt", password="wrong")
    with pytest.raises(AuthenticationError, match="login failed"):
        hook.list_campaigns()
    ok, message = hook.test_connection()
    assert not ok and "Authentication failed" in message


# --------------------------------------------------------------------------- server builds


def test_387cae4_server(hook, sandbox):
    sandbox.admin.configure(speed=0)  # a started campaign stays queued until the clock moves
    sandbox.admin.configure("whatomate", build="387cae4")
    sandbox.admin.seed_whatomate(campaigns=[{"name": f"old {i}"} for i in range(150)])
    assert len(hook.list_campaigns()) == 150
    assert requests_to(sandbox, "GET /whatomate/api/campaigns") == 1  # page ignored, total reached
    created = hook.create_campaign(spec(n=2), marker="af-legacy")
    adopted = hook.create_campaign(spec(n=2), marker="af-legacy")  # search ignored: filtered here
    assert adopted.adopted and adopted.campaign_id == created.campaign_id
    assert len(hook.list_campaigns(search="af-legacy")) == 1
    started = hook.start_campaign(created.campaign_id)
    assert started.status is CampaignStatus.QUEUED
    assert hook.start_campaign(created.campaign_id).status is CampaignStatus.QUEUED  # already queued
    assert hook.pause_campaign(created.campaign_id).status is CampaignStatus.PAUSED
    assert sandbox.admin.counters()["starts"]["whatomate"] == {created.campaign_id: 1}
    empty = seed(sandbox)
    with pytest.raises(InvalidState, match="no recipients"):
        hook.start_campaign(empty)


def test_newer_server_pages_the_list(make_hook, sandbox):
    sandbox.admin.configure("whatomate", build="paginated")
    sandbox.admin.seed_whatomate(campaigns=[{"name": f"c {i}"} for i in range(230)])
    hook = make_hook()
    got = hook.list_campaigns()
    assert len(got) == 230 and len({c["id"] for c in got}) == 230
    assert requests_to(sandbox, "GET /whatomate/api/campaigns") == 3
    assert len(hook.list_campaigns(search="c 22")) == 11  # "c 22" and "c 220".."c 229"


# --------------------------------------------------------------------------- errors and test_connection


def test_error_codes(make_hook, sandbox):
    hook = make_hook()
    with pytest.raises(NotFound, match="Campaign not found"):
        hook.get_campaign("00000000-0000-4000-a000-000000000000")
    with pytest.raises(ValidationError, match="campaign_id must be a campaign UUID"):
        hook.get_campaign("42")  # refused before the request the real server answers "Invalid campaign ID"
    sandbox.admin.fault("error", vendor="whatomate", method="GET", status=403, times=1)
    with pytest.raises(PermissionDenied):
        hook.list_campaigns()
    sandbox.admin.fault("error", vendor="whatomate", method="GET", status=503)
    with pytest.raises(VendorUnavailable):
        hook.list_campaigns()
    assert requests_to(sandbox, "GET /whatomate/api/campaigns") == 1 + 3  # 403 once; 503 retried twice
    sandbox.admin.clear_faults()
    sandbox.admin.fault("error", vendor="whatomate", status=429, times=2)
    assert hook.list_campaigns() == []  # 429 retried
    bad = make_hook(conn_id="whm_bad", password="whm_wrong")
    with pytest.raises(AuthenticationError, match="whm_"):
        bad.list_campaigns()


def test_test_connection(make_hook, sandbox_conns):
    for conn_id in ("whatomate_default", "whatomate_jwt_default"):
        ok, message = get_hook(conn_id).test_connection()
        assert ok and "whatomate" in message
    ok, message = make_hook(conn_id="whm_bad", password="whm_wrong").test_connection()
    assert not ok and "Invalid API key" in message
    unreachable = make_hook(conn_id="whm_down", host="http://127.0.0.1:9", extra={"max_retries": 0})
    ok, message = unreachable.test_connection()
    assert not ok and "Could not reach" in message


# --------------------------------------------------------------------------- issue 14: a real 387cae4 server


def before_post(monkeypatch, hook, suffix: str, action) -> None:
    """Another actor acts right before the hook's first POST to ``…suffix`` (after its state read)."""
    real, fired = hook.core.request, []

    def request(call):
        if call.method == "POST" and call.path.endswith(suffix) and not fired:
            fired.append(call)
            action()
        return real(call)

    monkeypatch.setattr(hook.core, "request", request)


def test_template_by_name_uuid_and_language_listed_once_per_hook(make_hook, sandbox):
    [fr] = sandbox.admin.seed("whatomate", templates=[{"name": "spring_sale_v2", "language": "fr"}])["template_ids"]
    hook = make_hook()
    by_name = hook.create_campaign(spec("a", n=1)).campaign_id
    by_uuid = hook.create_campaign(CampaignSpec(name="b", template=WELCOME.upper())).campaign_id
    by_language = hook.create_campaign(
        CampaignSpec(name="c", template="spring_sale_v2", options={"template_language": "FR"})).campaign_id
    assert [state(sandbox, c)["template_id"] for c in (by_name, by_uuid, by_language)] == [WELCOME, WELCOME, fr]
    assert requests_to(sandbox, "GET /whatomate/api/templates") == 1  # cached per hook and account
    assert make_hook(conn_id="whm_other").create_campaign(spec("d", n=1))
    assert requests_to(sandbox, "GET /whatomate/api/templates") == 2  # a new hook lists again


@pytest.mark.parametrize(("template", "options", "message"), [
    ("welcom_v2", {}, r"has no template 'welcom_v2'\. Close matches: welcome_v2\. "
                      r"Approved templates: spring_sale_v2 \(en\), spring_sale_v2 \(fr\), welcome_v2 \(en\)$"),
    ("spring_sale_v2", {}, r"several languages .* spring_sale_v2 \(en\), spring_sale_v2 \(fr\); choose one with "
                           r"vendor_options=\{'template_language'"),
    ("welcome_v2", {"template_language": "es"}, r"not approved \(welcome_v2 \(es\) is PENDING\)"),
    ("order_update", {}, r"not approved \(order_update \(en\) is PENDING\)"),
    (template_id("welcome_v2", account="second-account"), {}, r"has no template '[0-9a-f-]{36}'\. Approved"),
])
def test_template_that_does_not_fit_is_refused_before_any_create(make_hook, sandbox, template, options, message):
    sandbox.admin.seed("whatomate", accounts=["second-account"],
                       templates=[{"name": "spring_sale_v2", "language": "fr"},
                                  {"name": "welcome_v2", "whatsapp_account": "second-account"}])
    with pytest.raises(ValidationError, match=message):
        make_hook().create_campaign(CampaignSpec(name="x", template=template, recipients=[Recipient(phones(1)[0])],
                                                 options=options))
    assert requests_to(sandbox, CREATE) == 0 and requests_to(sandbox, "GET /whatomate/api/campaigns") == 0


def test_readme_example_template_name_works(make_hook, sandbox):
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [name] = set(re.findall(r'WhatsAppCreateCampaignOperator\([^)]*template="([^"]+)"', readme, flags=re.S))
    created = make_hook().create_campaign(CampaignSpec(name="readme", template=name))
    assert state(sandbox, created.campaign_id)["public"]["template_name"] == name


def test_description_is_sent(hook, sandbox):
    cid = hook.create_campaign(spec(n=1, description="spring push")).campaign_id
    assert state(sandbox, cid)["description"] == "spring push"


def test_update_keeps_the_fields_the_server_would_blank(make_hook, sandbox):
    hook = make_hook()
    cid = hook.create_campaign(spec("keep me", n=0, scheduled_at="2030-01-01T09:00:00Z")).campaign_id
    updated = hook.update_campaign(cid, template_id=template_id("spring_sale_v2"))
    assert (updated["name"], updated["scheduled_at"], updated["template_name"]) == (
        "keep me", "2030-01-01T09:00:00Z", "spring_sale_v2")


def test_state_refusals_are_invalid_state(make_hook, sandbox):
    hook = make_hook()
    running = seed(sandbox, recipients=100, send_rate=1)
    hook.start_campaign(running)
    with pytest.raises(InvalidState, match="Can only update draft campaigns"):
        hook.update_campaign(running, name="x")
    with pytest.raises(InvalidState, match="Cannot delete running campaign"):
        hook.delete_campaign(running)
    with pytest.raises(InvalidState, match="Campaign has no recipients"):
        hook.start_campaign(seed(sandbox))


@pytest.mark.parametrize(("verb", "message"), [("pause", "Campaign is not running"),
                                               ("cancel", "Campaign already finished")])
def test_transition_racing_completion_is_judged_by_the_state_after(make_hook, sandbox, monkeypatch, verb, message):
    sandbox.admin.configure(speed=0)
    hook = make_hook()
    cid = seed(sandbox, recipients=10, send_rate=1)
    hook.start_campaign(cid)
    sandbox.admin.advance(1)
    before_post(monkeypatch, hook, f"/{verb}", lambda: sandbox.admin.advance(60))  # it completes meanwhile
    with pytest.raises(InvalidState, match=message):
        getattr(hook, f"{verb}_campaign")(cid)
    assert state(sandbox, cid)["status"] == "completed"


@pytest.mark.parametrize("build", ["387cae4", "paginated"])
def test_start_racing_another_start_is_success(make_hook, sandbox, monkeypatch, build):
    sandbox.admin.configure(speed=0)
    sandbox.admin.configure("whatomate", build=build)
    other, hook = make_hook(conn_id="whm_other"), make_hook()
    cid = seed(sandbox, recipients=10, send_rate=1)
    before_post(monkeypatch, hook, "/start", lambda: other.start_campaign(cid))
    stats = hook.start_campaign(cid)
    assert stats.status is (CampaignStatus.QUEUED if build == "387cae4" else CampaignStatus.RUNNING)
    assert sandbox.admin.counters()["starts"]["whatomate"] == {cid: 1}


def test_import_racing_a_start_is_invalid_state_naming_what_landed(make_hook, sandbox, monkeypatch):
    sandbox.admin.configure(speed=0)
    hook, other = make_hook(), make_hook(conn_id="whm_other")
    cid = hook.create_campaign(spec("racy", n=2)).campaign_id
    before_post(monkeypatch, hook, "/recipients/import", lambda: other.start_campaign(cid))
    with pytest.raises(InvalidState, match=r"became 'queued' .* 0 of 3 were added in 0 batch\(es\)"):
        hook.import_recipients(cid, phones(3, start=5), batch_size=2)
    assert state(sandbox, cid)["imported_count"] == 2


def test_batch_size_bound(make_hook, sandbox):
    hook = make_hook()
    with pytest.raises(ValidationError, match="between 1 and 5,000"):
        hook.create_campaign(spec(n=1, options={"batch_size": 5_001}))
    with pytest.raises(ValidationError, match="between 1 and 5,000"):
        hook.import_recipients("00000000-0000-4000-a000-000000000000", phones(1), batch_size=6_500)
    assert sum(sandbox.admin.counters()["requests"].get("whatomate", {}).values()) == 0
    cid = hook.create_campaign(spec(n=0)).campaign_id
    result = hook.import_recipients(cid, phones(5_001), batch_size=5_000)
    assert result["batches"] == 2 and result["total_recipients"] == 5_001


@pytest.mark.parametrize(("recipients", "message"), [
    ([], "no valid phone number among the recipients, nothing was sent$"),
    (["+14155550001123456789012"], "nothing was sent: row 0: "),  # 24 characters: never reaches the server
])
def test_import_checks_what_the_server_does_not(make_hook, sandbox, recipients, message):
    hook = make_hook()
    cid = hook.create_campaign(spec(n=0)).campaign_id
    with pytest.raises(ValidationError, match=message):
        hook.import_recipients(cid, recipients)
    with pytest.raises(ValidationError, match=message) if recipients else contextlib.nullcontext():
        hook.create_campaign(CampaignSpec(name="other", template="welcome_v2", recipients=recipients))
    assert requests_to(sandbox, IMPORT) == 0 and requests_to(sandbox, CREATE) == (1 if recipients else 2)


def test_import_sends_a_repeated_number_once(make_hook, sandbox):
    """The server stores a number twice (two messages to one person); the one normalizer keeps it once."""
    hook = make_hook()
    cid = hook.create_campaign(spec(n=0)).campaign_id
    first, second = phones(2)
    result = hook.import_recipients(cid, [first, second, first.replace("+1", "+1 ")])
    assert result["total_recipients"] == 2
    assert sorted(r["phone"] for r in hook.list_recipients(cid)) == sorted([first, second])


def test_connection_probe_is_one_account_read(make_hook, sandbox):
    sandbox.admin.seed_whatomate(campaigns=[{"name": f"c {i}"} for i in range(2_000)])
    ok, message = make_hook().test_connection()
    assert ok, message
    calls = sandbox.admin.counters()["requests"]["whatomate"]
    assert calls == {"GET /whatomate/api/accounts": 1}
    ok, message = make_hook(conn_id="whm_typo", extra={"whatsapp_account": "demo-acount"}).test_connection()
    assert not ok and "'demo-acount' is not an account on this server; accounts: demo-account" in message
    sandbox.admin.seed_whatomate(api_keys=[{"key": "whm_agent_key", "role": "agent"}])
    ok, message = make_hook(conn_id="whm_agent", password="whm_agent_key").test_connection()
    assert not ok and "denies access" in message and "Access denied" in message  # text/plain 403 body read


def test_jwt_keeps_the_rotated_refresh_token(make_hook, sandbox):
    sandbox.admin.configure("whatomate", access_ttl=60)
    hook = make_hook("whatomate_jwt")
    for _ in range(3):
        hook.list_campaigns()
        sandbox.admin.advance(61)
    counters = sandbox.admin.counters()
    assert counters["logins"] == {EMAIL: 1} and counters["refreshes"] == {EMAIL: 2}
