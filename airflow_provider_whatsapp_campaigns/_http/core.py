"""RequestCore: sends calls for one connection with auth, retries, limits and error mapping."""

from __future__ import annotations

import asyncio
import http.cookiejar
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import requests
from requests.adapters import HTTPAdapter
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from airflow_provider_whatsapp_campaigns._http.auth import Auth
from airflow_provider_whatsapp_campaigns._http.errors import ErrorMap
from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow, Response, adrive, drive
from airflow_provider_whatsapp_campaigns._http.limits import async_limiter, sync_limiter
from airflow_provider_whatsapp_campaigns._http.transport import (
    USER_AGENT,
    aiohttp_params,
    decode_body,
    lower_headers,
    shared_session,
)
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.exceptions import AuthenticationError, RateLimited, VendorUnavailable
from airflow_provider_whatsapp_campaigns.phones import mask_phones_in_text
from airflow_provider_whatsapp_campaigns.version_compat import mask_secret

log = logging.getLogger("airflow.providers.whatsapp_campaigns.http")

MAX_RETRY_AFTER = 300.0


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
                    limiter.acquire(self.config.conn_id)
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
            decode_body(raw.content, raw.headers.get("content-type")),
            lower_headers(raw.headers),
            dict(raw.cookies),
        )
        return self._finish(call, response, started)

    # ---- async transport
    async def _asend(self, call: Call) -> Response:
        limiter = await async_limiter(self.config)
        async for attempt in AsyncRetrying(sleep=self.asleep, **self._retry_args()):
            with attempt:
                if limiter is not None:
                    await limiter.acquire_async(self.config.conn_id)
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
                    params=aiohttp_params(call.params),
                    headers=dict(call.headers or {}),
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                    ssl=bool(self.config.verify),
                ) as raw:
                    content = await raw.read()
                    cookies = {name: morsel.value for name, morsel in raw.cookies.items()}
                    response = Response(
                        raw.status,
                        decode_body(content, raw.headers.get("content-type")),
                        lower_headers(raw.headers),
                        cookies,
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
