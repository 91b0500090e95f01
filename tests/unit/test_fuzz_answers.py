"""Property-based proof for issue 12: whatever a vendor answers, only typed errors and no credential.

Hypothesis drives every connection type's sync and async stats, and one trigger poll, against one
loopback server answering generated statuses, headers, content types, encodings, framings and
bodies (vendor-shaped, truncated, huge, deeply nested, non-JSON, wrong types, echoes of the request).
The properties: every failure is a ``WhatsAppCampaignError``; a success is JSON-safe stats; no form
of any credential appears in an error, a stats result, a trigger event or a log record.

``make test`` runs ``FUZZ_EXAMPLES`` (default 2,600) examples in total, derandomized;
``make fuzz`` runs 52,000 with a random seed.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from airflow_provider_whatsapp_campaigns._http.state import clear_process_state
from airflow_provider_whatsapp_campaigns.exceptions import ERROR_CLASSES, WhatsAppCampaignError
from airflow_provider_whatsapp_campaigns.hooks.base import get_hook
from airflow_provider_whatsapp_campaigns.stats import CampaignStats
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from tests.hostile import (
    AUTH_PATHS,
    LOGIN,
    MINTING,
    PASSWORD,
    SCHEMES,
    SECRETS,
    HostileServer,
    Received,
    Reply,
    campaign_id_for,
    encodings,
    error_texts,
    leaked,
)

FUZZ_TESTS = 2 * len(SCHEMES) + 1
TOTAL = int(os.environ.get("FUZZ_EXAMPLES", "2600"))
FUZZ = settings(
    max_examples=max(1, TOTAL // FUZZ_TESTS),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# --------------------------------------------------------------------------- strategies

ECHO, ECHO_B64, ECHO_URL = "\x00echo\x00", "\x00echo-b64\x00", "\x00echo-url\x00"
KEYS = (
    "status", "code", "message", "error", "errors", "errorCode", "flag", "detail", "data", "campaign",
    "statistics", "contacts", "pagination", "current_page", "last_page", "id", "name", "campaign_status",
    "campaign_id", "total", "total_recipients", "sent", "sent_count", "delivered", "delivered_count", "read",
    "read_count", "open", "click", "failed", "failed_count", "deliveryPending", "drop", "undelivered",
    "dropDetails", "responses", "started_at", "completed_at", "created_at", "access_token", "refresh_token",
    "token", "expires_in", "revenue", "conversion", "targeted", "accepted", "delivery_rate", "items",
)
WORDS = (
    "completed", "running", "queued", "processing", "draft", "failed", "cancelled", "paused", "error", "success",
    "2024-05-01T10:00:00Z", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00", "1714557600", "12", "-3",
    "1e400", "NaN", "", " ", "null", "INVALID_CREDENTIALS", "DAILY_LIMIT_REACHED", "3004", "1088", "129", "101",
    "Invalid API key", "campaign cannot be started in current state",
)
SECRET_FORMS = tuple(
    dict.fromkeys(form for s in SECRETS for form in encodings(s, LOGIN if s == PASSWORD else "client-1"))
)

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**20, 10**400, -1, 0, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(WORDS),
    st.sampled_from(SECRET_FORMS).map(lambda form: f"x {form} y"),
    st.sampled_from([ECHO, ECHO_B64, ECHO_URL]),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=8,
)
# Vendor-shaped fields are mostly scalars (cheap to generate), sometimes any JSON.
field_values = st.one_of(leaves, leaves, leaves, json_values)


def shaped(*keys: str) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with some of ``keys`` (vendor-like), each a generated value."""
    return st.fixed_dictionaries({}, optional={k: field_values for k in keys})


VENDOR_SHAPES = st.one_of(
    shaped("status", "code", "message", "flag", "errors").flatmap(
        lambda top: st.builds(
            lambda campaign, rest: {**top, "data": {"campaign": campaign, **rest}},
            shaped("campaign_id", "name", "status", "total", "sent", "delivered", "read", "replied", "failed",
                   "started_at", "completed_at", "accepted", "delivery_rate"),
            shaped("contacts", "pagination"),
        )
    ),
    shaped("sent", "delivered", "open", "click", "conversion", "revenue", "drop", "targeted", "undelivered",
           "deliveryPending", "dropDetails", "undeliveredDetails", "responses", "responseSummary", "errorCode",
           "error", "message", "errors"),
    shaped("sent", "delivered", "read").map(lambda s: {"data": {"statistics": s}}),
    st.builds(
        lambda top, data: {**top, "data": data},
        shaped("status", "message"),
        shaped("id", "name", "status", "total_recipients", "sent_count", "delivered_count", "read_count",
               "failed_count", "started_at", "completed_at", "whatsapp_account"),
    ),
    shaped("campaign_id", "name", "campaign_status", "total_contacts", "sent_count", "delivered_count",
           "read_count", "clicked_count", "replied_count", "failed_count", "started_at", "completed_at", "error",
           "message", "detail"),
)
TOKEN_SHAPES = st.one_of(
    st.just({"access_token": "tok-0123456789", "expires_in": 3600, "token_type": "Bearer"}),
    shaped("access_token", "expires_in", "token_type", "refresh_token", "data", "token", "status", "message"),
)


@dataclass(frozen=True)
class Answer:
    """One generated vendor answer: how it is framed, encoded and what it holds."""

    status: int
    body: Any  # a JSON value, or ("raw", bytes), ("deep", n), ("huge", n)
    content_type: str | None
    encoding: str | None
    framing: str
    headers: tuple[tuple[str, str], ...] = ()
    cut: float = 0.5

    def render(self, received: Received) -> Reply:
        data = self._bytes(received)
        if self.encoding == "gzip-valid":
            data, encoding = gzip.compress(data), "gzip"
        else:
            encoding = {"gzip-junk": "gzip", "deflate-junk": "deflate", "br-junk": "br", "bogus": "x-bogus"}.get(
                self.encoding or ""
            )
        head = [f"HTTP/1.1 {self.status} X"]
        head += [f"{k}: {v}" for k, v in self.headers]
        if self.content_type is not None:
            head.append(f"Content-Type: {self.content_type}")
        if encoding:
            head.append(f"Content-Encoding: {encoding}")
        close = False
        if self.framing == "length":
            head.append(f"Content-Length: {len(data)}")
            payload = data
        elif self.framing == "short-length":
            head.append(f"Content-Length: {len(data) + 100}")
            payload, close = data, True
        elif self.framing in ("chunked", "short-chunked", "chunk-garbage"):
            head.append("Transfer-Encoding: chunked")
            if self.framing == "chunked":
                payload = (b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)) if data else b"0\r\n\r\n"
            elif self.framing == "short-chunked":
                payload, close = b"%x\r\n%s" % (len(data) + 10, data), True
            else:
                payload, close = b"zz\r\n" + data, True
        else:  # "close": no length, the end of the connection ends the body
            payload, close = data, True
        if not close and self.framing == "length" and self.status in (204, 304) and payload:
            close = True  # a body after 204/304 would poison the next answer on a kept-alive connection
        head.append("Connection: close" if close else "Connection: keep-alive")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", errors="replace") + payload
        return Reply(raw, close=close)

    def _bytes(self, received: Received) -> bytes:
        body = self.body
        if isinstance(body, tuple) and body and body[0] == "raw":
            data = body[1]
        elif isinstance(body, tuple) and body and body[0] == "deep":
            data = ("[" * body[1] + "]" * body[1]).encode()
        elif isinstance(body, tuple) and body and body[0] == "huge":
            data = json.dumps({"message": "m" * body[1], "campaign_status": "running"}).encode()
        else:
            data = json.dumps(_echo(body, received.text())).encode()
        if self.framing == "truncated-json":
            data = data[: int(len(data) * self.cut)]
        return data


def _echo(value: Any, text: str) -> Any:
    """Replace echo markers with the request as the server received it (in three encodings)."""
    if isinstance(value, str):
        return (
            value.replace(ECHO, text)
            .replace(ECHO_B64, base64.b64encode(text.encode()).decode())
            .replace(ECHO_URL, quote(text, safe=""))
        )
    if isinstance(value, list):
        return [_echo(v, text) for v in value]
    if isinstance(value, dict):
        return {k: _echo(v, text) for k, v in value.items()}
    return value


STATUSES = st.one_of(
    st.sampled_from([200, 201, 202, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 409, 422, 429, 500, 502,
                     503, 504]),
    st.integers(min_value=200, max_value=599),
)
BODIES = st.one_of(
    VENDOR_SHAPES,
    json_values,
    st.tuples(st.just("raw"), st.binary(max_size=64)),
    st.tuples(st.just("raw"), st.sampled_from([b"<html>502 Bad Gateway</html>", b"", b"{", b'{"a":', b"\xff\xfe"])),
    st.tuples(st.just("deep"), st.sampled_from([50, 900, 1_100, 20_000])),
    st.tuples(st.just("huge"), st.sampled_from([10_000, 300_000])),
)
HEADERS = st.lists(
    st.sampled_from([
        *(("Retry-After", v) for v in ("1", "0", "-5", "1e400", "nan", "inf", "soon", "Wed, 21 Oct 2015 07:28:00 GMT",
                                       "Fri, 31 Dec 9999 23:59:59 GMT", "99999999999")),
        *(("Set-Cookie", v) for v in ("whm_access_token=a; Path=/", "whm_access_token=b; Path=/api",
                                      "whm_refresh_token=r; Path=/", "junk", "=x", "access_token=c; Domain=127.0.0.1")),
        *(("Location", v) for v in ("http://127.0.0.1:9/x", "ftp://x/", "http://[::1/", "/relative", "",
                                    "https://evil.invalid/")),
        ("X-Odd", "\x7f\x01"), ("X-Empty", ""), ("Content-Length", "-1"), ("Transfer-Encoding", "gzip"),
        ("Content-Type", "application/json"), ("WWW-Authenticate", 'Bearer error="invalid_token"'),
    ]),
    max_size=3,
)


def answers(bodies: st.SearchStrategy[Any] = BODIES) -> st.SearchStrategy[Answer]:
    return st.builds(
        Answer,
        status=STATUSES,
        body=bodies,
        content_type=st.sampled_from([
            "application/json", "application/json; charset=utf-8", "text/html", "text/plain",
            "application/problem+json", "application/octet-stream", "", "application/json; charset=bogus", None,
        ]),
        encoding=st.sampled_from([None, None, None, "gzip-valid", "gzip-junk", "deflate-junk", "br-junk", "bogus"]),
        framing=st.sampled_from(["length", "length", "length", "chunked", "close", "short-length", "short-chunked",
                                 "chunk-garbage", "truncated-json"]),
        headers=HEADERS.map(tuple),
        cut=st.floats(min_value=0, max_value=1),
    )


GOOD_TOKEN = Answer(200, {"access_token": "tok-0123456789", "expires_in": 3600}, "application/json", None, "length")
# Auth calls (token, login) get a good answer most of the time so the fuzz reaches the stats call.
AUTH_ANSWERS = st.one_of(
    st.builds(lambda body: Answer(200, body, "application/json", None, "length"), TOKEN_SHAPES),
    answers(TOKEN_SHAPES | BODIES),
)


# --------------------------------------------------------------------------- harness


@dataclass
class Script:
    api: Answer | None = None
    auth: Answer | None = None
    records: list[logging.LogRecord] = field(default_factory=list)

    def respond(self, received: Received) -> Reply:
        answer = self.auth if received.path.split("?")[0].endswith(AUTH_PATHS) else self.api
        assert answer is not None
        return answer.render(received)


class _Capture(logging.Handler):
    def __init__(self, script: Script) -> None:
        super().__init__(logging.DEBUG)
        self.script = script

    def emit(self, record: logging.LogRecord) -> None:
        self.script.records.append(record)


@pytest.fixture(scope="module")
def script() -> Iterator[Script]:
    """One server, connections and log capture for the whole module (fast examples)."""
    state = Script()
    saved = {name: os.environ.get(name) for name in _conn_env(None)}
    capture = _Capture(state)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    quiet = logging.getLogger("urllib3")
    quiet_level = quiet.level
    quiet.setLevel(logging.INFO)  # its DEBUG lines are request lines: noise here
    with HostileServer() as server:
        server.answer(state.respond)
        os.environ.update(_conn_env(server.url))
        try:
            yield state
        finally:
            root.removeHandler(capture)
            root.setLevel(old_level)
            quiet.setLevel(quiet_level)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _conn_env(url: str | None) -> dict[str, str]:
    env = {}
    for conn_type, fields in SCHEMES.items():
        value = {
            "conn_type": conn_type,
            "host": url,
            "login": fields.get("login"),
            "password": fields["password"],
            "extra": {**fields.get("extra", {}), "max_retries": 0, "rate_limit": 100_000, "timeout": 10},
        }
        env[f"AIRFLOW_CONN_FUZZ_{conn_type.upper()}"] = json.dumps(value)
    return env


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop_runner:
        yield loop_runner


def _log_texts(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(message)s")
    return [formatter.format(record) for record in records]


def _fresh_auth_caches() -> None:
    clear_process_state()


def held_secrets(conn_type: str, auth: Answer) -> list[str]:
    """What the connection holds (other connections' secrets are just text to it), plus the minted token."""
    secrets = [SCHEMES[conn_type]["password"]]
    if conn_type in MINTING and auth == GOOD_TOKEN:
        secrets.append(GOOD_TOKEN.body["access_token"])
    return secrets


def check(script: Script, outcome: Any, secrets: list[str]) -> None:
    """The properties: a typed error or JSON-safe stats, and no credential anywhere."""
    if isinstance(outcome, BaseException):
        if not isinstance(outcome, WhatsAppCampaignError):
            raise outcome
        texts = error_texts(outcome)
        json.dumps(outcome.to_dict(), allow_nan=False)
    else:
        assert isinstance(outcome, CampaignStats)
        texts = [json.dumps(outcome.to_dict(), allow_nan=False)]
    assert leaked(texts + _log_texts(script.records), secrets) == []


def poll(script: Script, runner: asyncio.Runner, conn_type: str, mode: str, api: Answer, auth: Answer) -> None:
    script.api, script.auth = api, auth
    script.records.clear()
    _fresh_auth_caches()
    hook = get_hook(f"fuzz_{conn_type}")
    outcome: Any
    try:
        cid = campaign_id_for(conn_type)
        outcome = hook.get_campaign_stats(cid) if mode == "sync" else runner.run(hook.aget_campaign_stats(cid))
    except Exception as exc:
        outcome = exc
    finally:
        hook.close()
    check(script, outcome, held_secrets(conn_type, auth))


def make_test(conn_type: str, mode: str):
    @FUZZ
    @given(api=answers(), auth=AUTH_ANSWERS if conn_type in MINTING else st.just(GOOD_TOKEN))
    def test(script: Script, runner: asyncio.Runner, api: Answer, auth: Answer) -> None:
        poll(script, runner, conn_type, mode, api, auth)

    test.__name__ = f"test_fuzz_{conn_type}_{mode}_stats"
    return test


for _conn_type in SCHEMES:
    for _mode in ("sync", "async"):
        _test = make_test(_conn_type, _mode)
        globals()[_test.__name__] = _test


@FUZZ
@given(conn_type=st.sampled_from(list(SCHEMES)), api=answers(), auth=st.just(GOOD_TOKEN) | AUTH_ANSWERS)
def test_fuzz_trigger_poll(script: Script, runner: asyncio.Runner, conn_type: str, api: Answer, auth: Answer) -> None:
    """One poll (the deadline has passed): exactly one JSON-safe event; an error event is typed and clean."""
    script.api, script.auth = api, auth
    script.records.clear()
    _fresh_auth_caches()
    trigger = WhatsAppCampaignTrigger(
        f"fuzz_{conn_type}", campaign_id_for(conn_type), end_time=time.time() - 1, poll_interval=1
    )

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    events = runner.run(collect())
    assert len(events) == 1
    [event] = events
    assert event["status"] in ("success", "failed", "timeout", "error")
    if event["status"] == "error":
        assert event["error"]["error_class"] in ERROR_CLASSES
    texts = [json.dumps(event, allow_nan=False), *_log_texts(script.records)]
    assert leaked(texts, held_secrets(conn_type, auth)) == []
