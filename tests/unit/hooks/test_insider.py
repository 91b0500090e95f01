"""Insider hook: mapping table, error table, date validation, window splitting, merging, OAuth cache.

Sync wire tests use ``requests_mock``; async ones a small aiohttp server (``aiohttp_server``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_whatsapp_campaigns._http.flow import Response
from airflow_provider_whatsapp_campaigns._http.state import clear_process_state
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnexpectedResponse,
    UnsupportedOperation,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus
from airflow_provider_whatsapp_campaigns.vendors.insider.auth import parse_scopes
from airflow_provider_whatsapp_campaigns.vendors.insider.hook import InsiderHook, InsiderOAuthHook
from airflow_provider_whatsapp_campaigns.vendors.insider.ranges import (
    DAY,
    INSIDER_EPOCH,
    MAX_RANGE,
    split_windows,
    to_unix,
)
from airflow_provider_whatsapp_campaigns.vendors.insider.tables import (
    INSIDER_ERRORS,
    insider_failed,
    stats_from_payload,
)
from airflow_provider_whatsapp_campaigns.vendors.insider.transactional import merge_charts, merge_transactional
from airflow_provider_whatsapp_campaigns.waiting import CompletionRule

DATA = Path(__file__).parent.parent / "test_data"
KEY = "INS.demo-api-key"
SECRET = "demo-secret"
V1 = "https://insider.test"
GW = "https://gw.insider.test"
T2024 = 1704067200  # 2024-01-01T00:00:00Z


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_process_state()
    yield
    clear_process_state()


@pytest.fixture
def hook(airflow_conn) -> InsiderHook:
    airflow_conn("ins_unit", "insider_whatsapp", host=V1, password=KEY, extra={"rate_limit": 0})
    h = InsiderHook("ins_unit")
    h.core.sleeps = []  # type: ignore[attr-defined]
    h.core.sleep = h.core.sleeps.append  # type: ignore[attr-defined]
    h.core.backoff = lambda state: 0
    return h


def oauth_hook(airflow_conn, conn_id: str = "ins_oauth_unit", **extra) -> InsiderOAuthHook:
    airflow_conn(
        conn_id,
        "insider_whatsapp_oauth",
        host=GW,
        login="demo-client",
        password=SECRET,
        extra={"rate_limit": 0, **extra},
    )
    h = InsiderOAuthHook(conn_id)
    h.core.sleep = lambda s: None
    h.core.backoff = lambda state: 0
    return h


# --------------------------------------------------------------------------- mapping table

FLAT = load("insider_campaign_flat.json")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            FLAT,
            {"total": 1000, "sent": 970, "delivered": 902, "read": 496, "clicked": 59, "failed": 98, "pending": 0},
            id="flat",
        ),
        pytest.param(
            {"data": {"statistics": {"sent": 970, "delivered": 902, "read": 496}}},
            {
                "total": None,
                "sent": 970,
                "delivered": 902,
                "read": 496,
                "clicked": None,
                "failed": None,
                "pending": None,
            },
            id="wrapped",
        ),
        pytest.param(
            {"data": {"statistics": {"sent": "10", "delivered": 9.0, "open": "7", "deliveryPending": "1"}}},
            {"total": None, "sent": 10, "delivered": 9, "read": 7, "clicked": None, "failed": None, "pending": 1},
            id="wrapped-with-open-and-strings",
        ),
        pytest.param(
            {
                "sent": "12",
                "delivered": 11.0,
                "open": None,
                "click": "3",
                "targeted": "15.0",
                "drop": "3",
                "undelivered": None,
                "deliveryPending": 0.0,
            },
            {"total": 15, "sent": 12, "delivered": 11, "read": None, "clicked": 3, "failed": 3, "pending": 0},
            id="strings-null-floats",
        ),
        pytest.param(
            {"sent": "n/a", "delivered": -1, "open": True, "click": float("nan"), "targeted": ""},
            {
                "total": None,
                "sent": None,
                "delivered": None,
                "read": None,
                "clicked": None,
                "failed": None,
                "pending": None,
            },
            id="junk-is-unknown-not-zero",
        ),
        pytest.param(
            {"sent": 5, "delivered": 5, "open": 4, "read": 99},
            {"sent": 5, "delivered": 5, "read": 4, "pending": None},
            id="open-wins-over-read",
        ),
    ],
)
def test_mapping_table(payload, expected):
    stats = stats_from_payload(payload, campaign_id=42)
    assert stats.provider == "insider"
    assert stats.campaign_id == "42"
    assert stats.status is CampaignStatus.UNKNOWN
    assert stats.vendor_status is None
    assert not stats.is_terminal
    for name, value in expected.items():
        assert getattr(stats, name) == value, name
    json.dumps(stats.to_dict())  # JSON-safe


def test_flat_details_are_copied_with_numbers_normalized():
    details = stats_from_payload(FLAT, campaign_id=1).details
    assert details["drop"] == 30 and details["undelivered"] == 68
    assert details["revenue"] == 220.5 and details["conversion"] == 11 and details["unsubscribe"] == 3
    assert details["dropDetails"]["frequencyCapped"] == 7 and len(details["dropDetails"]) == 12
    assert sum(details["undeliveredDetails"].values()) == 68
    assert details["responses"][0]["sent"] == 200  # "200" in the payload
    assert details["responses"][0]["buttonName"] == "Yes, tell me more"
    assert details["responseSummary"]["buttonClick"] == 25
    assert set(details) == {
        "dropDetails",
        "undeliveredDetails",
        "responses",
        "responseSummary",
        "conversion",
        "revenue",
        "unsubscribe",
        "drop",
        "undelivered",
    }


def test_wrapped_details_are_empty():
    assert stats_from_payload({"data": {"statistics": {"sent": 1}}}, campaign_id=1).details == {}


@pytest.mark.parametrize("body", ["oops", [1], None, 7])
def test_a_non_object_body_is_an_unexpected_response(body):
    with pytest.raises(UnexpectedResponse, match="JSON object"):
        stats_from_payload(body, campaign_id=3)


@pytest.mark.parametrize(
    ("payload", "failed"),
    [
        ({"drop": 3, "undelivered": 4}, 7),
        ({"drop": "3"}, 3),
        ({"undelivered": 4.0}, 4),
        ({"drop": None, "undelivered": None}, None),
        ({}, None),
    ],
)
def test_failed_is_drop_plus_undelivered(payload, failed):
    assert insider_failed(payload) == failed


def test_flat_counters_add_up_to_targeted():
    stats = stats_from_payload(FLAT, campaign_id=1)
    assert stats.delivered + stats.pending + stats.failed == stats.total


def _stats(**counters) -> CampaignStats:
    return CampaignStats(provider="insider", campaign_id="1", **counters)


@pytest.mark.parametrize(
    ("history", "settled"),
    [
        ([_stats(sent=5, pending=0)], False),
        ([_stats(sent=5, pending=0), _stats(sent=5, pending=0)], True),
        ([_stats(sent=4, pending=0), _stats(sent=5, pending=0)], False),
        ([_stats(sent=5, pending=1), _stats(sent=5, pending=1)], False),
        ([_stats(sent=5), _stats(sent=5)], False),  # pending unknown (wrapped shape): never settled
        ([_stats(sent=5, pending=0)] * 3, True),
    ],
)
def test_settled_heuristic(history, settled):
    """The live rule (the sensor's and trigger's completion="settled"), fed one poll after another."""
    rule = CompletionRule("settled", settle_polls=max(2, len(history)))
    verdicts = [rule.evaluate(stats) for stats in history]
    assert (verdicts[-1] == "done") is settled


# --------------------------------------------------------------------------- error table


def _error(status: int, body, headers=None):
    return INSIDER_ERRORS.exception_for(Response(status, body, headers or {}), lambda text: text)


@pytest.mark.parametrize(
    ("status", "body", "error_cls", "code"),
    [
        (400, {"errorCode": "3001", "message": "Request body could not be parsed"}, ValidationError, "3001"),
        (
            400,
            {"errorCode": "3002", "message": "Validation failed", "errors": "campaign_id is required"},
            ValidationError,
            "3002",
        ),
        (400, {"error": {"code": 3002, "message": "bad"}}, ValidationError, "3002"),
        (400, {"errorCode": "3004", "message": "Campaign not found"}, NotFound, "3004"),
        (400, {"error": {"code": 3004, "message": "Campaign not found"}}, NotFound, "3004"),
        (401, {"errorCode": "1001", "message": "Authentication required"}, AuthenticationError, "1001"),
        (401, {"error": {"code": 1001, "message": "Invalid or expired token"}}, AuthenticationError, "1001"),
        (401, {"message": "Unauthorized"}, AuthenticationError, None),
        (401, None, AuthenticationError, None),
        (403, {"errorCode": "3007", "message": "WhatsApp product is not active"}, PermissionDenied, "3007"),
        (403, {"error": {"code": 3007, "message": "inactive"}}, PermissionDenied, "3007"),
        (403, {"errorCode": "1088", "message": "IP restricted"}, PermissionDenied, "1088"),
        (403, {"error": {"code": 1088, "message": "IP restricted"}}, PermissionDenied, "1088"),
        (403, {"errorCode": 1088.0, "message": "IP restricted"}, PermissionDenied, "1088"),
        (403, {"errorCode": "3005", "message": "Transactional messaging is not active"}, PermissionDenied, "3005"),
        (403, {"error": {"code": 3005}}, PermissionDenied, "3005"),
        (
            422,
            {"message": "The given data was invalid.", "errors": {"time.start": ["too early"]}},
            ValidationError,
            None,
        ),
        (429, {"errorCode": "2021", "message": "Rate limit exceeded"}, RateLimited, "2021"),
        (429, {"error": {"code": 2021, "message": "Rate limit exceeded"}}, RateLimited, "2021"),
        (500, {"message": "Internal server error"}, VendorUnavailable, None),
        (502, "<html>bad gateway</html>", VendorUnavailable, None),
        (503, None, VendorUnavailable, None),
    ],
)
def test_error_table(status, body, error_cls, code):
    exc = _error(status, body)
    assert type(exc) is error_cls
    assert exc.vendor == "insider"
    assert exc.http_status == status
    assert exc.vendor_code == code


def test_codes_beat_statuses():
    # A 2021 code means "rate limited" even on an odd status; 3004 is NotFound although HTTP 400.
    assert isinstance(_error(400, {"errorCode": "2021"}), RateLimited)
    assert isinstance(_error(400, {"errorCode": " 3004 "}), NotFound)


def test_ip_allow_list_message_is_plain():
    exc = _error(403, {"errorCode": "1088", "message": "Your IP address is not on the allow-list"})
    text = exc.message
    assert "allow-list" in text and "egress" in text and "Insider's console" in text


def test_422_field_messages_are_in_the_message():
    exc = _error(
        422,
        {
            "message": "The given data was invalid.",
            "errors": {"time.start": ["must be on or after 1514764800"], "accounts": ["bad", "worse"]},
        },
    )
    assert "time.start: must be on or after 1514764800" in exc.message
    assert "accounts: bad; worse" in exc.message


def test_3002_string_errors_are_in_the_message():
    exc = _error(400, {"errorCode": "3002", "message": "Validation failed", "errors": "end_time must be greater"})
    assert "end_time must be greater" in exc.message


def test_retry_after_is_read_from_429():
    exc = _error(429, {"errorCode": "2021"}, {"retry-after": "3"})
    assert exc.retry_after == 3.0


# --------------------------------------------------------------------------- campaign stats over the wire


def test_campaign_stats_request_and_headers(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/campaign", json=FLAT)
    stats = hook.get_campaign_stats(
        "1001", start_time=datetime(2024, 1, 1, tzinfo=UTC), end_time="2024-02-01T00:00:00Z"
    )
    assert stats.sent == 970 and stats.failed == 98
    request = requests_mock.request_history[0]
    assert request.headers["x-ins-auth-key"] == KEY
    assert "Authorization" not in request.headers
    assert request.json() == {"campaign_id": 1001, "start_time": T2024, "end_time": T2024 + 31 * DAY}


def test_campaign_stats_without_range_sends_only_the_id(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/campaign", json={"data": {"statistics": {"sent": 1}}})
    assert hook.get_campaign_stats("7", start_time=None, end_time="").sent == 1
    assert requests_mock.request_history[0].json() == {"campaign_id": 7}


@pytest.mark.parametrize(
    ("campaign_id", "options", "match"),
    [
        ("0", {}, "positive integer"),
        ("-5", {}, "positive integer"),
        ("abc", {}, "positive integer"),
        ("1.5", {}, "positive integer"),
        ("", {}, "positive integer"),
        ("12", {"start_time": T2024, "end_time": T2024}, "must be after"),
        ("12", {"start_time": T2024 + 10, "end_time": T2024}, "must be after"),
        ("12", {"start_time": T2024, "end_time": T2024 + MAX_RANGE + 1}, "longer than one year"),
        ("12", {"start_time": "2017-12-31T23:59:59Z"}, "before 2018-01-01"),
        ("12", {"start_time": "yesterday"}, "start_time must be"),
        ("12", {"end_time": 12345}, "10-digit"),
        ("12", {"start_time": True}, "start_time must be"),
        ("12", {"account_id": "x"}, "unknown option"),
    ],
)
def test_validation_happens_before_any_request(hook, requests_mock, campaign_id, options, match):
    with pytest.raises(ValidationError, match=match):
        hook.get_campaign_stats(campaign_id, **options)
    assert requests_mock.request_history == []


async def test_async_validation_happens_before_any_request(hook, requests_mock):
    with pytest.raises(ValidationError):
        await hook.aget_campaign_stats("0")
    assert requests_mock.request_history == []


def test_exactly_one_year_is_accepted(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/campaign", json=FLAT)
    hook.get_campaign_stats("3", start_time=T2024, end_time=T2024 + MAX_RANGE)
    assert requests_mock.request_history[0].json()["end_time"] - T2024 == MAX_RANGE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 1, 1, tzinfo=UTC), T2024),
        (datetime(2024, 1, 1), T2024),  # naive = UTC
        (datetime.fromisoformat("2024-01-01T03:00:00+03:00"), T2024),
        (date(2024, 1, 1), T2024),
        ("2024-01-01", T2024),
        ("2024-01-01T00:00:00Z", T2024),
        (" 1704067200 ", T2024),
        (T2024, T2024),
        (T2024 * 1000, T2024),  # milliseconds
        (T2024 + 0.9, T2024),
    ],
)
def test_to_unix(value, expected):
    assert to_unix(value, "start_time") == expected


def test_permanent_errors_are_not_retried(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/campaign", status_code=400, json={"errorCode": "3004", "message": "x"})
    with pytest.raises(NotFound) as info:
        hook.get_campaign_stats("999")
    assert requests_mock.call_count == 1
    assert info.value.vendor_code == "3004"
    assert hook.core.sleeps == []


def test_transient_errors_are_retried(hook, requests_mock):
    requests_mock.post(
        f"{V1}/v1/statistics/campaign",
        [
            {"status_code": 503, "json": {"message": "down"}},
            {"status_code": 429, "json": {"errorCode": "2021"}, "headers": {"Retry-After": "2"}},
            {"json": FLAT},
        ],
    )
    assert hook.get_campaign_stats("1").sent == 970
    assert requests_mock.call_count == 3
    assert hook.core.sleeps == [0, 2.0]


def test_api_key_never_appears_in_errors(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/campaign", status_code=401, json={"message": f"bad key {KEY}"})
    with pytest.raises(AuthenticationError) as info:
        hook.get_campaign_stats("1")
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body", "ok", "needle"),
    [
        (400, {"errorCode": "3004", "message": "Campaign not found"}, True, "works"),
        (200, FLAT, True, "works"),
        (403, {"errorCode": "1088", "message": "IP"}, False, "egress"),
        (403, {"errorCode": "3007", "message": "inactive"}, False, "WhatsApp product is not active"),
        (403, {"errorCode": "9999", "message": "nope"}, False, "denies access"),
        (401, {"message": "Unauthorized"}, False, "Authentication failed"),
        (422, {"errors": {"x": ["y"]}}, False, "x: y"),
    ],
)
def test_test_connection(hook, requests_mock, status, body, ok, needle):
    requests_mock.post(f"{V1}/v1/statistics/campaign", status_code=status, json=body)
    result, message = hook.test_connection()
    assert result is ok
    assert needle in message
    assert requests_mock.request_history[0].json() == {"campaign_id": 1}


def test_test_connection_unreachable(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/campaign", status_code=503, json={})
    ok, message = hook.test_connection()
    assert ok is False and "Could not reach Insider One" in message
    assert requests_mock.call_count == hook.core.config.max_retries + 1


# --------------------------------------------------------------------------- windows


def _check_windows(start: int, end: int, windows: list[tuple[int, int]]) -> None:
    assert windows[0][0] == start
    assert windows[-1][1] == end
    for a, b in windows:
        assert a < b, "Insider requires end > start in every window"
        assert b - a <= MAX_RANGE
    for (_, b), (a, _) in itertools.pairwise(windows):
        assert a == b + 1, "consecutive: no gap, no overlap"
        assert a % DAY == 0, "inner boundaries on 00:00 UTC"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (T2024, T2024 + 1, [(T2024, T2024 + 1)]),
        (T2024, T2024 + MAX_RANGE, [(T2024, T2024 + MAX_RANGE)]),
        # one second more than a year from 23:59:59: cutting at the last midnight would leave the single
        # second [end, end] (Insider needs end > start), so the cut moves back a day
        (
            T2024 - 1,
            T2024 + MAX_RANGE,
            [(T2024 - 1, T2024 + MAX_RANGE - DAY - 1), (T2024 + MAX_RANGE - DAY, T2024 + MAX_RANGE)],
        ),
        (T2024, T2024 + MAX_RANGE + 1, [(T2024, T2024 + MAX_RANGE - 1), (T2024 + MAX_RANGE, T2024 + MAX_RANGE + 1)]),
        # mid-day start: the first window ends at 23:59:59 within the year
        (
            T2024 + 3600,
            T2024 + 400 * DAY,
            [(T2024 + 3600, T2024 + 365 * DAY - 1), (T2024 + 365 * DAY, T2024 + 400 * DAY)],
        ),
    ],
)
def test_split_windows_boundaries(start, end, expected):
    windows = split_windows(start, end)
    assert windows == expected
    _check_windows(start, end, windows)


def test_two_and_a_half_years_is_three_windows():
    start = to_unix("2022-01-01", "s")
    end = to_unix("2024-07-01T12:00:00Z", "e")
    windows = split_windows(start, end)
    assert len(windows) == 3
    _check_windows(start, end, windows)


def test_split_windows_rejects_empty_range():
    with pytest.raises(ValidationError):
        split_windows(T2024, T2024)


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(min_value=INSIDER_EPOCH, max_value=1_900_000_000),
    span=st.integers(min_value=1, max_value=6 * MAX_RANGE),
)
def test_split_windows_property(start, span):
    end = start + span
    windows = split_windows(start, end)
    _check_windows(start, end, windows)
    # greedy: every window but the last two spans at least a year minus a day
    assert len(windows) <= span // (MAX_RANGE - DAY) + 2


@settings(max_examples=100, deadline=None)
@given(
    start_day=st.integers(min_value=0, max_value=4000),
    days=st.integers(min_value=1, max_value=1500),
)
def test_days_fall_into_exactly_one_window(start_day, days):
    start = INSIDER_EPOCH + start_day * DAY
    end = start + days * DAY
    windows = split_windows(start, end)
    midnights = range(start, end + 1, DAY)
    for midnight in midnights:
        assert sum(a <= midnight <= b for a, b in windows) == 1


# --------------------------------------------------------------------------- merging


def _chart(days: list[int], **series: list) -> dict:
    return {
        "dates": [datetime.fromtimestamp(d, tz=UTC).strftime("%Y-%m-%d") for d in days],
        "datesAsTimestamp": days,
        **series,
    }


def test_merge_sums_counters_and_keeps_unknown_as_none():
    merged = merge_transactional(
        [
            {"sent": 10, "delivered": "9", "open": None, "revenue": 1.5, "dropDetails": {"duplicates": 1, "x": None}},
            {"sent": 5.0, "delivered": 4, "revenue": "2", "dropDetails": {"duplicates": "2", "rateLimits": 3}},
            {"data": {"statistics": {"sent": 1, "delivered": 1, "read": 1}}},
        ]
    )
    assert merged["sent"] == 16 and merged["delivered"] == 14
    assert merged["open"] == 1  # only the wrapped window reported it (as "read")
    assert merged["revenue"] == 3.5
    assert merged["click"] is None and merged["deliveryPending"] is None
    assert merged["dropDetails"] == {"duplicates": 3, "x": None, "rateLimits": 3}
    assert merged["undeliveredDetails"] is None
    assert merged["chart"] is None


def test_merge_concatenates_chart_in_date_order_without_duplicate_days():
    d0, d1, d2 = T2024, T2024 + DAY, T2024 + 2 * DAY
    later = _chart([d2], sent=[30], open=[3])
    earlier = _chart([d0, d1], sent=[10, 20], open=[1, 2], click=[0, 1])
    overlap = _chart([d1], sent=[5], open=[1])  # a day reported by two windows: summed once
    chart = merge_charts([later, earlier, overlap])
    assert chart["datesAsTimestamp"] == [d0, d1, d2]
    assert chart["dates"] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert chart["sent"] == [10, 25, 30]
    assert chart["open"] == [1, 3, 3]
    assert chart["click"] == [0, 1, None]
    assert len(set(chart["dates"])) == len(chart["dates"])


def test_merge_chart_with_only_date_labels_or_ms_stamps():
    labels = merge_charts([{"dates": ["2024-01-02"], "sent": [2]}, {"dates": ["2024-01-01"], "sent": [1]}])
    assert labels == {"dates": ["2024-01-01", "2024-01-02"], "sent": [1, 2]}
    ms = merge_charts(
        [{"datesAsTimestamp": [(T2024 + DAY) * 1000], "sent": [2]}, {"datesAsTimestamp": [T2024 * 1000], "sent": [1]}]
    )
    assert ms["sent"] == [1, 2]


# --------------------------------------------------------------------------- transactional over the wire


def _tx_reply(request, context):
    body = request.json()
    days = list(range((body["start_time"] + DAY - 1) // DAY * DAY, body["end_time"] + 1, DAY))
    return {
        "sent": 10 * len(days),
        "delivered": 9 * len(days),
        "open": 5 * len(days),
        "click": len(days),
        "drop": 0,
        "undelivered": len(days),
        "targeted": 10 * len(days),
        "dropDetails": {"duplicates": 0},
        "undeliveredDetails": {"metaErrors": len(days)},
        "chart": _chart(days, sent=[10] * len(days), open=[5] * len(days)),
    }


def test_transactional_long_range_is_split_and_merged(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/transactional", json=_tx_reply)
    result = hook.get_transactional_stats("2022-01-01", "2024-07-01T12:00:00Z")
    bodies = [r.json() for r in requests_mock.request_history]
    assert len(bodies) == 3 == result["windows"]
    assert bodies[0]["start_time"] == to_unix("2022-01-01", "s")
    assert bodies[-1]["end_time"] == to_unix("2024-07-01T12:00:00Z", "e")
    for first, second in itertools.pairwise(bodies):
        assert second["start_time"] == first["end_time"] + 1
    days = (to_unix("2024-07-01", "e") - to_unix("2022-01-01", "s")) // DAY + 1
    assert result["sent"] == 10 * days and result["read"] == 5 * days and result["failed"] == days
    assert result["total"] == 10 * days and result["clicked"] == days
    assert len(result["chart"]["dates"]) == days == len(set(result["chart"]["dates"]))
    assert result["chart"]["sent"] == [10] * days
    assert result["details"] == {"dropDetails": {"duplicates": 0}, "undeliveredDetails": {"metaErrors": days}}
    assert result["provider"] == "insider" and result["kind"] == "transactional"
    assert result["start_time"] == "2022-01-01T00:00:00+00:00"
    assert result["window_ranges"] == [[b["start_time"], b["end_time"]] for b in bodies]
    assert result["delivery_rate"] == 0.9
    json.dumps(result)


def test_transactional_wrapped_shape(hook, requests_mock):
    requests_mock.post(
        f"{V1}/v1/statistics/transactional", json={"data": {"statistics": {"sent": 4, "delivered": 3, "read": 2}}}
    )
    result = hook.get_transactional_stats(T2024, T2024 + DAY)
    assert (result["sent"], result["delivered"], result["read"]) == (4, 3, 2)
    assert result["chart"] is None and result["failed"] is None and result["details"] == {}


def test_transactional_accounts_are_normalized(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/transactional", json=load("insider_transactional_flat.json"))
    result = hook.get_transactional_stats(T2024, T2024 + DAY, accounts=["905551110000", "+90 555 111 00 01"])
    assert requests_mock.request_history[0].json()["accounts"] == ["+905551110000", "+905551110001"]
    assert result["accounts"] == ["+90********00", "+90********01"]
    assert result["chart"]["open"] == [50, 100]


def test_transactional_accounts_as_string(hook, requests_mock):
    requests_mock.post(f"{V1}/v1/statistics/transactional", json={"sent": 1})
    hook.get_transactional_stats(T2024, T2024 + DAY, accounts="+905551110000, +905551110001")
    assert requests_mock.request_history[0].json()["accounts"] == ["+905551110000", "+905551110001"]


@pytest.mark.parametrize(
    ("start", "end", "accounts", "match"),
    [
        (T2024, T2024 + DAY, ["+905551110000", "12"], "row 1"),
        (T2024, T2024 + DAY, ["not-a-phone"], "row 0"),
        ("2017-06-01", T2024, None, "before 2018-01-01"),
        (T2024, T2024, None, "must be after"),
        (None, T2024, None, "both start_time and end_time"),
        (T2024, "soon", None, "end_time must be"),
    ],
)
def test_transactional_validation_before_any_request(hook, requests_mock, start, end, accounts, match):
    with pytest.raises(ValidationError, match=match):
        hook.get_transactional_stats(start, end, accounts=accounts)
    assert requests_mock.request_history == []


def test_invalid_account_is_masked_in_the_error(hook, requests_mock):
    with pytest.raises(ValidationError) as info:
        hook.get_transactional_stats(T2024, T2024 + DAY, accounts=["+1999123456789"])
    assert "+1999123456789" not in str(info.value)
    assert "row 0" in str(info.value)


def test_transactional_errors(hook, requests_mock):
    requests_mock.post(
        f"{V1}/v1/statistics/transactional",
        status_code=403,
        json={"errorCode": "3005", "message": "Transactional messaging is not active"},
    )
    with pytest.raises(PermissionDenied, match="transactional messaging is not active") as info:
        hook.get_transactional_stats(T2024, T2024 + DAY)
    assert info.value.vendor_code == "3005"


def test_transactional_with_oauth_is_refused_before_any_request(airflow_conn, requests_mock):
    hook = oauth_hook(airflow_conn)
    with pytest.raises(UnsupportedOperation, match="API-key connection"):
        hook.get_transactional_stats(T2024, T2024 + DAY)
    assert requests_mock.request_history == []


async def test_async_transactional_with_oauth_is_refused(airflow_conn, requests_mock):
    hook = oauth_hook(airflow_conn)
    with pytest.raises(UnsupportedOperation):
        await hook.aget_transactional_stats(T2024, T2024 + DAY)
    assert requests_mock.request_history == []


# --------------------------------------------------------------------------- OAuth


def _mint_reply(tokens: list[str], ttl: int = 3600):
    def reply(request, context):
        tokens.append(f"tok-{len(tokens) + 1}")
        return {"access_token": tokens[-1], "token_type": "Bearer", "expires_in": ttl}

    return reply


def test_oauth_token_is_minted_once_and_shared(airflow_conn, requests_mock):
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    first = oauth_hook(airflow_conn, scopes="wa-stats-api, extra-scope")
    for _ in range(5):
        first.get_campaign_stats("1")
    # another hook, same credentials and scopes: same cache entry
    second = oauth_hook(airflow_conn, "ins_oauth_unit_2", scopes="wa-stats-api, extra-scope")
    second.get_campaign_stats("1")
    assert tokens == ["tok-1"]
    mint = requests_mock.request_history[0]
    assert mint.json() == {
        "client_id": "demo-client",
        "client_secret": SECRET,
        "scopes": ["wa-stats-api", "extra-scope"],
    }
    stats_calls = [r for r in requests_mock.request_history if r.path.endswith("/campaign")]
    assert len(stats_calls) == 6
    assert all(r.headers["Authorization"] == "Bearer tok-1" for r in stats_calls)
    assert all("x-ins-auth-key" not in r.headers for r in stats_calls)


def test_oauth_changed_secret_never_reuses_a_cached_token(airflow_conn, requests_mock):
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    oauth_hook(airflow_conn).get_campaign_stats("1")
    airflow_conn(
        "ins_oauth_rotated",
        "insider_whatsapp_oauth",
        host=GW,
        login="demo-client",
        password="rotated-secret",
        extra={"rate_limit": 0},
    )
    InsiderOAuthHook("ins_oauth_rotated").get_campaign_stats("1")
    assert tokens == ["tok-1", "tok-2"], "a different secret must mint (and so be checked) again"
    assert requests_mock.request_history[-2].json()["client_secret"] == "rotated-secret"


def test_oauth_validation_before_minting(airflow_conn, requests_mock):
    hook = oauth_hook(airflow_conn)
    with pytest.raises(ValidationError):
        hook.get_campaign_stats("x")
    assert requests_mock.request_history == []


def test_oauth_token_reused_until_margin_before_expiry(airflow_conn, requests_mock, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens, ttl=3600))
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    hook = oauth_hook(airflow_conn)
    hook.get_campaign_stats("1")
    clock[0] += 3600 - 61
    hook.get_campaign_stats("1")
    assert tokens == ["tok-1"]
    clock[0] += 2  # now within 60 s of expiry
    hook.get_campaign_stats("1")
    assert tokens == ["tok-1", "tok-2"]


def test_oauth_short_ttl_uses_half_its_life(airflow_conn, requests_mock, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens, ttl=30))
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    hook = oauth_hook(airflow_conn)
    hook.get_campaign_stats("1")
    clock[0] = 14
    hook.get_campaign_stats("1")
    assert len(tokens) == 1
    clock[0] = 15
    hook.get_campaign_stats("1")
    assert len(tokens) == 2


def test_oauth_401_with_cached_token_remints_once(airflow_conn, requests_mock):
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))

    def stats(request, context):
        if request.headers["Authorization"] == "Bearer tok-1":
            context.status_code = 401
            return {"error": {"code": 1001, "message": "Invalid or expired token"}}
        return FLAT

    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=stats)
    hook = oauth_hook(airflow_conn)
    assert hook.get_campaign_stats("1").sent == 970
    assert tokens == ["tok-1", "tok-2"]
    assert hook.get_campaign_stats("1").sent == 970
    assert tokens == ["tok-1", "tok-2"], "the fresh token is cached"


def test_oauth_persistent_401_fails_after_one_remint(airflow_conn, requests_mock):
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))
    requests_mock.post(
        f"{GW}/api/wa/v2/statistics/campaign", status_code=401, json={"error": {"code": 1001, "message": "nope"}}
    )
    hook = oauth_hook(airflow_conn)
    with pytest.raises(AuthenticationError):
        hook.get_campaign_stats("1")
    assert tokens == ["tok-1", "tok-2"]
    assert len([r for r in requests_mock.request_history if r.path.endswith("/campaign")]) == 2


def test_oauth_bad_client_credentials(airflow_conn, requests_mock):
    requests_mock.post(
        f"{GW}/auth/token", status_code=401, json={"error": {"code": 1001, "message": "Invalid client credentials"}}
    )
    hook = oauth_hook(airflow_conn)
    with pytest.raises(AuthenticationError, match="client ID and client secret") as info:
        hook.get_campaign_stats("1")
    assert SECRET not in str(info.value)
    ok, message = hook.test_connection()
    assert ok is False and "Authentication failed" in message


def test_oauth_token_is_masked_in_errors(airflow_conn, requests_mock):
    requests_mock.post(f"{GW}/auth/token", json={"access_token": "tok-SECRET-123", "expires_in": 3600})
    requests_mock.post(
        f"{GW}/api/wa/v2/statistics/campaign",
        status_code=400,
        json={"error": {"code": 3002, "message": "token tok-SECRET-123 is odd"}},
    )
    hook = oauth_hook(airflow_conn)
    with pytest.raises(ValidationError) as info:
        hook.get_campaign_stats("1")
    assert "tok-SECRET-123" not in str(info.value)


def test_oauth_token_answer_without_token(airflow_conn, requests_mock):
    from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse

    requests_mock.post(f"{GW}/auth/token", json={"token_type": "Bearer"})
    with pytest.raises(UnexpectedResponse, match="access_token"):
        oauth_hook(airflow_conn).get_campaign_stats("1")


def test_oauth_custom_token_url(airflow_conn, requests_mock):
    requests_mock.post("https://login.insider.test/oauth/token", json={"access_token": "t", "expires_in": 60})
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    hook = oauth_hook(airflow_conn, token_url="https://login.insider.test/oauth/token", scopes=["a", "b"])
    hook.get_campaign_stats("1")
    assert requests_mock.request_history[0].json()["scopes"] == ["a", "b"]


def test_oauth_plain_http_token_url_is_refused(airflow_conn, requests_mock):
    with pytest.raises(ValidationError, match="https"):
        oauth_hook(airflow_conn, token_url="http://login.insider.test/token").get_campaign_stats("1")
    assert requests_mock.request_history == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ["wa-stats-api"]),
        ("", ["wa-stats-api"]),
        ("wa-stats-api", ["wa-stats-api"]),
        ("a b,c", ["a", "b", "c"]),
        ('["a", "b"]', ["a", "b"]),
        (["a"], ["a"]),
    ],
)
def test_parse_scopes(value, expected):
    assert parse_scopes(value) == expected


@pytest.mark.parametrize("value", ['["a",', [1, 2], {"a": 1}])
def test_parse_scopes_rejects_junk(value):
    with pytest.raises(ValidationError):
        parse_scopes(value)


def test_hook_attributes_and_forms():
    assert (InsiderHook.conn_type, InsiderHook.default_conn_name) == ("insider_whatsapp", "insider_whatsapp_default")
    assert InsiderOAuthHook.conn_type == "insider_whatsapp_oauth"
    assert InsiderOAuthHook.default_conn_name == "insider_whatsapp_oauth_default"
    assert InsiderHook.default_rate_limit == 100.0
    assert "get_ui_field_behaviour" in InsiderOAuthHook.__dict__
    assert InsiderOAuthHook.get_ui_field_behaviour()["relabeling"]["login"] == "Client ID"
    assert InsiderHook.hook_name == InsiderHook.form().hook_name
    assert InsiderOAuthHook.hook_name == InsiderOAuthHook.form().hook_name


# --------------------------------------------------------------------------- async (aiohttp server)


@pytest.fixture
async def fake_insider(aiohttp_server):
    seen: dict[str, list] = {"mints": [], "stats": [], "tx": []}

    async def token(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)  # a slow mint: concurrent callers must still share it
        seen["mints"].append(await request.json())
        return web.json_response({"access_token": f"atok-{len(seen['mints'])}", "expires_in": 3600})

    async def stats(request: web.Request) -> web.Response:
        seen["stats"].append((dict(request.headers), await request.json()))
        if (await request.json())["campaign_id"] == 404:
            return web.json_response({"error": {"code": 3004, "message": "Campaign not found"}}, status=400)
        return web.json_response(FLAT)

    async def tx(request: web.Request) -> web.Response:
        body = await request.json()
        seen["tx"].append(body)
        days = list(range((body["start_time"] + DAY - 1) // DAY * DAY, body["end_time"] + 1, DAY))
        return web.json_response({"sent": len(days), "chart": _chart(days, sent=[1] * len(days))})

    app = web.Application()
    app.router.add_post("/auth/token", token)
    app.router.add_post("/api/wa/v2/statistics/campaign", stats)
    app.router.add_post("/v1/statistics/campaign", stats)
    app.router.add_post("/v1/statistics/transactional", tx)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), seen


async def test_async_campaign_and_transactional(fake_insider, airflow_conn):
    url, seen = fake_insider
    airflow_conn("ins_async", "insider_whatsapp", host=url, password=KEY, extra={"rate_limit": 0})
    hook = InsiderHook("ins_async")
    stats = await hook.aget_campaign_stats("1001", start_time="2024-01-01", end_time="2024-01-31")
    assert stats.read == 496 and stats.failed == 98
    headers, body = seen["stats"][0]
    assert headers["x-ins-auth-key"] == KEY
    assert body == {"campaign_id": 1001, "start_time": T2024, "end_time": T2024 + 30 * DAY}
    with pytest.raises(NotFound):
        await hook.aget_campaign_stats("404")
    result = await hook.aget_transactional_stats(T2024, T2024 + 2 * MAX_RANGE + DAY)
    assert result["windows"] == len(seen["tx"]) == 3
    assert result["sent"] == 2 * 365 + 2 == len(result["chart"]["dates"])


async def test_async_oauth_concurrent_callers_mint_once(fake_insider, airflow_conn):
    url, seen = fake_insider
    airflow_conn(
        "ins_async_oauth",
        "insider_whatsapp_oauth",
        host=url,
        login="demo-client",
        password=SECRET,
        extra={"rate_limit": 0},
    )
    hooks = [InsiderOAuthHook("ins_async_oauth") for _ in range(3)]
    results = await asyncio.gather(*(hooks[i % 3].aget_campaign_stats("1") for i in range(20)))
    assert [r.sent for r in results] == [970] * 20
    assert len(seen["mints"]) == 1
    assert {h["Authorization"] for h, _ in seen["stats"]} == {"Bearer atok-1"}


async def test_sync_and_async_share_the_token(fake_insider, airflow_conn):
    url, seen = fake_insider
    airflow_conn(
        "ins_mixed", "insider_whatsapp_oauth", host=url, login="demo-client", password=SECRET, extra={"rate_limit": 0}
    )
    await InsiderOAuthHook("ins_mixed").aget_campaign_stats("1")
    await asyncio.to_thread(InsiderOAuthHook("ins_mixed").get_campaign_stats, "1")
    assert len(seen["mints"]) == 1
    assert len(seen["stats"]) == 2


# --------------------------------------------------------------------------- tokens shared through Redis

REDIS = "redis://127.0.0.1:6379/0"


def _redis_values(server) -> list[str]:
    import fakeredis

    client = fakeredis.FakeRedis(server=server)
    return [str(client.get(key)) for key in client.keys("whatsapp-campaigns:token:*")]


def test_oauth_token_minted_by_one_process_is_used_by_the_others(airflow_conn, requests_mock, shared_redis):
    """Three worker processes of one connection, one mint; Redis holds the token only sealed."""
    from tests.hostile import leaked

    token = "minted-access-token-0001"
    mints = requests_mock.post(f"{GW}/auth/token", json={"access_token": token, "expires_in": 3600})
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    for _ in range(3):
        clear_process_state()  # the next worker process: nothing cached in memory
        oauth_hook(airflow_conn, redis_url=REDIS).get_campaign_stats("1")
    assert mints.call_count == 1
    stats_calls = [r for r in requests_mock.request_history if r.path.endswith("/campaign")]
    assert [r.headers["Authorization"] for r in stats_calls] == [f"Bearer {token}"] * 3
    stored = _redis_values(shared_redis)
    assert len(stored) == 1
    assert leaked(stored, [token, SECRET]) == []


def test_a_shared_token_is_useless_to_another_secret(airflow_conn, requests_mock, shared_redis):
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    oauth_hook(airflow_conn, redis_url=REDIS).get_campaign_stats("1")
    clear_process_state()
    hook = oauth_hook(airflow_conn, redis_url=REDIS)
    share = hook.core.auth._share(hook.core)
    share.secret = "another-secret"  # same Redis entry, opened with a key derived from another secret
    import fakeredis

    assert share.open(fakeredis.FakeRedis(server=shared_redis).get(share.name)) is None
    hook.get_campaign_stats("1")
    assert tokens == ["tok-1", "tok-2"]


def test_a_token_reminted_after_401_reaches_the_other_processes(airflow_conn, requests_mock, shared_redis):
    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))
    requests_mock.post(
        f"{GW}/api/wa/v2/statistics/campaign",
        [{"status_code": 401, "json": {"message": "token expired"}}, {"json": FLAT}, {"json": FLAT}, {"json": FLAT}],
    )
    first = oauth_hook(airflow_conn, redis_url=REDIS)
    first.get_campaign_stats("1")  # mint tok-1, 401, re-mint tok-2
    first.get_campaign_stats("1")  # publishes tok-2 before it is sent
    clear_process_state()
    oauth_hook(airflow_conn, redis_url=REDIS).get_campaign_stats("1")
    assert tokens == ["tok-1", "tok-2"]
    assert requests_mock.request_history[-1].headers["Authorization"] == "Bearer tok-2"


def test_redis_away_each_process_mints_its_own_with_one_warning(
    airflow_conn, requests_mock, shared_redis, caplog, monkeypatch
):
    from airflow_provider_whatsapp_campaigns._http import redis_clients, token_share

    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    shared_redis.connected = False
    redis_calls: list[str] = []
    client = redis_clients.client
    monkeypatch.setattr(redis_clients, "client", lambda url: redis_calls.append(url) or client(url))
    with caplog.at_level("WARNING", logger=token_share.__name__):
        hook = oauth_hook(airflow_conn, redis_url=REDIS)
        hook.get_campaign_stats("1")
        hook.get_campaign_stats("1")
        hook.get_campaign_stats("1")
        assert len(redis_calls) == 1, "while Redis is away, requests must not wait on it one by one"
        hook.core.auth.tokens.forget(None)  # as after a 401: a second mint, still no error
        hook.get_campaign_stats("1")
    assert tokens == ["tok-1", "tok-2"]
    warnings = [r.getMessage() for r in caplog.records if r.name == token_share.__name__]
    assert len(warnings) == 1 and "unreachable" in warnings[0] and "127.0.0.1" not in warnings[0]


def test_a_process_waits_for_the_one_minting_and_uses_its_token(airflow_conn, requests_mock, shared_redis):
    """While another process holds the mint lock, this one waits for its token instead of minting too."""
    import threading

    import fakeredis

    from airflow_provider_whatsapp_campaigns._http.token_share import Sealed

    tokens: list[str] = []
    requests_mock.post(f"{GW}/auth/token", json=_mint_reply(tokens))
    requests_mock.post(f"{GW}/api/wa/v2/statistics/campaign", json=FLAT)
    hook = oauth_hook(airflow_conn, redis_url=REDIS)
    share = hook.core.auth._share(hook.core)
    other = fakeredis.FakeRedis(server=shared_redis)
    holding = threading.Event()

    def other_process_mints() -> None:
        lock = other.lock(share.lock_name, timeout=30)
        assert lock.acquire()
        holding.set()
        time.sleep(0.3)  # minting; whether this process asks during or after, it must not mint
        other.set(share.name, share.seal(Sealed("tok-other", None, None, time.time() + 3600)), px=3_600_000)
        lock.release()

    minting = threading.Thread(target=other_process_mints)
    minting.start()
    assert holding.wait(30)
    hook.get_campaign_stats("1")
    minting.join()
    assert tokens == []
    assert requests_mock.request_history[-1].headers["Authorization"] == "Bearer tok-other"


async def test_async_processes_share_one_mint_through_redis(fake_insider, airflow_conn, shared_redis):
    url, seen = fake_insider
    airflow_conn(
        "ins_async_shared", "insider_whatsapp_oauth", host=url, login="demo-client", password=SECRET,
        extra={"rate_limit": 0, "redis_url": REDIS},
    )
    for _ in range(3):
        clear_process_state()  # another triggerer
        await InsiderOAuthHook("ins_async_shared").aget_campaign_stats("1")
    assert len(seen["mints"]) == 1
    assert {h["Authorization"] for h, _ in seen["stats"]} == {"Bearer atok-1"}
