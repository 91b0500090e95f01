"""The one request core every hook uses: auth, retries, rate limits, error mapping, masking.

Vendor logic is written once as *flows*: generators that yield :class:`Call` objects and receive
:class:`Response` objects (or have a typed error thrown into them). A sync driver runs a flow
over ``requests``, an async driver over ``aiohttp``; neither knows anything about a vendor.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http.cookiejar
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import requests
from pyrate_limiter import BucketAsyncWrapper, InMemoryBucket, Limiter, Rate
from requests.adapters import HTTPAdapter
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from airflow_provider_whatsapp_campaigns import __version__
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InvalidState,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
    WhatsAppCampaignError,
)
from airflow_provider_whatsapp_campaigns.phones import mask_phones_in_text
from airflow_provider_whatsapp_campaigns.version_compat import mask_secret

log = logging.getLogger("airflow.providers.whatsapp_campaigns.http")

T = TypeVar("T")
USER_AGENT = f"airflow-provider-whatsapp-campaigns/{__version__}"
MAX_RETRY_AFTER = 300.0
MAX_MESSAGE = 300


# --------------------------------------------------------------------------- wire objects


@dataclass(frozen=True)
class Call:
    """One HTTP request as a vendor flow describes it (no auth, no URL base, no I/O)."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    authenticated: bool = True
    # False for requests that change state: after an ambiguous failure (5xx, reset after sending)
    # they are not resent blindly; the flow decides (e.g. by looking the campaign up).
    idempotent: bool = True
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Emit:
    """Yielded by a streaming flow to hand one item to the consumer."""

    item: Any


Flow = Generator[Any, Any, T]


def _step(flow: Flow[Any], value: Any, error: BaseException | None) -> Any:
    return flow.throw(error) if error is not None else flow.send(value)


def drive_iter(flow: Flow[T], send: Callable[[Call], Any]) -> Generator[Any, None, T]:
    """Run a flow synchronously; yields what it emits and returns what it returns."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = _step(flow, value, error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        if isinstance(step, Emit):
            yield step.item
            continue
        try:
            value = send(step)
        except WhatsAppCampaignError as exc:
            error = exc


def drive(flow: Flow[T], send: Callable[[Call], Any]) -> T:
    runner = drive_iter(flow, send)
    while True:
        try:
            item = next(runner)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        raise UnexpectedResponse(f"flow emitted {type(item).__name__} where a single result was expected")


async def adrive_iter(flow: Flow[Any], send: Callable[[Call], Any]) -> AsyncIterator[Any]:
    """Async twin of :func:`drive_iter` (async generators cannot return: use :func:`adrive` for results)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = _step(flow, value, error)
        except StopIteration as stop:
            if stop.value is not None:
                yield _Result(stop.value)
            return
        value, error = None, None
        if isinstance(step, Emit):
            yield step.item
            continue
        try:
            value = await send(step)
        except WhatsAppCampaignError as exc:
            error = exc


@dataclass(frozen=True)
class _Result:
    value: Any


async def adrive(flow: Flow[T], send: Callable[[Call], Any]) -> T:
    async for item in adrive_iter(flow, send):
        if isinstance(item, _Result):
            return item.value  # type: ignore[no-any-return]
        raise UnexpectedResponse(f"flow emitted {type(item).__name__} where a single result was expected")
    return None  # type: ignore[return-value]


# --------------------------------------------------------------------------- error map


@dataclass(frozen=True)
class ErrorRule:
    error: type[WhatsAppCampaignError]
    hint: str = ""


STATUS_ERRORS: dict[int, type[WhatsAppCampaignError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: InvalidState,
    422: ValidationError,
    429: RateLimited,
}


def _default_extract(body: Any) -> tuple[Any, Any]:
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            return err.get("code"), err.get("message")
        return body.get("code") or body.get("errorCode"), body.get("message") or err or body.get("detail")
    return None, body if isinstance(body, str) else None


@dataclass(frozen=True)
class ErrorMap:
    """One vendor's error table: vendor code → typed error, with HTTP status as the fallback."""

    vendor: str
    codes: Mapping[str, ErrorRule] = field(default_factory=dict)
    statuses: Mapping[int, ErrorRule] = field(default_factory=dict)
    # body -> (vendor code, vendor message)
    extract: Callable[[Any], tuple[Any, Any]] = _default_extract
    # (http status, body) -> True when a 2xx answer is really an error (envelopes with status: false)
    body_is_error: Callable[[int, Any], bool] = lambda status, body: False

    def exception_for(self, response: Response, scrub: Callable[[str], str]) -> WhatsAppCampaignError | None:
        if response.status < 400 and not self.body_is_error(response.status, response.body):
            return None
        code, message = self.extract(response.body)
        code = None if code is None or code == "" else str(code)
        rule = (self.codes.get(code) if code is not None else None) or self.statuses.get(response.status)
        if rule is not None:
            error_cls, hint = rule.error, rule.hint
        elif response.status >= 500:
            error_cls, hint = VendorUnavailable, "The vendor's server failed; retried with backoff"
        else:
            error_cls, hint = STATUS_ERRORS.get(response.status, UnexpectedResponse), ""
        text = _describe(message) or f"HTTP {response.status}"
        text = scrub(text)
        if len(text) > MAX_MESSAGE:
            text = text[:MAX_MESSAGE] + "…"
        return error_cls(
            f"{text}. {hint}".strip() if hint else text,
            vendor=self.vendor,
            http_status=response.status,
            vendor_code=code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def _describe(message: Any) -> str:
    if message is None:
        return ""
    if isinstance(message, str):
        return message.strip().rstrip(".")
    if isinstance(message, Mapping):  # field -> [messages]
        parts = []
        for key, value in message.items():
            values = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {'; '.join(str(v) for v in values)}")
        return ", ".join(parts)
    return json.dumps(message, default=str)[:MAX_MESSAGE]


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --------------------------------------------------------------------------- auth strategies


class Auth:
    """How one auth scheme turns credentials into headers; may itself make calls (token, login)."""

    def secrets(self) -> list[str]:
        return []

    def prepare(self, core: RequestCore) -> None:
        """Before an authenticated request: a place to mint credentials once under a lock."""

    async def aprepare(self, core: RequestCore) -> None:
        """Async twin of :meth:`prepare` (an asyncio lock per event loop, never a thread lock)."""

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        return {}
        yield  # pragma: no cover - makes this a generator

    def recover(self, core: RequestCore, error: AuthenticationError) -> Flow[bool]:
        """After a 401: refresh credentials; True means "resend once"."""
        return False
        yield  # pragma: no cover


_MINT_GUARD = threading.Lock()
_MINT_LOCKS: dict[Hashable, threading.Lock] = {}
_ASYNC_MINT_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


class MintedAuth(Auth):
    """Credentials obtained by a call (OAuth token, JWT login) and shared per process under ``key``.

    :meth:`prepare`/:meth:`aprepare` obtain them once under a lock keyed by ``key`` (a thread lock
    for sync callers, an asyncio lock per event loop for async ones): many concurrent callers of
    one account cause one mint, not one each.
    """

    key: Hashable

    def ready(self) -> bool:
        """True when usable credentials are cached."""
        raise NotImplementedError

    def obtain(self, core: RequestCore) -> Flow[Any]:
        """The flow that mints or logs in and caches the result."""
        raise NotImplementedError

    def prepare(self, core: RequestCore) -> None:
        if self.ready():
            return
        with _MINT_GUARD:
            lock = _MINT_LOCKS.setdefault(self.key, threading.Lock())
        with lock:
            if not self.ready():
                drive(self.obtain(core), core.request)

    async def aprepare(self, core: RequestCore) -> None:
        if self.ready():
            return
        per_loop = _ASYNC_MINT_LOCKS.setdefault(asyncio.get_running_loop(), {})
        lock = per_loop.setdefault(self.key, asyncio.Lock())
        async with lock:
            if not self.ready():
                await adrive(self.obtain(core), core.arequest)


class StaticHeaderAuth(Auth):
    """A fixed key in a header (``Authorization: Bearer …``, ``x-ins-auth-key``, ``X-API-Key``)."""

    def __init__(self, header: str, secret: str, template: str = "{}") -> None:
        self.header, self.secret, self.template = header, secret, template

    def secrets(self) -> list[str]:
        return [self.secret]

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        return {self.header: self.template.format(self.secret)}
        yield  # pragma: no cover


# --------------------------------------------------------------------------- rate limiting

_sync_limiters: dict[tuple[str, str, float], Limiter] = {}
_async_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, float], Limiter]] = (
    weakref.WeakKeyDictionary()
)
_limiter_lock = threading.Lock()


def _rates(rps: float) -> list[Rate]:
    """Evenly spaced requests for low limits; above 50/s, at most rps/10 in any 100 ms window.

    Either way no one-second window ever holds more than ``rps`` requests (sliding windows).
    """
    if rps <= 50:
        return [Rate(1, max(1, math.ceil(1000 / rps)))]
    return [Rate(max(1, math.floor(rps / 10)), 100)]


def _limiter_key(config: ConnectionConfig, rps: float) -> tuple[str, str, float]:
    return (config.conn_id, config.base_url, rps)


def sync_limiter(config: ConnectionConfig) -> Limiter | None:
    """One limiter per connection per process (Redis-backed when ``redis_url`` is set)."""
    if not config.rate_limit:
        return None
    key = _limiter_key(config, config.rate_limit)
    with _limiter_lock:
        if key not in _sync_limiters:
            if config.redis_url:
                import redis
                from pyrate_limiter import RedisBucket

                bucket: Any = RedisBucket.init(
                    _rates(config.rate_limit), redis.Redis.from_url(config.redis_url), _bucket_name(config)
                )
            else:
                bucket = InMemoryBucket(_rates(config.rate_limit))
            _sync_limiters[key] = Limiter(bucket, max_delay=3_600_000, retry_until_max_delay=True, buffer_ms=1)
        return _sync_limiters[key]


async def async_limiter(config: ConnectionConfig) -> Limiter | None:
    """Shared by every trigger of the same connection in one triggerer event loop."""
    if not config.rate_limit:
        return None
    per_loop = _async_limiters.setdefault(asyncio.get_running_loop(), {})
    key = _limiter_key(config, config.rate_limit)
    if key not in per_loop:
        if config.redis_url:
            from pyrate_limiter import RedisBucket
            from redis import asyncio as aioredis

            bucket: Any = await RedisBucket.init(
                _rates(config.rate_limit), aioredis.Redis.from_url(config.redis_url), _bucket_name(config)
            )
        else:
            bucket = BucketAsyncWrapper(InMemoryBucket(_rates(config.rate_limit)))
        per_loop[key] = Limiter(bucket, max_delay=3_600_000, retry_until_max_delay=True, buffer_ms=1)
    return per_loop[key]


def _bucket_name(config: ConnectionConfig) -> str:
    return f"whatsapp-campaigns:{config.conn_id}"


# --------------------------------------------------------------------------- shared aiohttp sessions


@dataclass
class _Lease:
    session: aiohttp.ClientSession
    users: int = 0


_async_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Lease]] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def shared_session(key: str) -> AsyncIterator[aiohttp.ClientSession]:
    """One ``aiohttp`` session per event loop and connection, closed when its last user leaves."""
    per_loop = _async_sessions.setdefault(asyncio.get_running_loop(), {})
    lease = per_loop.get(key)
    if lease is None or lease.session.closed:
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
            connector=aiohttp.TCPConnector(limit=100),
        )
        lease = per_loop[key] = _Lease(session)
    lease.users += 1
    try:
        yield lease.session
    finally:
        lease.users -= 1
        if lease.users == 0:
            per_loop.pop(key, None)
            await lease.session.close()


def open_session_count() -> int:
    """How many shared sessions the running loop holds (for tests and benchmarks)."""
    return len(_async_sessions.get(asyncio.get_running_loop(), {}))


# --------------------------------------------------------------------------- the core


class RequestCore:
    """Sends calls for one connection: the only place that touches the network."""

    def __init__(self, config: ConnectionConfig, auth: Auth, errors: ErrorMap) -> None:
        self.config = config
        self.auth = auth
        self.errors = errors
        self.vendor = errors.vendor
        self._secrets = [s for s in [config.password, *auth.secrets()] if s]
        for secret in self._secrets:
            mask_secret(secret)
        self._session: requests.Session | None = None
        # Swappable for tests (tenacity's wait/sleep); production uses the defaults.
        self.backoff: Callable[[RetryCallState], float] = wait_exponential_jitter(initial=1, max=60, jitter=1)
        self.sleep: Callable[[float], None] = time.sleep
        self.asleep: Callable[[float], Any] = asyncio.sleep

    # ---- masking
    def add_secret(self, secret: str | None) -> None:
        """Register a minted token so it never reaches a log line or an error message."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            mask_secret(secret)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return mask_phones_in_text(text)

    # ---- public entry points
    def request(self, call: Call) -> Response:
        if call.authenticated:
            self.auth.prepare(self)
        return drive(self._pipeline(call), self._send)

    async def arequest(self, call: Call) -> Response:
        if call.authenticated:
            await self.auth.aprepare(self)
        return await adrive(self._pipeline(call), self._asend)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # ---- the vendor-neutral pipeline: auth headers, one re-auth on 401
    def _pipeline(self, call: Call) -> Flow[Response]:
        if not call.authenticated:
            return (yield call)
        headers = yield from self.auth.headers(self)
        try:
            return (yield _with_headers(call, headers))
        except AuthenticationError as exc:
            if not (yield from self.auth.recover(self, exc)):
                raise
        headers = yield from self.auth.headers(self)
        return (yield _with_headers(call, headers))

    def url(self, call: Call) -> str:
        if call.path.startswith(("http://", "https://")):
            return call.path
        return f"{self.config.base_url}/{call.path.lstrip('/')}"

    # ---- retry policy (one, shared by sync and async)
    def _should_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, (RateLimited, VendorUnavailable)) and not exc.may_have_applied

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), MAX_RETRY_AFTER)
        return float(self.backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.1f s",
            self.vendor,
            state.attempt_number,
            exc,
            state.next_action.sleep if state.next_action else 0,
        )

    def _retry_args(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(self.config.max_retries + 1),
            "wait": self._wait,
            "retry": retry_if_exception(self._should_retry),
            "reraise": True,
            "before_sleep": self._log_retry,
        }

    # ---- sync transport
    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
        return self._session

    def _send(self, call: Call) -> Response:
        limiter = sync_limiter(self.config)
        for attempt in Retrying(sleep=self.sleep, **self._retry_args()):
            with attempt:
                if limiter is not None:
                    limiter.try_acquire(self.config.conn_id)
                return self._send_once(call)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, call: Call) -> Response:
        started = time.monotonic()
        try:
            raw = self.session.request(
                call.method,
                self.url(call),
                json=call.json,
                data=call.data,
                params=call.params,
                headers=dict(call.headers or {}),
                timeout=self.config.timeout,
                verify=self.config.verify,
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise self._transport_error(call, exc, sent=False) from None
        except requests.exceptions.ConnectionError as exc:
            # urllib3 reports a refused connection as NewConnectionError: nothing reached the server.
            sent = "NewConnectionError" not in repr(exc) and "Connection refused" not in str(exc)
            raise self._transport_error(call, exc, sent=sent) from None
        except requests.exceptions.Timeout as exc:
            raise self._transport_error(call, exc, sent=True) from None
        response = Response(
            raw.status_code,
            _decode(raw.content, raw.headers.get("content-type")),
            _lower(raw.headers),
            dict(raw.cookies),
        )
        return self._finish(call, response, started)

    # ---- async transport
    async def _asend(self, call: Call) -> Response:
        limiter = await async_limiter(self.config)
        async for attempt in AsyncRetrying(sleep=self.asleep, **self._retry_args()):
            with attempt:
                if limiter is not None:
                    await limiter.try_acquire_async(self.config.conn_id)
                return await self._asend_once(call)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _asend_once(self, call: Call) -> Response:
        started = time.monotonic()
        async with shared_session(self.config.conn_id) as session:
            try:
                async with session.request(
                    call.method,
                    self.url(call),
                    json=call.json,
                    data=call.data,
                    params=_params(call.params),
                    headers=dict(call.headers or {}),
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                    ssl=bool(self.config.verify),
                ) as raw:
                    content = await raw.read()
                    cookies = {name: morsel.value for name, morsel in raw.cookies.items()}
                    response = Response(
                        raw.status, _decode(content, raw.headers.get("content-type")), _lower(raw.headers), cookies
                    )
            except aiohttp.ClientConnectorError as exc:
                raise self._transport_error(call, exc, sent=False) from None
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise self._transport_error(call, exc, sent=True) from None
        return self._finish(call, response, started)

    # ---- shared by both transports
    def _finish(self, call: Call, response: Response, started: float) -> Response:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s -> %d in %.0f ms",
                self.vendor,
                call.method,
                self.scrub(call.path),
                response.status,
                (time.monotonic() - started) * 1000,
            )
        error = self.errors.exception_for(response, self.scrub)
        if error is None:
            return response
        if isinstance(error, VendorUnavailable) and not call.idempotent:
            error.may_have_applied = True
        raise error

    def _transport_error(self, call: Call, exc: BaseException, *, sent: bool) -> VendorUnavailable:
        reason = type(exc).__name__
        return VendorUnavailable(
            f"could not reach {self.config.host} ({reason}); check the host and the network",
            vendor=self.vendor,
            may_have_applied=sent and not call.idempotent,
        )


def _with_headers(call: Call, headers: Mapping[str, str]) -> Call:
    if not headers:
        return call
    return Call(**{**call.__dict__, "headers": {**(call.headers or {}), **headers}})


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    # aiohttp (unlike requests) rejects non-str values and drops nothing: normalise like requests.
    if params is None:
        return None
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items() if v is not None}


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _decode(content: bytes, content_type: str | None) -> Any:
    if not content:
        return None
    text = content.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def iter_chunks(items: Iterator[T] | list[T], size: int) -> Iterator[list[T]]:
    """Fixed-size batches; never yields an empty batch."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
