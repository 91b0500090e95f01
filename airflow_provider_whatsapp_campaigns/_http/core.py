"""RequestCore: sends calls for one connection with auth, retries, limits and error mapping."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import enum
import http.client
import http.cookiejar
import io
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns._http.auth import Auth
from airflow_provider_whatsapp_campaigns._http.errors import MAX_RETRY_AFTER, ErrorMap
from airflow_provider_whatsapp_campaigns._http.failures import Failures
from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow, Response, adrive, drive
from airflow_provider_whatsapp_campaigns._http.limits import async_limiter, sync_limiter
from airflow_provider_whatsapp_campaigns._http.scrub import Scrubber
from airflow_provider_whatsapp_campaigns._http.transport import (
    USER_AGENT,
    BodyStream,
    UnreadableAnswer,
    aiohttp_params,
    aread_capped,
    ca_bundle,
    decode_body,
    header_problem,
    jar_dict,
    lower_headers,
    no_redirect_target,
    read_capped,
    shared_session,
    ssl_context,
)
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig, plain_url_text, require_secure_url
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    RateLimited,
    ValidationError,
    VendorUnavailable,
    WhatsAppCampaignError,
)
from airflow_provider_whatsapp_campaigns.phones import mask_phones_in_text
from airflow_provider_whatsapp_campaigns.version_compat import mask_secret

if TYPE_CHECKING:  # requests and aiohttp are imported by the first request of their kind, not by DAG files
    import requests

log = logging.getLogger("airflow.providers.whatsapp_campaigns.http")
_RESULT_ENCODER = msgspec.json.Encoder()

class RequestCore:
    """Sends calls for one connection: the only place that touches the network."""

    def __init__(self, config: ConnectionConfig, auth: Auth, errors: ErrorMap) -> None:
        self.config = config
        self.auth = auth
        self.errors = errors
        self.vendor = errors.vendor
        self.fail = Failures(self.vendor, config.host)
        self._scrubber = Scrubber()
        # Scrubbed here at once; Airflow's masker learns them in mask_known_secrets (sync contexts only).
        self._connection_secrets = [s for s in (config.password, *auth.secrets()) if s]
        for secret in self._connection_secrets:
            self._scrubber.add(secret)
        self._session: requests.Session | None = None
        self._base_checked = False  # the base URL passed the transport rule (see _checked_url)
        # Swappable for tests (tenacity's wait/sleep); production uses the defaults.
        self.backoff: Callable[[RetryCallState], float] = wait_exponential_jitter(initial=1, max=60, jitter=1)
        self.sleep: Callable[[float], None] = time.sleep
        self.asleep: Callable[[float], Any] = asyncio.sleep

    # ---- masking
    def mask_known_secrets(self) -> None:
        """Register the connection's secrets with Airflow's log masker (sync contexts only: it may
        call the supervisor synchronously; the async connection API already masked them)."""
        for secret in self._connection_secrets:
            mask_secret(secret)

    def add_secret(self, secret: str | None) -> None:
        """Register a credential or minted token: none of its forms may reach an error, XCom or our logs.

        Airflow's secret masker learns the literal (each mask recompiles its pattern and, in a task,
        is a message to the supervisor: the encoded forms are this core's job).
        """
        if self._scrubber.add(secret):
            mask_secret(secret)

    def scrub(self, text: str) -> str:
        """Text for a message or a log line: every form of every secret and every phone number masked."""
        return mask_phones_in_text(self._scrubber(text))

    def scrub_result(self, value: Any) -> Any:
        """A verb's result (or an export page) with every form of every secret removed from its strings.

        Phone numbers stay (contact exports need them); vendor text such as a campaign name or a
        status word that echoes a credential does not reach XCom. One search over the result
        encoded in C decides (every poll of every wait and every export page passes here): only a
        result that holds a secret form, an escape that could hide one, or a value the encoder
        cannot write is walked — walking a million-row export would cost seconds for nothing.
        """
        try:
            data = _RESULT_ENCODER.encode(value)
        except (TypeError, ValueError, OverflowError):
            return self._scrubbed(value)
        return self._scrubbed(value) if self._may_hold_secret(data) else value

    def scrub_page(self, rows: list[Any]) -> tuple[list[Any], bytes]:
        """An export page (msgspec structs) and its JSON lines, both free of secrets: the check reads
        the lines a JSON-lines export writes, so a page is encoded once, not once to check and once
        to write (a clean page is returned as is, an echoing one is scrubbed and encoded again)."""
        data = _RESULT_ENCODER.encode_lines(rows)
        if self._may_hold_secret(data):
            rows = self._scrubbed(rows)
            data = _RESULT_ENCODER.encode_lines(rows)
        return rows, data

    def _may_hold_secret(self, data: bytes) -> bool:
        """A secret form in the encoded value, or an escape that could hide one."""
        return b"\\" in data or self._scrubber.found(data)

    def _scrubbed(self, value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value
        if isinstance(value, msgspec.Struct):
            fields = {name: self._scrubbed(getattr(value, name)) for name in value.__struct_fields__}
            return msgspec.structs.replace(value, **fields)
        if isinstance(value, str):
            return self._scrubber(value)
        if isinstance(value, Mapping):
            return {self._scrubbed(k): self._scrubbed(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            items = [self._scrubbed(v) for v in value]
            return items if isinstance(value, list) else tuple(items)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: self._scrubbed(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            return dataclasses.replace(value, **changes)
        return value

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
        metrics.incr(f"retries.{self.vendor}", vendor=self.vendor)
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.1f s",
            self.vendor,
            state.attempt_number,
            exc,
            state.next_action.sleep if state.next_action else 0,
        )

    def _say_retries(self, exc: WhatsAppCampaignError, attempts: int) -> None:
        """A transient error's message says what the retry policy really did with it."""
        if not exc.transient:
            return
        if attempts > 1:
            note = f"gave up after {attempts} attempts with backoff"
        elif exc.may_have_applied:
            note = "not retried: the request may have taken effect, and it is never resent blindly"
        else:
            note = f"not retried (max_retries={self.config.max_retries})"
        exc.add_context(note)

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
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            session.get_redirect_target = no_redirect_target  # type: ignore[method-assign]
            session.headers["User-Agent"] = USER_AGENT
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            # requests re-reads the environment (proxies, CA bundle) on every request, ~1 ms each: a
            # 1,000-page export paid a second for it. Proxies are read once here (the CA bundle is
            # passed per request, see _verify); .netrc is not consulted: every call has its credentials.
            session.trust_env = False
            session.proxies.update(requests.utils.get_environ_proxies(self.config.base_url))
            self._session = session
        return self._session

    def _send(self, call: Call) -> Response:
        limiter = sync_limiter(self.config) if call.throttled else None
        try:
            if limiter is not None:
                limiter.acquire(self.config.conn_id)
            with metrics.request(self.vendor):
                return self._send_once(call)
        except (RateLimited, VendorUnavailable) as exc:
            if not self._should_retry(exc):
                self._say_retries(exc, 1)
                raise
            failed: BaseException | None = exc
        # Only a failed first attempt builds the retry policy (most requests never need it);
        # tenacity then sees that failure as its attempt 1.
        retrying = Retrying(sleep=self.sleep, **self._retry_args())
        try:
            for attempt in retrying:
                with attempt:
                    if failed is not None:
                        error, failed = failed, None
                        raise error
                    if limiter is not None:
                        limiter.acquire(self.config.conn_id)
                    with metrics.request(self.vendor):
                        return self._send_once(call)
        except WhatsAppCampaignError as exc:
            self._say_retries(exc, retrying.statistics.get("attempt_number", 1))
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, call: Call) -> Response:
        import requests
        import urllib3

        started = time.monotonic()
        url, headers = self._checked_url(call), self._headers(call)
        body: Any = None
        try:
            raw = self.session.request(
                call.method,
                url,
                json=call.json,
                data=call.data,
                params=call.params,
                headers=headers,
                timeout=self.config.timeout,
                verify=self._verify(url),
                allow_redirects=False,
                stream=True,
            )
            status, raw_headers, cookies = raw.status_code, lower_headers(raw.headers), jar_dict(raw.cookies)
            if call.read_body is not None and 200 <= status < 300:
                # The flow reads the body as it arrives (possibly lazily, after this returns); the
                # connection goes back to the pool once the body is read to its end.
                body = call.read_body(io.BufferedReader(BodyStream(raw.raw, self.vendor, self.config.host or "")))
            else:
                with raw:
                    content = read_capped(raw.headers.get("content-length"), raw.iter_content(64 * 1024))
                body = self._decode(content, status)
        except UnreadableAnswer as exc:
            raise self.fail.unreadable(exc) from None
        except requests.exceptions.SSLError as exc:
            raise self.fail.tls(call, exc) from None
        except requests.exceptions.ConnectTimeout as exc:
            raise self.fail.unreachable(call, exc, sent=False) from None
        except requests.exceptions.ConnectionError as exc:
            # urllib3 reports a refused connection as NewConnectionError: nothing reached the server.
            sent = "NewConnectionError" not in repr(exc) and "Connection refused" not in str(exc)
            raise self.fail.unreachable(call, exc, sent=sent) from None
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidHeader,
            requests.exceptions.InvalidJSONError,
        ) as exc:
            raise self.fail.unbuildable(exc) from None
        except (requests.exceptions.RequestException, http.client.HTTPException, urllib3.exceptions.HTTPError,
                OSError) as exc:
            # The answer broke mid-way (bad chunking or content encoding, a reset, a timeout reading).
            raise self.fail.unreachable(call, exc, sent=True) from None
        except ValueError as exc:  # URL or header building the checks above did not foresee
            raise self.fail.unbuildable(exc) from None
        return self._finish(call, url, Response(status, body, raw_headers, cookies), started)

    # ---- async transport
    async def _asend(self, call: Call) -> Response:
        limiter = await async_limiter(self.config) if call.throttled else None
        try:
            if limiter is not None:
                await limiter.acquire_async(self.config.conn_id)
            with metrics.request(self.vendor):
                return await self._asend_once(call)
        except (RateLimited, VendorUnavailable) as exc:
            if not self._should_retry(exc):
                self._say_retries(exc, 1)
                raise
            failed: BaseException | None = exc
        retrying = AsyncRetrying(sleep=self.asleep, **self._retry_args())
        try:
            async for attempt in retrying:
                with attempt:
                    if failed is not None:
                        error, failed = failed, None
                        raise error
                    if limiter is not None:
                        await limiter.acquire_async(self.config.conn_id)
                    with metrics.request(self.vendor):
                        return await self._asend_once(call)
        except WhatsAppCampaignError as exc:
            self._say_retries(exc, retrying.statistics.get("attempt_number", 1))
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _asend_once(self, call: Call) -> Response:
        import aiohttp

        started = time.monotonic()
        url, headers = self._checked_url(call), self._headers(call)
        verify = self._verify(url)
        async with shared_session(self.config.conn_id) as session:
            try:
                async with session.request(
                    call.method,
                    url,
                    json=call.json,
                    data=call.data,
                    params=aiohttp_params(call.params),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                    ssl=ssl_context(verify) if isinstance(verify, str) else False,
                    allow_redirects=False,
                ) as raw:
                    content = await aread_capped(raw)
                    status, raw_headers = raw.status, lower_headers(raw.headers)
                    # aiohttp builds a cookie jar object for every answer it is asked about; most set none.
                    cookies = (
                        {name: morsel.value for name, morsel in raw.cookies.items()} if "set-cookie" in raw_headers else {}
                    )
            except UnreadableAnswer as exc:
                raise self.fail.unreadable(exc) from None
            except aiohttp.ClientConnectorCertificateError as exc:
                raise self.fail.tls(call, exc) from None
            except aiohttp.ClientConnectorError as exc:
                raise self.fail.unreachable(call, exc, sent=False) from None
            except aiohttp.InvalidURL as exc:
                raise self.fail.unbuildable(exc) from None
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise self.fail.unreachable(call, exc, sent=True) from None
            except ValueError as exc:  # URL or header building the checks above did not foresee
                raise self.fail.unbuildable(exc) from None
        if call.read_body is not None and 200 <= status < 300:
            try:
                body = call.read_body(io.BytesIO(content))
            except UnreadableAnswer as exc:
                raise self.fail.unreadable(exc, status) from None
        else:
            body = self._decode(content, status)
        return self._finish(call, url, Response(status, body, raw_headers, cookies), started)

    # ---- what both transports send and trust
    def _checked_url(self, call: Call) -> str:
        """The request URL, built once and judged by the transport-security rule exactly as sent.

        A URL built on the connection's base URL names the base's scheme, host and port whatever its
        path holds (the path follows a "/"), so the base is judged once per core and each request's
        path only for what makes HTTP clients disagree about a URL (backslash, whitespace, controls):
        a path holding any of those gets the whole rule, and its message.
        """
        url = self.url(call)
        if call.path.startswith(("http://", "https://")):  # a full URL from the connection (token URL)
            self._require_secure(url)
            return url
        if not self._base_checked:
            self._require_secure(self.config.base_url)
            self._base_checked = True
        if not plain_url_text(call.path):
            self._require_secure(url)
        return url

    def _require_secure(self, url: str) -> None:
        require_secure_url(
            url,
            conn_id=self.config.conn_id,
            allow_insecure=self.config.allow_insecure,
            what="request URL (its host, or the campaign id in its path)",
        )

    def _headers(self, call: Call) -> dict[str, str]:
        headers = dict(call.headers or {})
        name = header_problem(headers)
        if name is not None:
            raise ValidationError(
                f"the {name} header would carry a line break, a NUL or a non-Latin-1 character, which HTTP "
                "cannot send; check the connection's credentials (or the token the vendor issued)",
                vendor=self.vendor,
            )
        return headers

    def _verify(self, url: str) -> str | bool:
        """The CA bundle to trust for ``url`` (False: no verification); loaded once, checked before use."""
        if not url.startswith("https://"):
            return False
        bundle = ca_bundle(self.config.verify)
        if bundle is None:
            return False
        try:
            ssl_context(bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ValidationError(
                f"Connection {self.config.conn_id!r}: the CA bundle {bundle!r} could not be loaded "
                f"({type(exc).__name__}); set extra verify to the path of a PEM CA bundle, or true",
                vendor=self.vendor,
            ) from None
        return bundle

    # ---- shared by both transports
    def _decode(self, content: bytes, status: int) -> Any:
        try:
            return decode_body(content)
        except UnreadableAnswer as exc:
            raise self.fail.unreadable(exc, status) from None

    def _finish(self, call: Call, url: str, response: Response, started: float) -> Response:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s -> %d in %.0f ms",
                self.vendor,
                call.method,
                self.scrub(call.path),
                response.status,
                (time.monotonic() - started) * 1000,
            )
        if 300 <= response.status < 400:
            raise self.fail.redirected(response.status, url, response.headers.get("location")).scrubbed(self.scrub)
        error = self.errors.exception_for(response, self.scrub)
        if error is None:
            return response
        if isinstance(error, VendorUnavailable) and not call.idempotent:
            error.may_have_applied = True
        raise error


def _with_headers(call: Call, headers: Mapping[str, str]) -> Call:
    if not headers:
        return call
    # A copy, not a new Call: its path was checked and encoded when the call was made.
    sent = copy.copy(call)
    object.__setattr__(sent, "headers", {**(call.headers or {}), **headers})
    return sent
