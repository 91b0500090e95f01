"""Regression tests for issue 12: hostile vendor answers and odd URLs give typed errors and leak nothing.

Every case named in the issue is here, sync and async, against a loopback server that answers
byte for byte what the test scripts (see ``tests/hostile.py``).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from unittest import mock

import pytest
import structlog.testing

from airflow_provider_whatsapp_campaigns.exceptions import (
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
    WhatsAppCampaignError,
)
from airflow_provider_whatsapp_campaigns.hooks.base import CampaignSpec, Recipient, get_hook
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.recipients import load_recipients
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from tests.hostile import (
    API_KEY,
    AUTH_PATHS,
    SCHEMES,
    SECRETS,
    HostileServer,
    Received,
    Reply,
    campaign_id_for,
    encodings,
    error_texts,
    leaked,
    reply,
)

TOKEN = {"access_token": "tok-123456789", "expires_in": 3600, "data": {"access_token": "tok-123456789"}}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s


@pytest.fixture
def vendor(server: HostileServer) -> HostileServer:
    server.reset()
    return server


@pytest.fixture
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk only to 127.0.0.1: a name lookup for anything else fails loudly instead of going out."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1"):
            raise AssertionError(f"the provider tried to resolve {host!r}: the URL check let it through")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def make_hook(airflow_conn, conn_type: str, host: str, **extra):
    fields = SCHEMES[conn_type]
    conn_id = airflow_conn(
        f"hostile_{conn_type}",
        conn_type,
        host=host,
        login=fields.get("login"),
        password=extra.pop("password", fields["password"]),
        extra={**fields.get("extra", {}), "max_retries": 0, "rate_limit": 10_000, **extra},
    )
    return get_hook(conn_id)


def stats(hook, mode: str, campaign_id: str | None = None):
    campaign_id = campaign_id or campaign_id_for(hook.conn_type)
    if mode == "sync":
        return hook.get_campaign_stats(campaign_id)
    return asyncio.run(hook.aget_campaign_stats(campaign_id))


def auth_then(answer):
    """Token and login calls succeed; every other call gets ``answer``."""

    def respond(received: Received) -> Reply:
        if received.path.split("?")[0].endswith(AUTH_PATHS):
            return reply(200, TOKEN)
        return answer(received) if callable(answer) else answer

    return respond


MODES = ["sync", "async"]

# --------------------------------------------------------------------------- credentials never reach error text


def echo_everything(received: Received) -> Reply:
    """A 400 that echoes the request (headers and body) in every field a vendor might use."""
    text = received.text()
    return reply(
        400,
        {
            "status": False,
            "message": text,
            "code": text,
            "errorCode": text,
            "error": {"code": text, "message": text},
            "errors": {"authorization": [text], "body": text},
            "flag": text,
            "detail": text,
        },
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("conn_type", list(SCHEMES))
def test_an_echoed_request_never_puts_a_credential_in_the_error(vendor, airflow_conn, caplog, conn_type, mode):
    vendor.answer(auth_then(echo_everything))
    hook = make_hook(airflow_conn, conn_type, vendor.url)
    caplog.set_level(logging.DEBUG)
    # Hooks log through structlog on Airflow 3 (caplog does not see those lines): both are read.
    with structlog.testing.capture_logs() as events, pytest.raises(WhatsAppCampaignError) as info:
        stats(hook, mode)
    assert leaked(error_texts(info.value), SECRETS) == []
    assert leaked([caplog.text, *(json.dumps(e, default=str) for e in events)], SECRETS) == []
    assert len(str(info.value)) <= 1_000, "vendor text is length-capped"
    assert info.value.vendor_code is None or len(info.value.vendor_code) <= 100


def secret_forms() -> list[tuple[str, int]]:
    """(conn_type, index of an encoding of that connection's secret) for every encoding."""
    cases = []
    for conn_type, fields in SCHEMES.items():
        forms = list(dict.fromkeys(encodings(fields["password"], fields.get("login"))))
        cases += [(conn_type, i) for i in range(len(forms))]
    return cases


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("conn_type", "form"), secret_forms())
def test_every_encoding_of_the_secret_is_scrubbed_from_message_code_and_details(
    vendor, airflow_conn, conn_type, form, mode
):
    fields = SCHEMES[conn_type]
    text = list(dict.fromkeys(encodings(fields["password"], fields.get("login"))))[form]
    wrapped = f"seen: {text} :end"
    vendor.answer(
        auth_then(
            reply(
                422,
                {
                    "status": False,
                    "message": wrapped,
                    "code": wrapped,
                    "errorCode": wrapped,
                    "error": wrapped,
                    "errors": {"field": [wrapped, {"nested": wrapped}]},
                },
            )
        )
    )
    hook = make_hook(airflow_conn, conn_type, vendor.url)
    with pytest.raises(WhatsAppCampaignError) as info:
        stats(hook, mode)
    assert leaked(error_texts(info.value), [fields["password"]]) == []


@pytest.mark.parametrize("mode", MODES)
def test_huge_vendor_message_and_code_are_capped(vendor, airflow_conn, mode):
    vendor.answer(reply(400, {"error": "c" * 10_000, "message": "m" * 100_000}))
    hook = make_hook(airflow_conn, "waplify", vendor.url)
    with pytest.raises(WhatsAppCampaignError) as info:
        stats(hook, mode)
    assert len(str(info.value)) <= 1_000
    assert len(info.value.vendor_code or "") <= 100


@pytest.mark.parametrize("conn_type", list(SCHEMES))
def test_trigger_error_event_carries_only_scrubbed_text(vendor, airflow_conn, conn_type):
    vendor.answer(auth_then(echo_everything))
    make_hook(airflow_conn, conn_type, vendor.url)
    trigger = WhatsAppCampaignTrigger(
        f"hostile_{conn_type}", campaign_id_for(conn_type), end_time=time.time() + 60, poll_interval=1
    )

    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    [event] = asyncio.run(collect())
    assert event["status"] == "error"
    assert leaked([json.dumps(event)], [*SECRETS, TOKEN["access_token"]]) == []


# --------------------------------------------------------------------------- the HTTPS rule judges the requested URL


BAD_HOSTS = [
    "http://api.example.invalid\\@localhost/",
    "http://api.example.invalid\\@127.0.0.1/",
    "https://user:pw@127.0.0.1:1/",
    "http://evil.invalid@127.0.0.1:1/",
    "http://127.0.0.1 .evil.invalid/",
    "http://127.0.0.1\t.evil.invalid/",
    "http://127.0.0.1\n.evil.invalid/",
    "http://127.0.0.1\x00.evil.invalid/",
    "http://[::1/",
    "http://[::1]x/",
    "http://127.0.0.1:99999/",
]


@pytest.mark.usefixtures("only_loopback")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("host", BAD_HOSTS)
def test_odd_hosts_are_refused_before_any_request(vendor, airflow_conn, host, mode):
    with pytest.raises(ValidationError):
        stats(make_hook(airflow_conn, "whatomate", host), mode)
    assert vendor.connections == 0


@pytest.mark.usefixtures("only_loopback")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "token_url",
    [
        "http://api.example.invalid\\@localhost/auth/token",
        "http://user:pw@127.0.0.1:1/auth/token",
        "http://127.0.0.1 .evil.invalid/auth/token",
        "ftp://127.0.0.1/auth/token",
        "http://[::1/auth/token",
    ],
)
def test_the_token_url_is_judged_as_requested(vendor, airflow_conn, token_url, mode):
    with pytest.raises(ValidationError):
        stats(make_hook(airflow_conn, "insider_whatsapp_oauth", vendor.url, token_url=token_url), mode)
    assert vendor.connections == 0


@pytest.mark.usefixtures("only_loopback")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("campaign_id", ["42\r\nX-Injected: 1", "42 43", "42\x00"])
def test_control_characters_in_a_campaign_id_are_a_validation_error(vendor, airflow_conn, campaign_id, mode):
    vendor.answer(reply(200, {"campaign_status": "running"}))
    with pytest.raises(ValidationError):
        stats(make_hook(airflow_conn, "waplify", vendor.url), mode, campaign_id)
    assert all("X-Injected" not in r.text() for r in vendor.received)


# --------------------------------------------------------------------------- transport families are typed


TRUNCATED = [
    pytest.param(Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"a\": 1", close=True), id="short-body"),
    pytest.param(
        Reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\"", close=True), id="short-chunk"
    ),
    pytest.param(Reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", close=True), id="bad-chunk"),
    pytest.param(Reply(b"", close=True), id="no-answer"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", TRUNCATED)
def test_a_broken_answer_is_vendor_unavailable(vendor, airflow_conn, answer, mode):
    vendor.answer(answer)
    with pytest.raises(VendorUnavailable):
        stats(make_hook(airflow_conn, "waplify", vendor.url), mode)


# Framing one HTTP client rejects and the other reads leniently: either outcome, but never an untyped crash.
LENIENT = [
    pytest.param(Reply(b"HTTP/1.1 200", close=True), id="half-status-line"),
    pytest.param(Reply(b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\n{}", close=True), id="bad-header"),
    pytest.param(Reply(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}", close=True), id="bad-length"),
    pytest.param(reply(200, b"{}", [("Content-Encoding", "deflate")]), id="bad-deflate"),
    pytest.param(reply(200, b"{}", [("Content-Encoding", "br")]), id="bad-brotli"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", LENIENT)
def test_odd_framing_is_read_or_a_typed_error(vendor, airflow_conn, answer, mode):
    vendor.answer(answer)
    try:
        result = stats(make_hook(airflow_conn, "waplify", vendor.url), mode)
    except WhatsAppCampaignError:
        return
    assert result.counters() == dict.fromkeys(result.counters()), "an empty object reports nothing"


MALFORMED = [
    pytest.param(reply(200, b"not gzip at all", [("Content-Encoding", "gzip")]), id="bad-gzip"),
    pytest.param(Reply(b"HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\n{}"), id="bad-status"),
    pytest.param(reply(302, b"", [("Location", "ftp://127.0.0.1/x")]), id="redirect-ftp"),
    pytest.param(reply(302, b"", [("Location", "http://[::1/x")]), id="redirect-bad-ipv6"),
    pytest.param(reply(302, b""), id="redirect-without-location"),
    pytest.param(reply(200, "[" * 100_000 + "]" * 100_000, [("Content-Type", "application/json")]), id="deep-json"),
    pytest.param(reply(200, [1, 2, 3]), id="list-body"),
    pytest.param(reply(200, "just text", [("Content-Type", "text/plain")]), id="text-body"),
    pytest.param(reply(200, b"\xff\xfe\x00garbage", [("Content-Type", "application/json")]), id="binary-body"),
    pytest.param(reply(200, "42"), id="number-body"),
    pytest.param(reply(200, b""), id="empty-body"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", MALFORMED)
@pytest.mark.parametrize("conn_type", ["waplify", "whatomate", "insider_whatsapp", "sprl"])
def test_a_malformed_answer_is_a_typed_error(vendor, airflow_conn, conn_type, answer, mode):
    vendor.answer(auth_then(answer))
    with pytest.raises(WhatsAppCampaignError):
        stats(make_hook(airflow_conn, conn_type, vendor.url), mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_with_a_broken_off_compressed_body_is_a_typed_error(vendor, airflow_conn, mode):
    """Found by make fuzz: requests read a 3xx body to prepare the next hop and raised RuntimeError."""
    body = gzip.compress(b'{"campaign_status": "running"}')
    vendor.answer(
        Reply(
            b"HTTP/1.1 301 X\r\nLocation: http://127.0.0.1:9/x\r\nContent-Encoding: gzip\r\n"
            + b"Content-Length: %d\r\n\r\n" % (len(body) + 100)
            + body,
            close=True,
        )
    )
    with pytest.raises(WhatsAppCampaignError):
        stats(make_hook(airflow_conn, "waplify", vendor.url), mode)


HUGE = "1" + "0" * 400
HUGE_CAMPAIGN = f'{{"campaign_id": {HUGE}, "id": {HUGE}, "name": {HUGE}, "status": "running", "campaign_status": "running"}}'
HUGE_BODIES = {
    "sprl": f'{{"status": true, "data": {{"campaign": {HUGE_CAMPAIGN}}}}}',
    "whatomate": f'{{"status": "success", "data": {HUGE_CAMPAIGN}}}',
    "waplify": HUGE_CAMPAIGN,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("conn_type", list(HUGE_BODIES))
def test_a_huge_integer_name_or_id_is_written_out(vendor, airflow_conn, conn_type, mode):
    """Found by make fuzz: a 401-digit number made the text check raise OverflowError."""
    vendor.answer(reply(200, HUGE_BODIES[conn_type], [("Content-Type", "application/json")]))
    assert stats(make_hook(airflow_conn, conn_type, vendor.url), mode).name == HUGE


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_is_a_typed_error(vendor, airflow_conn, mode):
    vendor.answer(lambda r: reply(302, b"", [("Location", f"{vendor.url}{r.path}")]))
    with pytest.raises(UnexpectedResponse):
        stats(make_hook(airflow_conn, "waplify", vendor.url), mode)
    assert len(vendor.received) == 1


@pytest.mark.parametrize("mode", MODES)
def test_duplicate_cookies_at_login_are_not_a_crash(vendor, airflow_conn, mode):
    login = reply(
        200,
        {"status": "success"},
        [
            ("Set-Cookie", "whm_access_token=one; Path=/"),
            ("Set-Cookie", "whm_access_token=two; Path=/api"),
            ("Set-Cookie", "whm_access_token=three; Path=/; Domain=127.0.0.1"),
        ],
    )
    vendor.answer(lambda r: login if r.path.endswith("/api/auth/login") else reply(200, {"data": {"id": "42"}}))
    result = stats(make_hook(airflow_conn, "whatomate_jwt", vendor.url), mode)
    assert result.campaign_id == "42"


@pytest.mark.usefixtures("only_loopback")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("key", ["line\nbreak", "carriage\rreturn", "nul\x00byte", "ключ-не-latin1", "tab\tok?"])
def test_a_key_that_cannot_be_a_header_is_a_validation_error(vendor, airflow_conn, key, mode):
    vendor.answer(reply(200, {"campaign_status": "running"}))
    hook = make_hook(airflow_conn, "waplify", vendor.url, password=key)
    if key == "tab\tok?":  # a tab is legal inside a header value
        stats(hook, mode)
        return
    with pytest.raises(ValidationError) as info:
        stats(hook, mode)
    assert key not in str(info.value)
    assert vendor.received == []


# --------------------------------------------------------------------------- bounded parsing


@pytest.mark.parametrize("mode", MODES)
def test_a_body_over_the_size_cap_is_refused_without_reading_it(vendor, airflow_conn, mode):
    vendor.answer(Reply(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{}",
                        close=True))
    with pytest.raises(UnexpectedResponse):
        stats(make_hook(airflow_conn, "waplify", vendor.url), mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [b"200 OK", b"302 Found\r\nLocation: /elsewhere"])
def test_a_streamed_body_over_the_size_cap_is_cut(vendor, airflow_conn, status, mode):
    """Reading stops at the cap, for a redirect too (requests would read a 3xx body whole, unbounded)."""
    head = b'{"campaign_status": "running", "pad": "'
    chunk = b"x" * (1 << 20)

    def chunks() -> Iterator[bytes]:
        for _ in range(120):  # 120 MiB: well over the cap
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        yield b'%x\r\n"}\r\n0\r\n\r\n' % 2

    vendor.answer(
        lambda r: Reply(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n" % (len(head), head),
            close=True,
            stream=chunks(),
        )
    )
    with pytest.raises(UnexpectedResponse):
        stats(make_hook(airflow_conn, "waplify", vendor.url), mode)
    assert vendor.streamed < 100 * (1 << 20), "the client stopped reading near the cap"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '[{"phone": ' + "[" * 50_000 + "]" * 50_000 + "}]"])
def test_deeply_nested_recipients_json_is_a_validation_error(text):
    with pytest.raises(ValidationError):
        load_recipients(text)


def test_deeply_nested_recipients_json_lines_are_a_validation_error(tmp_path):
    path = tmp_path / "recipients.jsonl"
    path.write_text('{"phone": "+14155550100"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ValidationError):
        load_recipients(path)


# --------------------------------------------------------------------------- stats normalization is total


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "raw",
    [
        "1e20",
        "100000000000000000000",
        "NaN",
        "Infinity",
        "-Infinity",
        '"9999-12-31T23:59:59-12:00"',
        '"0001-01-01T00:00:00+01:00"',
        '"99999999999999999999999"',
        "-1e300",
    ],
)
def test_an_unreadable_timestamp_is_null_with_a_note(vendor, airflow_conn, raw, mode):
    body = f'{{"campaign_status": "running", "sent_count": 3, "started_at": {raw}, "completed_at": {raw}}}'
    vendor.answer(reply(200, body, [("Content-Type", "application/json")]))
    result = stats(make_hook(airflow_conn, "waplify", vendor.url), mode)
    assert result.started_at is None
    assert result.completed_at is None
    assert result.sent == 3
    notes = result.to_dict()["details"]["unreadable"]
    assert set(notes) >= {"started_at", "completed_at"}
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("mode", MODES)
def test_an_unreadable_counter_is_null_with_a_note_never_a_made_up_number(vendor, airflow_conn, mode):
    body = '{"campaign_status": "running", "sent_count": "lots", "delivered_count": NaN, "failed_count": 1e400}'
    vendor.answer(reply(200, body, [("Content-Type", "application/json")]))
    result = stats(make_hook(airflow_conn, "waplify", vendor.url), mode)
    assert (result.sent, result.delivered, result.failed) == (None, None, None)
    assert set(result.details["unreadable"]) >= {"sent", "delivered", "failed"}
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("body", [[], "text", 7, None, {"data": [1]}, {"data": "x"}, {"id": {"x": 1}}])
def test_waplify_create_with_a_non_object_answer_is_a_typed_error(vendor, airflow_conn, body, mode):
    vendor.answer(reply(201, json.dumps(body), [("Content-Type", "application/json")]))
    hook = make_hook(airflow_conn, "waplify", vendor.url)
    spec = CampaignSpec(name="c", template="t", recipients=[Recipient("+14155550100")])
    with pytest.raises(UnexpectedResponse):
        if mode == "sync":
            hook.create_campaign(spec)
        else:
            asyncio.run(hook.acreate_campaign(spec))


def run_verb(hook, mode: str, verb: str, *args, **kwargs):
    method = getattr(hook, verb if mode == "sync" else "a" + verb)
    return method(*args, **kwargs) if mode == "sync" else asyncio.run(method(*args, **kwargs))


def whatomate_adopting(received: Received) -> Reply:
    """A Whatomate whose campaign carrying the marker has, as id and status, an echo of the request."""
    path = received.path.split("?")[0]
    cid = campaign_id_for("whatomate")
    if path == "/api/templates":
        template = {"id": "0b6f4c1e-0000-4000-a000-000000000007", "name": "welcome", "language": "en",
                    "whatsapp_account": "acc", "status": "APPROVED"}
        return reply(200, {"status": "success", "data": {"templates": [template]}})
    if path == "/api/campaigns":
        found = {"id": cid, "name": "Spring [af-1]", "status": "draft", "whatsapp_account": "acc"}
        return reply(200, {"status": "success", "data": {"campaigns": [found]}})
    return reply(200, {"status": "success", "data": {"id": cid, "status": received.text(), "total_recipients": 1}})


@pytest.mark.parametrize("mode", MODES)
def test_whatomate_adoption_logs_no_echoed_credential(vendor, airflow_conn, mode):
    """Found by the flow fuzz: the adoption line logged the campaign's status as the vendor sent it."""
    vendor.answer(whatomate_adopting)
    hook = make_hook(airflow_conn, "whatomate", vendor.url)
    spec = CampaignSpec("Spring", "welcome", account="acc", recipients=[Recipient("+14155552671")])
    with structlog.testing.capture_logs() as events:
        created = run_verb(hook, mode, "create_campaign", spec, marker="af-1")
    assert created.adopted
    assert any("adopting campaign" in e["event"] for e in events)
    assert leaked([json.dumps(e, default=str) for e in events], SECRETS) == []


def waplify_sent_elsewhere() -> Callable[[Received], Reply]:
    """Waplify refuses the send as already sent; the status read afterwards echoes the request."""
    sends: list[Received] = []

    def respond(received: Received) -> Reply:
        if received.path.endswith("/send"):
            sends.append(received)
            return reply(400, {"error": "bad_request", "message": "Campaign has already been sent"})
        status = received.text() if sends else "draft"
        return reply(200, {"status": "success", "campaign_id": "42", "campaign_status": status})

    return respond


@pytest.mark.parametrize("mode", MODES)
def test_waplify_refused_send_logs_no_echoed_credential(vendor, airflow_conn, mode):
    """The line saying an earlier send took effect names the status the vendor sent: scrubbed."""
    vendor.answer(waplify_sent_elsewhere())
    hook = make_hook(airflow_conn, "waplify", vendor.url)
    with structlog.testing.capture_logs() as events:
        run_verb(hook, mode, "start_campaign", "42")
    assert any("took effect" in e["event"] for e in events)
    assert leaked([json.dumps(e, default=str) for e in events], SECRETS) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("expires_in", ["1" + "0" * 400, "1e400", '"1e999"', "-5", "0", '"soon"', "1e-300"])
def test_a_huge_or_odd_expires_in_is_not_a_crash(vendor, airflow_conn, expires_in, mode):
    token = f'{{"access_token": "tok-abcdefgh", "expires_in": {expires_in}}}'

    def answer(r: Received) -> Reply:
        if r.path.endswith("/auth/token"):
            return reply(200, token, [("Content-Type", "application/json")])
        return reply(200, {"sent": 5})

    vendor.answer(answer)
    assert stats(make_hook(airflow_conn, "insider_whatsapp_oauth", vendor.url), mode).sent == 5


# --------------------------------------------------------------------------- the trigger never crashes


@pytest.mark.parametrize("boom", [RuntimeError, RecursionError, KeyError, AttributeError, OverflowError])
def test_any_unexpected_exception_in_the_trigger_becomes_an_error_event(vendor, airflow_conn, caplog, capfd, boom):
    make_hook(airflow_conn, "waplify", vendor.url)
    trigger = WhatsAppCampaignTrigger("hostile_waplify", "42", end_time=time.time() + 60, poll_interval=1)

    async def explode(*args, **kwargs):
        raise boom(f"vendor said {API_KEY}")

    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    caplog.set_level(logging.DEBUG)
    with mock.patch("airflow_provider_whatsapp_campaigns.hooks.waplify.WaplifyHook.aget_campaign_stats", explode):
        [event] = asyncio.run(collect())
    assert event["status"] == "error"
    assert event["error"]["error_class"]
    assert boom.__name__ in event["error"]["message"]
    logged = caplog.text + "".join(capfd.readouterr())  # the trigger logs through structlog on Airflow 3
    assert "Traceback" in logged, "the traceback is logged"
    assert leaked([json.dumps(event), logged], SECRETS) == []


# --------------------------------------------------------------------------- export files


@pytest.mark.parametrize("file_name", ["contacts.jsonl", "contacts.csv"])
def test_an_export_page_echoing_the_secret_is_written_scrubbed(vendor, airflow_conn, tmp_path, file_name):
    """Recipients pages that echo the API key, one encoding a page: the file holds ``***`` there and
    every other row as the vendor sent it."""
    forms = list(dict.fromkeys(encodings(API_KEY)))
    per_page = 50

    def page(received: Received) -> Reply:
        number = int(received.path.split("page=")[1].split("&")[0])
        rows = [{"id": f"r{number}-{i}", "phone_number": f"+1555{number:03d}{i:04d}", "status": "sent"}
                for i in range(per_page)]
        rows.insert(number % per_page, {"id": f"e{number}", "status": "failed",
                                        "error_message": f"seen {forms[number - 1]} end"})
        data = {"recipients": rows, "total": (per_page + 1) * len(forms), "page": number}
        return reply(200, {"status": "success", "data": data})

    vendor.answer(page)
    hook = make_hook(airflow_conn, "whatomate", vendor.url)
    target = tmp_path / file_name
    op = WhatsAppExportContactsOperator(
        task_id="export", conn_id=hook.conn_id, campaign_id=campaign_id_for("whatomate"), path=str(target)
    )
    assert op.execute({"ti": mock.MagicMock()})["rows"] == (per_page + 1) * len(forms)
    text = target.read_text()
    assert leaked([text], [API_KEY]) == []
    assert text.count("seen *** end") == len(forms)
    assert text.count("+1555") == per_page * len(forms), "every other row is written as sent"


@pytest.mark.parametrize("levels", [2, 63, 64, 65, 200])
@pytest.mark.parametrize("opener", ["[", '{"a": '])
def test_json_is_refused_past_the_depth_limit_exactly(levels, opener):
    """Shallow answers skip the depth walk; the limit still holds at its edge, for lists and objects."""
    from airflow_provider_whatsapp_campaigns._http.transport import MAX_JSON_DEPTH, UnreadableAnswer, load_json

    closer = "]" if opener == "[" else "}"
    text = opener * levels + "1" + closer * levels
    if levels <= MAX_JSON_DEPTH:
        assert load_json(text) is not None
    else:
        with pytest.raises(UnreadableAnswer):
            load_json(text)


@pytest.mark.parametrize("mode", MODES)
def test_a_token_sent_only_as_a_cookie_is_used(vendor, airflow_conn, mode):
    """Newer Whatomate servers put the login token in a cookie only; both transports read it."""
    login = reply(200, {"status": "success", "data": {}}, [("Set-Cookie", "whm_access_token=from-cookie; Path=/")])
    vendor.answer(lambda r: login if r.path.endswith("/api/auth/login") else reply(200, {"data": {"id": "42"}}))
    stats(make_hook(airflow_conn, "whatomate_jwt", vendor.url), mode)
    polled = vendor.received[-1]
    assert ("Authorization", "Bearer from-cookie") in [(k.title(), v) for k, v in polled.headers]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": [1, 2.5, "\\u00e9"], "a": null}', {"a": None}),
        (b"123456789012345678901234567890", 123456789012345678901234567890),
        (b"NaN", "nan"),  # what the fast decoder refuses gets json's verdict
        (b"1e400", "inf"),
        (b'"\\ud800"', "\ud800"),
        (b'{"a": "\xff"}', {"a": "\ufffd"}),
        (b"not json", "not json"),
    ],
)
def test_an_answer_decodes_as_the_standard_json_module_reads_it(body, expected):
    from airflow_provider_whatsapp_campaigns._http.transport import decode_body

    value = decode_body(body)
    assert (repr(value) if isinstance(value, float) else value) == expected
