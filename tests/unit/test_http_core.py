"""The request core: retries, Retry-After, rate limits, error mapping, transport security, masking."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time

import pytest
import requests
from aiohttp import web

from airflow_provider_whatsapp_campaigns._http.auth import StaticHeaderAuth
from airflow_provider_whatsapp_campaigns._http.core import RequestCore
from airflow_provider_whatsapp_campaigns._http.errors import ErrorMap, ErrorRule, parse_retry_after
from airflow_provider_whatsapp_campaigns._http.flow import Call, Response
from airflow_provider_whatsapp_campaigns._http.state import STATE, clear_process_state
from airflow_provider_whatsapp_campaigns._http.transport import open_session_count
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InsufficientBalance,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.vendors.sprl.tables import SPRL_ERRORS
from airflow_provider_whatsapp_campaigns.vendors.waplify.hook import WaplifyHook

SECRET = "sk_test_SECRET_value_42"
BASE = "https://vendor.test"

ERRORS = ErrorMap(
    vendor="acme",
    codes={"Q1": ErrorRule(QuotaExceeded, "wait for the quota reset")},
)


def make_core(max_retries: int = 3, rate_limit: float | None = None, base: str = BASE, **extra) -> RequestCore:
    config = ConnectionConfig(
        conn_id=f"core_test_{time.monotonic_ns()}",
        conn_type="acme",
        base_url=base,
        password=SECRET,
        max_retries=max_retries,
        rate_limit=rate_limit,
        **extra,
    )
    core = RequestCore(config, StaticHeaderAuth("Authorization", SECRET, "Bearer {}"), ERRORS)
    core.sleeps = []  # type: ignore[attr-defined]
    core.sleep = core.sleeps.append  # type: ignore[attr-defined]
    core.backoff = lambda state: 0.5
    return core


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_until_success(requests_mock, status):
    requests_mock.get(f"{BASE}/x", [{"status_code": status, "json": {}}] * 2 + [{"json": {"ok": True}}])
    core = make_core()
    assert core.request(Call("GET", "/x")).body == {"ok": True}
    assert requests_mock.call_count == 3
    assert core.sleeps == [0.5, 0.5]


def test_retries_stop_after_max_retries_and_raise_the_typed_error(requests_mock):
    requests_mock.get(f"{BASE}/x", status_code=503, json={"message": "down"})
    core = make_core(max_retries=2)
    with pytest.raises(VendorUnavailable) as info:
        core.request(Call("GET", "/x"))
    assert requests_mock.call_count == 3
    assert info.value.http_status == 503
    assert info.value.vendor == "acme"


def test_connection_reset_is_retried(requests_mock):
    requests_mock.get(f"{BASE}/x", [{"exc": requests.exceptions.ConnectionError("reset by peer")}, {"json": {"ok": 1}}])
    core = make_core()
    assert core.request(Call("GET", "/x")).body == {"ok": 1}
    assert requests_mock.call_count == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (422, ValidationError),
    ],
)
def test_client_errors_are_not_retried(requests_mock, status, error):
    requests_mock.get(f"{BASE}/x", status_code=status, json={"message": "nope"})
    core = make_core()
    with pytest.raises(error):
        core.request(Call("GET", "/x"))
    assert requests_mock.call_count == 1
    assert core.sleeps == []


def test_retry_after_header_is_honoured_and_capped(requests_mock):
    requests_mock.get(
        f"{BASE}/x",
        [
            {"status_code": 429, "headers": {"Retry-After": "7"}, "json": {}},
            {"status_code": 429, "headers": {"Retry-After": "100000"}, "json": {}},
            {"json": {}},
        ],
    )
    core = make_core()
    core.request(Call("GET", "/x"))
    assert core.sleeps == [7.0, 300.0]


def test_retry_after_http_date_counts_from_now():
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=lambda: now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=lambda: now) == 0.0, "a past date: retry now"
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("soon") is None


def test_vendor_code_beats_http_status(requests_mock):
    requests_mock.get(f"{BASE}/x", status_code=429, json={"code": "Q1", "message": "quota"})
    core = make_core()
    with pytest.raises(QuotaExceeded) as info:
        core.request(Call("GET", "/x"))
    assert requests_mock.call_count == 1, "a quota is permanent: no retry"
    assert info.value.vendor_code == "Q1"
    assert "wait for the quota reset" in str(info.value)


@pytest.mark.parametrize(
    ("code", "http", "error"),
    [
        (101, 401, AuthenticationError),
        (103, 403, PermissionDenied),
        (104, 400, InsufficientBalance),
        (129, 429, QuotaExceeded),
        (102, 422, ValidationError),
    ],
)
def test_error_map_for_envelope_errors(code, http, error):
    body = {"status": False, "code": code, "message": "bad", "flag": "DAILY_LIMIT_REACHED" if code == 129 else None}
    exc = SPRL_ERRORS.exception_for(Response(http, body), lambda s: s)
    assert type(exc) is error
    assert exc.vendor_code == str(code)
    if code == 129:
        assert "daily usage quota" in exc.message


def test_2xx_error_envelope_is_an_error():
    exc = SPRL_ERRORS.exception_for(Response(200, {"status": False, "code": 101, "message": "x"}), str)
    assert isinstance(exc, AuthenticationError)
    assert SPRL_ERRORS.exception_for(Response(200, {"status": True, "data": {}}), str) is None


def test_non_idempotent_call_is_not_resent_after_an_ambiguous_failure(requests_mock):
    requests_mock.post(f"{BASE}/create", status_code=502, json={})
    core = make_core()
    with pytest.raises(VendorUnavailable) as info:
        core.request(Call("POST", "/create", json={}, idempotent=False))
    assert requests_mock.call_count == 1
    assert info.value.may_have_applied


def test_non_idempotent_call_is_resent_after_429(requests_mock):
    requests_mock.post(f"{BASE}/create", [{"status_code": 429, "json": {}}, {"json": {"id": 1}}])
    core = make_core()
    assert core.request(Call("POST", "/create", idempotent=False)).body == {"id": 1}
    assert requests_mock.call_count == 2


@pytest.mark.parametrize(("rate", "count"), [(40, 9), (100, 31)])
def test_rate_limit_holds(requests_mock, rate, count):
    requests_mock.get(f"{BASE}/x", json={})
    core = make_core(rate_limit=rate)
    started = time.monotonic()
    for _ in range(count):
        core.request(Call("GET", "/x"))
    # N requests at R/s need at least (N-1)/R seconds.
    assert time.monotonic() - started >= (count - 1) / rate
    assert requests_mock.call_count == count


@pytest.mark.parametrize(
    ("base", "allow", "ok"),
    [
        ("http://example.com", False, False),
        ("http://10.0.0.5:8080", False, False),
        ("http://example.com", True, True),
        ("http://127.0.0.1:8080", False, True),
        ("http://localhost:1", False, True),
        ("http://[::1]:1", False, True),
        ("https://example.com", False, True),
        ("ftp://example.com", False, False),
    ],
)
def test_plain_http_only_for_loopback_or_explicit_opt_in(base, allow, ok):
    config = ConnectionConfig(conn_id="c", conn_type="acme", base_url=base, allow_insecure=allow)
    if ok:
        config.check_transport_security()
    else:
        with pytest.raises(ValidationError, match="c"):
            config.check_transport_security()


def test_hook_refuses_plain_http_before_any_request(airflow_conn, requests_mock):
    airflow_conn("insecure", "waplify", host="http://waplify.example.com", password=SECRET)
    with pytest.raises(ValidationError, match="allow_insecure"):
        WaplifyHook("insecure").get_campaign_stats("1")
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("path", ["/x y", "/x\\@evil.test/", "/x\ty", "/x\x7f"])
def test_every_request_path_is_judged_after_the_base_url_passed(requests_mock, path):
    """The base URL is judged once per core; each path is still judged for what makes clients disagree."""
    requests_mock.get(f"{BASE}/x", json={"ok": 1})
    core = make_core()
    assert core.request(Call("GET", "/x")).body == {"ok": 1}
    with pytest.raises(ValidationError, match="backslash, whitespace or a control character"):
        core.request(Call("GET", path))
    assert requests_mock.call_count == 1


def test_a_refused_base_url_refuses_every_request(requests_mock):
    core = make_core(base="http://vendor.test")  # plain http to a remote host, no allow_insecure
    for _ in range(2):
        with pytest.raises(ValidationError, match="allow_insecure"):
            core.request(Call("GET", "/x"))
    assert requests_mock.call_count == 0


def test_secret_never_in_logs_or_errors(requests_mock, caplog):
    requests_mock.get(f"{BASE}/x", status_code=401, json={"message": f"key {SECRET} invalid for +14155552671"})
    core = make_core()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as info:
        core.request(Call("GET", "/x"))
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET}"
    text = str(info.value) + repr(info.value) + caplog.text
    assert SECRET not in text
    assert "+14155552671" not in text
    assert "+14*******71" in str(info.value)


def test_bad_extras_are_named(airflow_conn):
    airflow_conn("bad_extra", "waplify", password=SECRET, extra={"timeout": "soon"})
    with pytest.raises(ValidationError, match="'timeout'"):
        _ = WaplifyHook("bad_extra").config


def test_prefixed_legacy_extras_are_read(airflow_conn):
    airflow_conn("legacy", "waplify", password=SECRET, extra={"extra__waplify__waba_phone_id": "w1", "max_retries": ""})
    config = WaplifyHook("legacy").config
    assert config.get_extra("waba_phone_id") == "w1"
    assert config.max_retries == 5  # empty string = unset
    assert config.base_url == "https://server.waplify.io"
    assert config.rate_limit == 10.0


# --------------------------------------------------------------------------- async


@pytest.fixture
async def flaky_server(aiohttp_server):
    hits: list[str] = []
    script: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization", ""))
        status = script.pop(0) if script else 200
        headers = {"Retry-After": "3"} if status == 429 else {}
        return web.json_response({"n": len(hits)}, status=status, headers=headers)

    app = web.Application()
    app.router.add_get("/x", handler)
    server = await aiohttp_server(app)
    return server, hits, script


async def test_async_retries_and_retry_after(flaky_server):
    server, hits, script = flaky_server
    script.extend([503, 429])
    core = make_core(base=str(server.make_url("")).rstrip("/"))
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    core.asleep = fake_sleep
    response = await core.arequest(Call("GET", "/x"))
    assert response.body == {"n": 3}
    assert slept == [0.5, 3.0]
    assert hits == [f"Bearer {SECRET}"] * 3


async def test_async_client_error_not_retried(flaky_server):
    server, hits, script = flaky_server
    script.append(404)
    core = make_core(base=str(server.make_url("")).rstrip("/"))
    with pytest.raises(NotFound):
        await core.arequest(Call("GET", "/x"))
    assert len(hits) == 1


async def test_async_rate_limit_shared_and_spaced(flaky_server):
    server, hits, _ = flaky_server
    core = make_core(base=str(server.make_url("")).rstrip("/"), rate_limit=50)
    started = time.monotonic()
    await asyncio.gather(*(core.arequest(Call("GET", "/x")) for _ in range(6)))
    assert time.monotonic() - started >= 5 / 50
    assert len(hits) == 6


async def test_one_shared_session_per_connection(airflow_conn, flaky_server, monkeypatch):
    server, hits, _ = flaky_server
    base = str(server.make_url("")).rstrip("/")
    airflow_conn("shared", "waplify", host=base, password=SECRET, extra={"rate_limit": 1000})
    hooks = [WaplifyHook("shared") for _ in range(5)]
    async with hooks[0].async_session():
        assert open_session_count() == 1
        [lease] = [v for (kind, _), v in STATE._scope(per_loop=True).items() if kind == "session"]
        for hook in hooks:
            core = await hook.acore()
            await core.arequest(Call("GET", "/x"))
            assert open_session_count() == 1
        assert not lease.session.closed, "a request must not close the session a wait holds"
    assert open_session_count() == 0
    assert lease.session.closed, "the last user leaving closes the session"
    assert len(hits) == 5


# --------------------------------------------------------------------------- Redis-backed limiter


def test_redis_limiter_is_shared_by_separate_limiter_instances(requests_mock, shared_redis, monkeypatch):
    from airflow_provider_whatsapp_campaigns._http import limits as _http

    requests_mock.get(f"{BASE}/x", json={})
    config = ConnectionConfig(
        conn_id="redis_shared",
        conn_type="acme",
        base_url=BASE,
        password=SECRET,
        rate_limit=20,
        redis_url="redis://localhost:6379/0",
    )
    first = _http.sync_limiter(config)
    clear_process_state()  # a second worker process: its own limiter object
    second = _http.sync_limiter(config)
    assert first is not second
    started = time.monotonic()
    for limiter in [first, second] * 4:
        limiter.acquire(config.conn_id)
    assert time.monotonic() - started >= 7 / 20, "both workers share one budget through Redis"


class _ClockBehind:
    """A worker whose clock runs behind (or whose loop woke late): its requests look older than they are."""

    def __init__(self, behind_ms: int) -> None:
        self.behind_ms = behind_ms

    def now(self) -> int:
        return int(time.time() * 1000) - self.behind_ms


def test_redis_budget_judges_every_worker_on_the_redis_clock(requests_mock, shared_redis):
    """A worker stamping its requests a second in the past must not get a second budget of its own."""
    from airflow_provider_whatsapp_campaigns._http import limits

    config = ConnectionConfig(
        conn_id="redis_skew", conn_type="acme", base_url=BASE, password=SECRET, rate_limit=20,
        redis_url="redis://localhost:6379/0",
    )
    punctual = limits.sync_limiter(config)
    clear_process_state()  # a second worker process
    late = limits.sync_limiter(config)
    late.acquire(config.conn_id)
    assert late.shared is not None
    late.shared.bucket_factory.clock = _ClockBehind(1000)
    started = time.monotonic()
    for budget in [punctual, late] * 5:
        budget.acquire(config.conn_id)
    assert time.monotonic() - started >= 9 / 20, "the late worker took slots the window had already given"
    import fakeredis

    key = "whatsapp-campaigns:redis_skew"
    inspect_redis = fakeredis.FakeRedis(server=shared_redis)
    assert inspect_redis.zcard(key) <= 2, "the shared bucket keeps history beyond one window"
    assert 0 < inspect_redis.pttl(key) <= 100, "an idle bucket must expire from Redis"


def test_local_budget_stamps_a_request_when_granted_and_trims_itself(monkeypatch):
    """A request that waited is judged at the time it leaves; the bucket holds one window, not history."""
    from pyrate_limiter import RateItem

    from airflow_provider_whatsapp_campaigns._http import limits

    now = [1_000_000]
    monkeypatch.setattr(limits, "_now_ms", lambda: now[0])
    bucket = limits._local_bucket()(limits._rates(20))  # one request per 50 ms
    stale = RateItem("conn", 0)
    assert bucket.put(stale) and stale.timestamp == now[0]
    assert not bucket.put(RateItem("conn", now[0] - 500)), "a stale stamp found room in a window already spent"
    for _ in range(1000):
        now[0] += 51  # just past the 50 ms a slot lasts
        assert bucket.put(RateItem("conn", 0))
    assert len(bucket.items) <= 2


async def test_redis_limiter_async(shared_redis):
    from airflow_provider_whatsapp_campaigns._http import limits as _http

    config = ConnectionConfig(
        conn_id="redis_async",
        conn_type="acme",
        base_url=BASE,
        password=SECRET,
        rate_limit=20,
        redis_url="redis://localhost:6379/0",
    )
    limiter = await _http.async_limiter(config)
    started = time.monotonic()
    for _ in range(6):
        await limiter.acquire_async(config.conn_id)
    assert time.monotonic() - started >= 5 / 20


def _outage_config(conn_id: str) -> ConnectionConfig:
    return ConnectionConfig(
        conn_id=conn_id, conn_type="acme", base_url=BASE, password=SECRET, rate_limit=1000,
        redis_url="redis://localhost:6379/0",
    )


def test_redis_outage_falls_back_to_a_local_budget_with_one_warning_and_returns(shared_redis, monkeypatch, caplog):
    """Redis away: requests go on under this process's own budget (one warning); back: shared again."""
    import fakeredis

    from airflow_provider_whatsapp_campaigns._http import limits

    now = [1000.0]
    monkeypatch.setattr(limits, "_monotonic", lambda: now[0])
    config = _outage_config("redis_outage")
    budget = limits.sync_limiter(config)
    inspect_redis = fakeredis.FakeRedis(server=shared_redis)
    key = "whatsapp-campaigns:redis_outage"
    budget.acquire(config.conn_id)
    assert inspect_redis.zcard(key) == 1

    shared_redis.connected = False
    with caplog.at_level(logging.INFO, logger=limits.__name__):
        for attempt in range(3):
            now[0] += limits.REDIS_RETRY_SECONDS if attempt else 0  # each retry of Redis fails again, silently
            budget.acquire(config.conn_id)  # no error: the local budget serves
        shared_redis.connected = True
        now[0] += 0.1
        budget.acquire(config.conn_id)  # Redis is back, but not tried again before the retry time
        assert inspect_redis.zcard(key) == 1 and budget.degraded
        now[0] += limits.REDIS_RETRY_SECONDS
        budget.acquire(config.conn_id)
        budget.acquire(config.conn_id)
    assert inspect_redis.zcard(key) == 3
    messages = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == limits.__name__]
    assert [level for level, _ in messages] == ["WARNING", "INFO"], messages
    assert "unreachable" in messages[0][1] and "redis_outage" in messages[0][1]
    assert "localhost" not in messages[0][1]  # the URL (it may hold a password) is never logged


async def test_redis_outage_async_and_a_restarted_redis_gets_the_script_again(shared_redis, monkeypatch, caplog):
    import fakeredis

    from airflow_provider_whatsapp_campaigns._http import limits

    now = [1000.0]
    monkeypatch.setattr(limits, "_monotonic", lambda: now[0])
    config = _outage_config("redis_outage_async")
    inspect_redis = fakeredis.FakeRedis(server=shared_redis)
    key = "whatsapp-campaigns:redis_outage_async"
    budget = await limits.async_limiter(config)
    await budget.acquire_async(config.conn_id)
    shared_redis.connected = False
    with caplog.at_level(logging.WARNING, logger=limits.__name__):
        for _ in range(3):
            await budget.acquire_async(config.conn_id)
    assert len([r for r in caplog.records if r.name == limits.__name__]) == 1
    shared_redis.connected = True
    now[0] += limits.REDIS_RETRY_SECONDS
    await budget.acquire_async(config.conn_id)
    assert inspect_redis.zcard(key) == 2 and not budget.degraded
    inspect_redis.script_flush()  # what a restarted Redis looks like: the bucket's Lua script is gone
    await budget.acquire_async(config.conn_id)  # served locally, no error
    now[0] += limits.REDIS_RETRY_SECONDS
    await budget.acquire_async(config.conn_id)
    assert inspect_redis.zcard(key) == 3 and not budget.degraded
