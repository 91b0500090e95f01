"""Property-based proof for issue 12: whatever a vendor answers, only typed errors and no credential.

Hypothesis drives every connection type's sync and async stats, and one trigger poll, against one
loopback server answering generated statuses, headers, content types, encodings, framings and
bodies (vendor-shaped, truncated, huge, deeply nested, non-JSON, wrong types, echoes of the request).
The state-changing and export verbs (create with its template lookup, marker search, adoption and
recipient batches; start, pause, cancel; the contacts export, paged, typed and streamed) face such
answers at every step of their flows, sync and async, for every vendor that has the verb.
The properties: every failure is a ``WhatsAppCampaignError``; a success is a JSON-safe result; no
form of any credential appears in an error, a result, a trigger event, a log record or a hook's log
line; no call sends a state-changing request twice unless an answer showed the first did nothing.

``make test`` runs ``FUZZ_EXAMPLES`` (default 2,600) examples over the stats tests and the trigger
and a 40th of it (65) per flow test, derandomized; ``make fuzz`` runs 52,000 (1,300 per flow test)
with a random seed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import os
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import structlog.testing
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from airflow_provider_whatsapp_campaigns._http.state import clear_process_state
from airflow_provider_whatsapp_campaigns.exceptions import ERROR_CLASSES, WhatsAppCampaignError
from airflow_provider_whatsapp_campaigns.hooks.base import (
    CampaignSpec,
    CreatedCampaign,
    Recipient,
    WhatsAppCampaignHook,
    get_hook,
    hook_class_for,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStats
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from airflow_provider_whatsapp_campaigns.vendors.whatomate import reads
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
    "Invalid API key", "campaign cannot be started in current state", "Campaign has already been sent",
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
    records: list[logging.LogRecord] = field(default_factory=list, repr=False)
    # What hooks log through structlog (Airflow 3: ``self.log`` does not reach the logging module).
    events: list[MutableMapping[str, Any]] = field(default_factory=list, repr=False)
    # Multi-step flows: one planned answer per API request, in order (``api`` is then unused).
    plan: Plan | None = None
    # Every API request of the example with the status it was answered.
    trail: list[tuple[Received, int]] = field(default_factory=list, repr=False)

    @contextlib.contextmanager
    def capturing_logs(self) -> Iterator[None]:
        """Fresh log records and structlog events for one example."""
        self.records.clear()
        with structlog.testing.capture_logs() as events:
            self.events = events
            yield

    def log_texts(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(message)s")
        return [formatter.format(r) for r in self.records] + [json.dumps(e, default=str) for e in self.events]

    def respond(self, received: Received) -> Reply:
        if received.path.split("?")[0].endswith(AUTH_PATHS):
            assert self.auth is not None
            return self.auth.render(received)
        answer = self.api if self.plan is None else self.plan.answer(received, len(self.trail))
        assert answer is not None
        self.trail.append((received, answer.status))
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
    """``fuzz_<type>`` sends each request once; ``fuzz_retrying_<type>`` lets the retry policy resend."""
    env = {}
    for conn_type, fields in SCHEMES.items():
        for prefix, retries in (("FUZZ", 0), ("FUZZ_RETRYING", 2)):
            value = {
                "conn_type": conn_type,
                "host": url,
                "login": fields.get("login"),
                "password": fields["password"],
                "extra": {**fields.get("extra", {}), "max_retries": retries, "rate_limit": 0, "timeout": 10},
            }
            env[f"AIRFLOW_CONN_{prefix}_{conn_type.upper()}"] = json.dumps(value)
    return env


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop_runner:
        yield loop_runner


def _fresh_auth_caches() -> None:
    clear_process_state()


def held_secrets(conn_type: str, auth: Answer) -> list[str]:
    """What the connection holds (other connections' secrets are just text to it), plus the minted token."""
    secrets = [SCHEMES[conn_type]["password"]]
    if conn_type in MINTING and auth == GOOD_TOKEN:
        secrets.append(GOOD_TOKEN.body["access_token"])
    return secrets


def check(script: Script, outcome: Any, secrets: list[str], expected: type = CampaignStats) -> None:
    """The properties: a typed error or a usable result, and no credential anywhere."""
    if isinstance(outcome, BaseException):
        if not isinstance(outcome, WhatsAppCampaignError):
            raise outcome
        texts = error_texts(outcome)
        json.dumps(outcome.to_dict(), allow_nan=False)
    else:
        assert isinstance(outcome, expected)
        texts = result_texts(outcome)
    assert leaked(texts + script.log_texts(), secrets) == []


def result_texts(outcome: Any) -> list[str]:
    """A result as it reaches XCom or a file: stats and created campaigns JSON-safe, contact rows as exported."""
    if isinstance(outcome, list):
        return [json.dumps(row if isinstance(row, dict) else row.to_dict(), default=repr) for row in outcome]
    return [json.dumps(outcome.to_dict(), allow_nan=False)]


#: verb -> the hook method that runs it (async twins are "a" + name)
METHODS = {
    "stats": "get_campaign_stats",
    "start": "start_campaign",
    "pause": "pause_campaign",
    "cancel": "cancel_campaign",
    "create": "create_campaign",
}


def invoke(
    hook: WhatsAppCampaignHook, verb: str, mode: str, cid: str, create: tuple[CampaignSpec, str | None] | None
) -> Any:
    """One call of ``verb``: its result (sync) or a coroutine giving it (async)."""
    if verb == "contacts":
        if mode == "sync":
            return [row for page in hook.iter_contact_pages(cid) for row in page]

        async def collect() -> list[dict[str, Any]]:
            return [row async for row in hook.aiter_contacts(cid)]

        return collect()
    method = getattr(hook, METHODS[verb] if mode == "sync" else "a" + METHODS[verb])
    if verb == "create":
        assert create is not None
        spec, marker = create
        return method(spec, marker=marker)
    return method(cid)


def outcome_of(
    script: Script,
    runner: asyncio.Runner,
    conn_type: str,
    mode: str,
    auth: Answer,
    verb: str = "stats",
    create: tuple[CampaignSpec, str | None] | None = None,
) -> Any:
    """What a caller of ``verb`` meets: the result or the exception (fresh logs, trail and auth caches).

    The state-changing and export verbs run with retries (backoff without sleeping): the retry policy
    must not resend what may have taken effect."""
    script.auth = auth
    script.trail.clear()
    _fresh_auth_caches()
    with script.capturing_logs():
        hook = get_hook(f"fuzz_{conn_type}" if verb == "stats" else f"fuzz_retrying_{conn_type}")
        try:
            core = hook.core if mode == "sync" else runner.run(hook.acore())
            core.sleep, core.asleep = (lambda seconds: None), (lambda seconds: asyncio.sleep(0))
            result = invoke(hook, verb, mode, campaign_id_for(conn_type), create)
            return runner.run(result) if mode == "async" else result
        except Exception as exc:
            return exc
        finally:
            hook.close()


def poll(script: Script, runner: asyncio.Runner, conn_type: str, mode: str, api: Answer, auth: Answer) -> None:
    script.api, script.plan = api, None
    check(script, outcome_of(script, runner, conn_type, mode, auth), held_secrets(conn_type, auth))


def auth_answers(conn_type: str) -> st.SearchStrategy[Answer]:
    return AUTH_ANSWERS if conn_type in MINTING else st.just(GOOD_TOKEN)


def make_test(conn_type: str, mode: str):
    @FUZZ
    @given(api=answers(), auth=auth_answers(conn_type))
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
    script.api, script.auth, script.plan = api, auth, None
    _fresh_auth_caches()
    trigger = WhatsAppCampaignTrigger(
        f"fuzz_{conn_type}", campaign_id_for(conn_type), end_time=time.time() - 1, poll_interval=1
    )

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    with script.capturing_logs():
        events = runner.run(collect())
    assert len(events) == 1
    [event] = events
    assert event["status"] in ("success", "failed", "timeout", "error")
    if event["status"] == "error":
        assert event["error"]["error_class"] in ERROR_CLASSES
    texts = [json.dumps(event, allow_nan=False), *script.log_texts()]
    assert leaked(texts, held_secrets(conn_type, auth)) == []


# --------------------------------------------------------------------------- state-changing and export verbs

# Each flow request gets its own answer: plausible (the flow goes on to its next step, down whichever
# branch the status words and flags choose) until one bent step (hostile, or plausible with fuzzed
# fields or items), then anything. The properties of the stats tests hold for every verb, and no
# state-changing request is sent twice by one call unless an answer showed the first did nothing.

WHATOMATE_CID = campaign_id_for("whatomate")
ACCOUNT = "acc-main"
MARKER = "af-0123456789ab"
TEMPLATE = {"id": "0b6f4c1e-0000-4000-a000-000000000007", "name": "welcome", "language": "en",
            "whatsapp_account": ACCOUNT, "status": "APPROVED"}
PHONES = ("+14155552671", "+447911123456", "+4915123456789", "+33612345678", "+5511912345678")
STATUS_WORDS = ("draft", "scheduled", "queued", "processing", "running", "sending", "paused", "completed",
                "cancelled", "failed", "archived", "", ECHO, ECHO_B64, ECHO_URL)
FLOW_KEYS = (
    "id", "status", "name", "total", "page", "limit", "total_recipients", "added_count", "templates", "campaigns",
    "recipients", "contacts", "pagination", "campaign", "campaign_status", "task_id", "message", "error",
    "detail", "data", "whatsapp_account", "language", "campaign_id", "sent_count", "failed_count",
)
ITEMS = st.one_of(
    shaped("id", "name", "status", "language", "whatsapp_account", "phone_number", "phone", "recipient_name",
           "message_id", "whatsapp_message_id", "error_message", "sent_at"),
    json_values,
)


@dataclass(frozen=True)
class Step:
    """The answer to one API request of a flow: ``hostile`` as is, else a plausible answer in which
    ``status`` is the campaign's status word, ``flag`` says "found" / "last page", and ``extra``
    (fields) and ``items`` (list entries, put first) bend it."""

    hostile: Answer | None = None
    status: str = "completed"
    flag: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    items: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Plan:
    conn_type: str
    steps: tuple[Step, ...]

    def answer(self, received: Received, index: int) -> Answer:
        step = self.steps[index] if index < len(self.steps) else None
        if step is not None and step.hostile is not None:
            return step.hostile
        status, body = plausible(self.conn_type, received, step, index)
        return Answer(status, body, "application/json", None, "length")


def plausible(conn_type: str, received: Received, step: Step | None, index: int) -> tuple[int, Any]:
    """What a working vendor answers ``received``; past the plan (``step`` None) lists are empty, so
    every flow ends."""
    path = received.path.split("?")[0]
    n = 0 if step is None else 2
    step = step or Step()
    extra, items = step.extra, list(step.items)
    if conn_type.startswith("insider"):
        return 200, {"sent": 2, "delivered": 1, "open": 1, "deliveryPending": 0, **extra}
    if conn_type == "sprl":
        page = json.loads(received.body).get("page") or 1
        contacts = [{"phone": PHONES[i], "status": "sent", "message_id": f"m-{index}-{i}"} for i in range(n)]
        return 200, {"status": True, "code": 100, "data": {
            "campaign": {"campaign_id": "42", "status": step.status, "total": 2, "sent": 1},
            "contacts": items + contacts,
            "pagination": {"current_page": page, "last_page": page if step.flag else page + 1},
            **extra,
        }}
    if conn_type == "waplify":
        if path.endswith("/send"):
            return 202, {"status": "accepted", "task_id": "t-1", **extra}
        if path.endswith("/stats"):
            return 200, {"status": "success", "campaign_id": "42", "campaign_status": step.status,
                         "total_contacts": 2, "sent_count": 1, "failed_count": 0, **extra}
        return 201, {"id": "42", "name": "Spring", **extra}
    campaign = {"id": WHATOMATE_CID, "name": f"Spring [{MARKER}]", "status": step.status,
                "whatsapp_account": ACCOUNT, "total_recipients": 2, "sent_count": 1, "failed_count": 0}
    data: dict[str, Any]
    if path == "/api/templates":
        data = {"templates": [*items, TEMPLATE]}
    elif path == "/api/campaigns" and received.method == "GET":
        data = {"campaigns": items + [campaign] * step.flag}
    elif path == "/api/campaigns":
        data = {**campaign, "status": "draft", "total_recipients": 0}
    elif path.endswith("/recipients/import"):
        data = {"added_count": len(json.loads(received.body)["recipients"]), "message": "ok"}
    elif path.endswith("/recipients"):
        rows = items + [{"id": f"r-{index}-{i}", "phone_number": PHONES[i], "recipient_name": "Ann", "status": "sent",
                         "whatsapp_message_id": f"wamid-{index}-{i}"} for i in range(n)]
        data = {"recipients": rows, "total": len(rows) if step.flag else 10_000}
    elif path.endswith(("/start", "/pause", "/cancel")):
        return 200, {"message": "Campaign started", "status": "queued", **extra}
    else:
        data = campaign
    return 200, {"status": "success", "data": {**data, **extra}}


CLEAN_STEPS = st.builds(Step, status=st.sampled_from(STATUS_WORDS), flag=st.booleans())
BENT_STEPS = st.one_of(
    st.builds(Step, hostile=answers()),
    st.builds(Step, status=st.sampled_from(STATUS_WORDS), flag=st.booleans(),
              extra=st.dictionaries(st.sampled_from(FLOW_KEYS), field_values, min_size=1, max_size=3)),
    st.builds(Step, status=st.sampled_from(STATUS_WORDS), flag=st.booleans(),
              items=st.lists(ITEMS, min_size=1, max_size=3).map(tuple)),
)
#: API requests of a flow before its last one, at most (the bent step falls within the flow)
DEPTHS = {("create", "waplify"): 0, ("create", "whatomate"): 8, ("contacts", "sprl"): 3, ("contacts", "whatomate"): 3}


def plans(verb: str, vendor: str) -> st.SearchStrategy[tuple[Step, ...]]:
    """Plausible steps up to a bent one (so every depth of the flow is reached), then anything."""
    return st.builds(
        lambda clean, bent, rest: (*clean, bent, *rest),
        st.lists(CLEAN_STEPS, max_size=DEPTHS.get((verb, vendor), 2)),
        BENT_STEPS,
        st.lists(CLEAN_STEPS | BENT_STEPS, max_size=3),
    )


SPECS = st.builds(
    lambda count, batch_size, marker: (
        CampaignSpec("Spring", "welcome", account=ACCOUNT, recipients=[Recipient(p) for p in PHONES[:count]],
                     options={"batch_size": batch_size}),
        marker,
    ),
    st.integers(min_value=1, max_value=len(PHONES)),
    st.integers(min_value=1, max_value=3),
    st.sampled_from([None, MARKER]),
)


def resent(trail: list[tuple[Received, int]]) -> list[str]:
    """State-changing requests sent again without an answer that showed the first did nothing.

    Allowed: again after a 401 (the credentials were renewed) or a 429 (refused unread), and one
    import batch once more after the campaign was looked up (its recipient count shows the batch was
    not applied).
    """
    problems = []
    last: dict[tuple[str, str, bytes], int] = {}
    judged: set[tuple[str, str, bytes]] = set()
    for at, (received, _) in enumerate(trail):
        path = received.path.split("?")[0]
        if received.method == "GET" or "/auth/" in path or path.endswith("/campaigns/tracking"):
            continue
        importing = path.endswith("/recipients/import")
        key = (received.method, path, received.body if importing else b"")
        before, last[key] = last.get(key), at
        if before is None or trail[before][1] in (401, 429):
            continue
        campaign = path.removesuffix("/recipients/import")
        looked_up = any(r.method == "GET" and r.path.split("?")[0] == campaign for r, _ in trail[before + 1 : at])
        if importing and looked_up and key not in judged:
            judged.add(key)
            continue
        problems.append(f"{received.method} {path} sent again after HTTP {trail[before][1]}")
    return problems


def flow_conn_types(verb: str) -> list[str]:
    """Every connection type whose vendor has the verb."""
    return [conn_type for conn_type in SCHEMES if verb in hook_class_for(conn_type).supported]


FLOW_VERBS = ("create", "start", "pause", "cancel", "contacts")
EXPECTED = {"create": CreatedCampaign, "contacts": list}
#: a campaign status from which each verb succeeds
READY = {"start": "draft", "pause": "processing", "cancel": "processing"}
FLOW_FUZZ = settings(FUZZ, max_examples=max(1, TOTAL // 40))
#: Logins are fuzzed by the stats tests; here they mostly work, so the flow's own steps are reached.
FLOW_AUTH = st.one_of(st.just(GOOD_TOKEN), st.just(GOOD_TOKEN), st.just(GOOD_TOKEN), AUTH_ANSWERS)


def make_flow_test(verb: str, conn_type: str, mode: str):
    vendor = hook_class_for(conn_type).vendor
    streams = vendor == "whatomate" and verb == "contacts"

    @FLOW_FUZZ
    @given(
        steps=plans(verb, vendor),
        auth=FLOW_AUTH if conn_type in MINTING else st.just(GOOD_TOKEN),
        create=SPECS,
        # Whatomate parses a recipients answer above IN_MEMORY_BODY while it streams: lowered, small answers take it.
        stream_above=st.sampled_from([reads.IN_MEMORY_BODY, 0, 200]) if streams else st.just(reads.IN_MEMORY_BODY),
    )
    def test(
        script: Script,
        runner: asyncio.Runner,
        steps: tuple[Step, ...],
        auth: Answer,
        create: tuple[CampaignSpec, str | None],
        stream_above: int,
    ) -> None:
        script.plan = Plan(conn_type, steps)
        saved, reads.IN_MEMORY_BODY = reads.IN_MEMORY_BODY, stream_above
        try:
            outcome = outcome_of(script, runner, conn_type, mode, auth, verb, create)
        finally:
            reads.IN_MEMORY_BODY = saved
        # make fuzz (--hypothesis-show-statistics) shows how far the flows got
        event(f"{type(outcome).__name__} after {len(script.trail)} requests")
        check(script, outcome, held_secrets(conn_type, auth), EXPECTED.get(verb, CampaignStats))
        assert resent(script.trail) == []
        assert len(script.trail) <= 40, "a flow kept asking past the plan"

    test.__name__ = f"test_fuzz_{conn_type}_{mode}_{verb}"
    return test


for _verb in FLOW_VERBS:
    for _conn_type in flow_conn_types(_verb):
        for _mode in ("sync", "async"):
            _test = make_flow_test(_verb, _conn_type, _mode)
            globals()[_test.__name__] = _test


@pytest.mark.parametrize(
    ("verb", "conn_type"),
    [("stats", conn_type) for conn_type in SCHEMES]
    + [(verb, conn_type) for verb in FLOW_VERBS for conn_type in flow_conn_types(verb)],
)
def test_fuzz_harness_reaches_the_vendor(script: Script, runner: asyncio.Runner, verb: str, conn_type: str) -> None:
    """Plausible answers only: each verb succeeds after real requests, so the fuzz above is not refused
    before it reaches the vendor (a connection the hook rejects would make every example a
    ValidationError and every property hold vacuously)."""
    script.plan = Plan(conn_type, (Step(status=READY.get(verb, "completed")),) * 12)
    spec = CampaignSpec("Spring", "welcome", account=ACCOUNT, recipients=[Recipient(p) for p in PHONES])
    for mode in ("sync", "async"):
        outcome = outcome_of(script, runner, conn_type, mode, GOOD_TOKEN, verb, (spec, None))
        assert isinstance(outcome, EXPECTED.get(verb, CampaignStats)), outcome
        assert script.trail
