"""WhatomateHook without a server: tables, phone validation, batching, paging, JWT auth (requests-mock)."""

from __future__ import annotations

import logging
import tracemalloc

import pytest
import requests

from airflow_provider_whatsapp_campaigns._http.flow import Response
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InvalidState,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.hooks.base import CampaignSpec, Recipient
from airflow_provider_whatsapp_campaigns.recipients import load_recipients
from airflow_provider_whatsapp_campaigns.stats import CampaignStatus
from airflow_provider_whatsapp_campaigns.vendors.spec import CONTACT_COLUMNS
from airflow_provider_whatsapp_campaigns.vendors.whatomate.hook import WhatomateHook, WhatomateJwtHook
from airflow_provider_whatsapp_campaigns.vendors.whatomate.recipients import recipient_rows
from airflow_provider_whatsapp_campaigns.vendors.whatomate.tables import WHATOMATE_ERRORS, WHATOMATE_STATS

BASE = "https://whm.test"
API = f"{BASE}/api"
CID = "5b1c7c9e-0000-4000-a000-000000000001"
TPL = "7319a646-0068-4dbb-a36e-861b8e2334fd"


def phones(n: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(n)]


@pytest.fixture
def hook(airflow_conn) -> WhatomateHook:
    airflow_conn(
        "whm_unit",
        "whatomate",
        host=BASE,
        password="whm_demo_key",
        extra={"whatsapp_account": "main-account", "rate_limit": 1000, "max_retries": 1},
    )
    h = WhatomateHook("whm_unit")
    h.core.backoff = lambda state: 0
    return h


@pytest.fixture
def jwt_hook(airflow_conn) -> WhatomateJwtHook:
    airflow_conn(
        "whm_unit_jwt",
        "whatomate_jwt",
        host=BASE,
        login="demo@example.com",
        password="demo-password",
        extra={"rate_limit": 1000, "max_retries": 0},
    )
    return WhatomateJwtHook("whm_unit_jwt")


def ok(data):
    return {"json": {"status": "success", "data": data}}


def campaign(status="draft", total=0, **extra):
    return {"id": CID, "name": "c", "status": status, "total_recipients": total, **extra}


# --------------------------------------------------------------------------- status and stats


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("draft", CampaignStatus.DRAFT),
        ("scheduled", CampaignStatus.SCHEDULED),
        ("queued", CampaignStatus.QUEUED),
        ("processing", CampaignStatus.RUNNING),
        ("sending", CampaignStatus.RUNNING),
        ("paused", CampaignStatus.PAUSED),
        ("completed", CampaignStatus.COMPLETED),
        ("cancelled", CampaignStatus.CANCELLED),
        ("failed", CampaignStatus.FAILED),
        ("PROCESSING", CampaignStatus.RUNNING),
        ("archived", CampaignStatus.UNKNOWN),
        ("", CampaignStatus.UNKNOWN),
        (None, CampaignStatus.UNKNOWN),
    ],
)
def test_every_status_word(word, expected):
    stats = WHATOMATE_STATS.build({"id": CID, "status": word}, campaign_id=CID)
    assert stats.status is expected
    assert stats.vendor_status == (None if word is None else str(word))
    assert stats.is_terminal == (
        expected in {CampaignStatus.COMPLETED, CampaignStatus.CANCELLED, CampaignStatus.FAILED}
    )


def test_stats_from_wrapped_campaign_with_messy_counters(hook, requests_mock):
    requests_mock.get(
        f"{API}/campaigns/{CID}",
        **ok(
            campaign(
                "processing",
                total="1000",
                sent_count=600.0,
                delivered_count="550",
                read_count=0,
                failed_count=50,
                started_at="2024-05-01T10:00:00Z",
                whatsapp_account="main-account",
            )
        ),
    )
    stats = hook.get_campaign_stats(CID)
    assert (stats.total, stats.sent, stats.delivered, stats.read, stats.failed) == (1000, 600, 550, None, 50)
    assert stats.details["read_count"] == 0
    assert stats.pending == 350  # total - sent - failed
    assert stats.status is CampaignStatus.RUNNING
    assert stats.started_at == "2024-05-01T10:00:00+00:00"
    assert stats.completed_at is None
    assert stats.details["whatsapp_account"] == "main-account"
    assert "read_count" in stats.details["read_count_note"]
    assert stats.clicked is None and stats.replied is None  # not reported, never a made-up 0


def test_pending_is_none_when_a_counter_is_missing(hook, requests_mock):
    requests_mock.get(f"{API}/campaigns/{CID}", json=campaign("processing", total=10, sent_count=3))
    stats = hook.get_campaign_stats(CID)  # unwrapped body accepted too
    assert stats.failed is None
    assert stats.pending is None
    assert stats.sent == 3


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (400, "Campaign cannot be started in current state", InvalidState),
        (400, "Campaign cannot be paused in current state", InvalidState),
        (400, "Campaign cannot be cancelled in current state", InvalidState),
        (400, "Campaign has no pending recipients", InvalidState),
        (400, "Campaign has no recipients", InvalidState),
        # the real server's (387cae4) state refusals: conflicts, not bad input
        (400, "Can only add recipients to draft campaigns", InvalidState),
        (400, "Can only update draft campaigns", InvalidState),
        (400, "Cannot delete running campaign", InvalidState),
        (400, "Campaign is not running", InvalidState),
        (400, "Campaign already finished", InvalidState),
        (400, "Recipients can only be added to draft campaigns", InvalidState),
        (400, "WhatsApp account not found", ValidationError),
        (400, "Invalid template ID", ValidationError),
        (400, "Template not found", ValidationError),
        (400, "Invalid campaign ID", ValidationError),
        (401, "Invalid API key", AuthenticationError),
        (401, "Invalid or expired token", AuthenticationError),
        (403, "Forbidden", PermissionDenied),
        (404, "Campaign not found", NotFound),
        (429, "Too many requests", RateLimited),
        (500, "Failed to add recipients", VendorUnavailable),
        (503, "Internal server error", VendorUnavailable),
        (200, "something broke", UnexpectedResponse),  # 2xx body with status: error
    ],
)
def test_error_table(status, message, error):
    body = {"status": "error", "message": message, "data": None}
    exc = WHATOMATE_ERRORS.exception_for(Response(status, body), lambda text: text)
    assert type(exc) is error
    assert exc.http_status == status
    assert message.rstrip(".") in exc.message
    assert exc.vendor == "whatomate"


def test_invalid_api_key_names_the_key_to_check():
    exc = WHATOMATE_ERRORS.exception_for(Response(401, {"status": "error", "message": "Invalid API key"}), str)
    assert "whm_" in exc.message


def test_success_envelope_is_not_an_error():
    assert WHATOMATE_ERRORS.exception_for(Response(200, {"status": "success", "data": {}}), str) is None


def test_2xx_error_envelope_raises_from_the_hook(hook, requests_mock):
    requests_mock.get(f"{API}/campaigns/{CID}", json={"status": "error", "message": "Campaign not found"})
    with pytest.raises(UnexpectedResponse, match="Campaign not found"):
        hook.get_campaign(CID)


# --------------------------------------------------------------------------- phones before any request


def test_recipient_rows_normalize_and_report_rows():
    rows, invalid = recipient_rows(
        [
            Recipient("+1 415-555-0100", "Ann", {"1": "Ann"}),
            {"phone_number": "0151 12345678", "recipient_name": "Bo", "template_params": {1: 7}},
            "not-a-phone",
            "+1415555",
        ],
        default_region="DE",
        template_params={"2": "sale"},
    )
    assert list(rows) == [
        {"phone_number": "+14155550100", "recipient_name": "Ann", "template_params": {"2": "sale", "1": "Ann"}},
        {"phone_number": "+4915112345678", "recipient_name": "Bo", "template_params": {"2": "sale", "1": "7"}},
    ]
    assert [i.row for i in invalid] == [2, 3]


def test_import_rows_of_a_validated_list_are_built_lazily_and_the_recipients_not_copied():
    """The create operator validated the list already: the import keeps those recipients and builds
    each batch's rows while it is sent (all rows at once, plus a copy, were ~70 MB at 100,000)."""
    recipients = load_recipients([f"+1415555{i:04d}" for i in range(10_000)])
    tracemalloc.start()
    try:
        rows, invalid = recipient_rows(recipients)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert invalid == [] and len(rows) == 10_000
    assert held < 500_000, f"{held:,} bytes held for 10,000 rows"
    assert rows[1] == {"phone_number": "+14155550001"} and list(rows)[-1] == {"phone_number": "+14155559999"}


def test_import_with_only_invalid_phones_sends_nothing(hook, requests_mock):
    with pytest.raises(ValidationError, match=r"nothing was sent: row 0: .*; row 1: .*; row 2: "):
        hook.import_recipients(CID, ["12", "abc", ""])
    assert requests_mock.request_history == []


def test_create_validates_every_phone_before_the_first_request(hook, requests_mock):
    spec = CampaignSpec(name="n", template="t", recipients=[Recipient("bad"), Recipient("worse")])
    with pytest.raises(ValidationError, match="no valid phone number"):
        hook.create_campaign(spec, marker="af-1")
    assert requests_mock.request_history == []


def test_create_without_account_names_connection_and_field(airflow_conn, requests_mock):
    airflow_conn("whm_no_acc", "whatomate", host=BASE, password="whm_demo_key")
    with pytest.raises(ValidationError) as info:
        WhatomateHook("whm_no_acc").create_campaign(CampaignSpec(name="n", template="t"))
    assert "whm_no_acc" in info.value.message and "whatsapp_account" in info.value.message
    assert requests_mock.request_history == []


def test_create_leaves_out_invalid_phones_and_reports_them(hook, requests_mock):
    template = {"id": TPL, "name": "tpl_1", "language": "en", "whatsapp_account": "main-account", "status": "APPROVED"}
    requests_mock.get(f"{API}/templates?account=main-account", **ok({"templates": [template]}))
    requests_mock.post(f"{API}/campaigns", status_code=201, **ok(campaign()))
    imports = requests_mock.post(
        f"{API}/campaigns/{CID}/recipients/import", **ok({"added_count": 2, "total_recipients": 2})
    )
    spec = CampaignSpec(name="n", template="tpl_1", recipients=[Recipient(p) for p in [*phones(2), "oops"]])
    created = hook.create_campaign(spec)
    assert created.recipients_added == 2 and not created.adopted
    assert [i.row for i in created.invalid] == [2]
    assert [r["phone_number"] for r in imports.last_request.json()["recipients"]] == phones(2)
    body = requests_mock.request_history[1].json()
    assert body == {"name": "n", "whatsapp_account": "main-account", "template_id": TPL}
    assert requests_mock.request_history[1].headers["X-API-Key"] == "whm_demo_key"


@pytest.mark.parametrize("templates", [True, 7, "tpl_1", {"id": TPL}])
def test_a_template_list_that_is_not_a_list_is_unexpected(hook, requests_mock, templates):
    """Found by the flow fuzz: ``{"templates": true}`` crashed create with a TypeError."""
    requests_mock.get(f"{API}/templates?account=main-account", **ok({"templates": templates}))
    with pytest.raises(UnexpectedResponse, match="template list holds"):
        hook.create_campaign(CampaignSpec(name="n", template="tpl_1", recipients=[Recipient(p) for p in phones(1)]))
    assert len(requests_mock.request_history) == 1


# --------------------------------------------------------------------------- batching


@pytest.mark.parametrize(
    ("count", "batch_size", "sizes"),
    [(2500, None, [1000, 1000, 500]), (1000, None, [1000]), (1, None, [1]), (7, 3, [3, 3, 1]), (5001, 5000, [5000, 1])],
)
def test_import_batches(hook, requests_mock, count, batch_size, sizes):
    requests_mock.get(f"{API}/campaigns/{CID}", **ok(campaign()))
    seen: list[int] = []

    def answer(request, context):
        seen.append(len(request.json()["recipients"]))
        return {"status": "success", "data": {"added_count": seen[-1], "total_recipients": sum(seen)}}

    requests_mock.post(f"{API}/campaigns/{CID}/recipients/import", json=answer)
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    result = hook.import_recipients(CID, phones(count), **kwargs)
    assert seen == sizes
    assert 0 not in seen  # an empty import is a 500 on the real server
    assert result["added_count"] == count and result["batches"] == len(sizes)
    assert result["total_recipients"] == count


def test_import_refuses_a_non_draft_campaign_before_sending(hook, requests_mock):
    requests_mock.get(f"{API}/campaigns/{CID}", **ok(campaign("processing", total=5)))
    posts = requests_mock.post(f"{API}/campaigns/{CID}/recipients/import", **ok({}))
    with pytest.raises(InvalidState, match="draft"):
        hook.import_recipients(CID, phones(3))
    assert posts.call_count == 0


def test_lost_import_answer_is_judged_by_the_recipient_count(hook, requests_mock):
    gets = iter([campaign(total=0), campaign(total=2)])  # before; after the lost batch
    requests_mock.get(f"{API}/campaigns/{CID}", json=lambda r, c: {"status": "success", "data": next(gets)})
    requests_mock.post(
        f"{API}/campaigns/{CID}/recipients/import",
        [
            {"exc": requests.exceptions.ReadTimeout},
            {"json": {"status": "success", "data": {"added_count": 1, "total_recipients": 3}}},
        ],
    )
    result = hook.import_recipients(CID, phones(3), batch_size=2)
    posts = [r for r in requests_mock.request_history if r.method == "POST"]
    assert [len(r.json()["recipients"]) for r in posts] == [2, 1]  # the lost batch was not resent
    assert result["added_count"] == 3 and result["total_recipients"] == 3


def test_unapplied_import_batch_is_resent_once(hook, requests_mock):
    requests_mock.get(f"{API}/campaigns/{CID}", **ok(campaign(total=0)))
    requests_mock.post(
        f"{API}/campaigns/{CID}/recipients/import",
        [
            {"status_code": 500, "json": {"status": "error", "message": "db"}},
            ok({"added_count": 2, "total_recipients": 2}),
        ],
    )
    result = hook.import_recipients(CID, phones(2))
    assert [r.method for r in requests_mock.request_history] == ["GET", "POST", "GET", "POST"]
    assert result["added_count"] == 2


# --------------------------------------------------------------------------- list paging


def _listing(pages, total, *, ignore_page=False, limit=100):
    calls: list[dict] = []

    def answer(request, context):
        calls.append({k: v[0] for k, v in request.qs.items()})
        page = 1 if ignore_page else int(request.qs["page"][0])
        items = pages[page - 1] if page <= len(pages) else []
        return {"status": "success", "data": {"campaigns": items, "total": total, "page": page, "limit": limit}}

    return calls, answer


def _camps(start, n, name="c"):
    return [{"id": f"id-{i}", "name": f"{name} {i}", "status": "draft"} for i in range(start, start + n)]


def test_list_pages_until_total(hook, requests_mock):
    calls, answer = _listing([_camps(0, 100), _camps(100, 100), _camps(200, 50)], 250)
    requests_mock.get(f"{API}/campaigns", json=answer)
    result = hook.list_campaigns()
    assert len(result) == 250 and len({c["id"] for c in result}) == 250
    assert [c["page"] for c in calls] == ["1", "2", "3"]
    assert calls[0]["limit"] == "100"


def test_list_server_ignoring_page_returns_everything_once(hook, requests_mock):
    calls, answer = _listing([_camps(0, 150)], 150, ignore_page=True)
    requests_mock.get(f"{API}/campaigns", json=answer)
    assert len(hook.list_campaigns()) == 150
    assert len(calls) == 1  # total reached


def test_list_stops_when_a_page_adds_nothing_new(hook, requests_mock):
    # An older server ignoring page whose total disagrees with what it sends: never loop forever.
    calls, answer = _listing([_camps(0, 3)], 10, ignore_page=True)
    requests_mock.get(f"{API}/campaigns", json=answer)
    assert [c["id"] for c in hook.list_campaigns()] == ["id-0", "id-1", "id-2"]
    assert len(calls) == 2


def test_list_stops_on_an_empty_page_and_on_a_short_page_without_total(hook, requests_mock):
    calls, answer = _listing([_camps(0, 100)], 500)
    requests_mock.get(f"{API}/campaigns", json=answer)
    assert len(hook.list_campaigns()) == 100
    assert len(calls) == 2
    requests_mock.get(f"{API}/campaigns", **ok({"campaigns": _camps(0, 7)}))  # no total, no limit
    assert len(hook.list_campaigns()) == 7


def test_list_filters_client_side_when_the_server_ignores_them(hook, requests_mock):
    items = [*_camps(0, 3), {"id": "x", "name": "Promo [af-42]", "status": "draft", "whatsapp_account": "a"}]
    requests_mock.get(f"{API}/campaigns", **ok({"campaigns": items, "total": 4}))
    assert [c["id"] for c in hook.list_campaigns(search="AF-42")] == ["x"]
    assert [c["id"] for c in hook.list_campaigns(status="draft", whatsapp_account="a")] == ["x"]
    assert requests_mock.last_request.qs == {
        "status": ["draft"],
        "whatsapp_account": ["a"],
        "page": ["1"],
        "limit": ["100"],
    }


def test_recipients_listing_pages_defensively(hook, requests_mock):
    rows = [
        {"id": f"r{i}", "phone_number": p, "status": "sent" if i % 2 else "failed"} for i, p in enumerate(phones(5))
    ]
    requests_mock.get(f"{API}/campaigns/{CID}/recipients", **ok({"recipients": rows, "total": 5}))
    got = hook.list_recipients(CID)
    assert [r["phone"] for r in got] == phones(5) and len(requests_mock.request_history) == 1
    assert [r["recipient_id"] for r in hook.list_recipients(CID, status="failed")] == ["r0", "r2", "r4"]
    assert list(got[0]) == list(CONTACT_COLUMNS), "rows in the export columns, the vendor's id included"


# --------------------------------------------------------------------------- auth


def test_jwt_login_then_bearer_and_tokens_masked(jwt_hook, requests_mock, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(f"{API}/auth/login", **ok({"access_token": "acc-SECRET-1", "refresh_token": "ref-SECRET-1"}))
    requests_mock.get(f"{API}/campaigns/{CID}", **ok(campaign()))
    jwt_hook.get_campaign(CID)
    jwt_hook.get_campaign(CID)
    assert requests_mock.request_history[0].json() == {"email": "demo@example.com", "password": "demo-password"}
    assert [r.headers.get("Authorization") for r in requests_mock.request_history[1:]] == ["Bearer acc-SECRET-1"] * 2
    assert jwt_hook.core.auth.logins == 1  # the token is reused, not logged in again
    assert jwt_hook.core.scrub("acc-SECRET-1 ref-SECRET-1") == "*** ***"
    assert "SECRET" not in caplog.text and "demo-password" not in caplog.text


def test_jwt_tokens_from_cookies(jwt_hook, requests_mock):
    requests_mock.post(
        f"{API}/auth/login",
        json={"status": "success", "data": {"user": {}}},
        cookies={"whm_access_token": "cookie-acc", "whm_refresh_token": "cookie-ref"},
    )
    requests_mock.get(
        f"{API}/campaigns/{CID}",
        [{"status_code": 401, "json": {"status": "error", "message": "Invalid or expired token"}}, ok(campaign())],
    )
    requests_mock.post(
        f"{API}/auth/refresh", json={"status": "success", "data": {}}, cookies={"whm_access_token": "cookie-acc-2"}
    )
    jwt_hook.get_campaign(CID)
    refresh = requests_mock.request_history[2]
    assert refresh.json() == {"refresh_token": "cookie-ref"}
    assert refresh.headers["Cookie"] == "whm_refresh_token=cookie-ref"
    assert requests_mock.request_history[3].headers["Authorization"] == "Bearer cookie-acc-2"
    assert jwt_hook.core.auth.tokens.refresh == "cookie-ref"  # kept: the refresh sent no new one


def test_jwt_refresh_refused_then_login_again_then_fail(jwt_hook, requests_mock):
    expired = {"status_code": 401, "json": {"status": "error", "message": "Invalid or expired token"}}
    requests_mock.post(
        f"{API}/auth/login",
        [ok({"access_token": "a1", "refresh_token": "r1"}), ok({"access_token": "a2", "refresh_token": "r2"})],
    )
    requests_mock.post(
        f"{API}/auth/refresh", status_code=401, json={"status": "error", "message": "Invalid or expired refresh token"}
    )
    requests_mock.get(f"{API}/campaigns/{CID}", [expired, expired])
    with pytest.raises(AuthenticationError):
        jwt_hook.get_campaign(CID)
    paths = [(r.method, r.path) for r in requests_mock.request_history]
    assert paths == [
        ("POST", "/api/auth/login"),
        ("GET", f"/api/campaigns/{CID.lower()}"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/auth/login"),
        ("GET", f"/api/campaigns/{CID.lower()}"),
    ]


def test_jwt_bad_password_is_an_authentication_error(jwt_hook, requests_mock):
    requests_mock.post(
        f"{API}/auth/login", status_code=401, json={"status": "error", "message": "Invalid email or password"}
    )
    with pytest.raises(AuthenticationError, match="email"):
        jwt_hook.get_campaign(CID)
    ok_, message = jwt_hook.test_connection()
    assert not ok_ and "Authentication failed" in message


def test_jwt_login_without_any_token_is_unexpected(jwt_hook, requests_mock):
    requests_mock.post(f"{API}/auth/login", **ok({"user": {}}))
    with pytest.raises(UnexpectedResponse, match="no access token"):
        jwt_hook.get_campaign(CID)


def test_api_key_hook_accepts_a_jwt_connection(airflow_conn, requests_mock):
    airflow_conn("whm_any", "whatomate_jwt", host=BASE, login="a@b.c", password="pw", extra={"rate_limit": 1000})
    requests_mock.post(f"{API}/auth/login", **ok({"access_token": "t", "refresh_token": "r"}))
    requests_mock.get(f"{API}/campaigns/{CID}", **ok(campaign()))
    assert WhatomateHook("whm_any").get_campaign(CID)["id"] == CID
    assert requests_mock.last_request.headers["Authorization"] == "Bearer t"


def test_insecure_http_warns_once(airflow_conn, requests_mock, caplog):
    airflow_conn(
        "whm_lan", "whatomate", host="http://whatomate.lan:8080", password="whm_k", extra={"allow_insecure": True}
    )
    requests_mock.get("http://whatomate.lan:8080/api/campaigns", **ok({"campaigns": [], "total": 0}))
    with caplog.at_level(logging.WARNING):
        WhatomateHook("whm_lan").list_campaigns()
        WhatomateHook("whm_lan").list_campaigns()
    assert caplog.text.count("plain http://") == 1


def test_campaign_url_and_supported_verbs(hook):
    assert hook.campaign_url(CID) == f"{BASE}/campaigns/{CID}"
    assert hook.supported == {"create", "start", "stats", "pause", "cancel", "contacts"}
    assert (
        WhatomateJwtHook.conn_type == "whatomate_jwt" and WhatomateJwtHook.default_conn_name == "whatomate_jwt_default"
    )


def test_jwt_one_login_for_every_process_sharing_redis(airflow_conn, requests_mock, shared_redis):
    """With ``redis_url`` the workers share one login: access and refresh token (cookie or body) alike."""
    from airflow_provider_whatsapp_campaigns._http.state import clear_process_state

    airflow_conn(
        "whm_shared_jwt", "whatomate_jwt", host=BASE, login="demo@example.com", password="demo-password",
        extra={"rate_limit": 0, "max_retries": 0, "redis_url": "redis://127.0.0.1:6379/0"},
    )
    login = requests_mock.post(
        f"{API}/auth/login",
        json={"status": "success", "data": {"user": {}}},
        cookies={"whm_access_token": "cookie-acc", "whm_refresh_token": "cookie-ref"},
    )
    expired = {"status_code": 401, "json": {"status": "error", "message": "Invalid or expired token"}}
    requests_mock.get(f"{API}/campaigns/{CID}", [ok(campaign()), ok(campaign()), expired, ok(campaign())])
    refresh = requests_mock.post(
        f"{API}/auth/refresh", json={"status": "success", "data": {}}, cookies={"whm_access_token": "cookie-acc-2"}
    )
    for _ in range(3):
        clear_process_state()  # the next worker process
        WhatomateJwtHook("whm_shared_jwt").get_campaign(CID)
    assert login.call_count == 1
    assert refresh.call_count == 1
    assert refresh.last_request.headers["Cookie"] == "whm_refresh_token=cookie-ref"  # the shared refresh token
