"""Whatomate email + password (JWT): tokens shared per process and account, refreshed on 401."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from airflow_provider_whatsapp_campaigns._http.auth import MintedAuth
from airflow_provider_whatsapp_campaigns._http.core import RequestCore
from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow
from airflow_provider_whatsapp_campaigns.exceptions import AuthenticationError, UnexpectedResponse
from airflow_provider_whatsapp_campaigns.vendors.whatomate.tables import unwrap_envelope

log = logging.getLogger("airflow.providers.whatsapp_campaigns.whatomate")

LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"


# --------------------------------------------------------------------------- auth

#: Cookie names newer servers use for the tokens (first present wins), then plausible variants.
ACCESS_COOKIES = ("whm_access_token", "access_token", "whatomate_access_token", "accessToken", "jwt", "token")
REFRESH_COOKIES = ("whm_refresh_token", "refresh_token", "whatomate_refresh_token", "refreshToken")


def _body_token(body: Any, keys: tuple[str, ...]) -> str | None:
    for node in (unwrap_envelope(body), body if isinstance(body, Mapping) else {}):
        for key in keys:
            value = node.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _cookie(cookies: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if cookies.get(name)), None)


class WhatomateJwtAuth(MintedAuth):
    """Email + password → access/refresh tokens, cached per process and account.

    On a 401: refresh once; if the refresh is refused, log in again once; if that fails the
    :class:`AuthenticationError` propagates. Tokens are registered with the secret masker and
    never logged. The first login happens under a lock (thread lock sync, asyncio lock per loop).
    """

    def __init__(self, email: str, password: str, server: str = "") -> None:
        self.email, self.password = email, password
        # One login per process and account, shared by every hook: a triggerer holding 1,000
        # deferred waits logs in once. The password's digest is in the key, so a new password
        # never reuses the old tokens.
        self.key = ("whatomate-jwt", server, email, hashlib.sha256(password.encode()).hexdigest())
        self.logins = 0
        self.refreshes = 0

    def obtain(self, core: RequestCore) -> Flow[None]:
        return self._login(core)

    def secrets(self) -> list[str]:
        return [self.password]

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        if self.tokens.access is None:
            yield from self._login(core)
        return {"Authorization": f"Bearer {self.tokens.access}"}

    def recover(self, core: RequestCore, error: AuthenticationError) -> Flow[bool]:
        if self.tokens.refresh:
            try:
                yield from self._refresh(core)
                return True
            except AuthenticationError:
                log.info("whatomate: token refresh refused; logging in again")
        yield from self._login(core)
        return True

    def _login(self, core: RequestCore) -> Flow[None]:
        self.logins += 1
        call = Call("POST", LOGIN, json={"email": self.email, "password": self.password}, authenticated=False)
        try:
            response = yield call
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"Whatomate login failed ({exc.message}); check the connection's email (login) and password",
                vendor=exc.vendor,
                http_status=exc.http_status,
                vendor_code=exc.vendor_code,
            ) from None
        self._store(core, response.body, response.cookies, "login")

    def _refresh(self, core: RequestCore) -> Flow[None]:
        self.refreshes += 1
        tokens = self.tokens
        headers = {"Cookie": f"{tokens.refresh_cookie}={tokens.refresh}"} if tokens.refresh_cookie else None
        response = yield Call(
            "POST", REFRESH, json={"refresh_token": tokens.refresh}, headers=headers, authenticated=False
        )
        self._store(core, response.body, response.cookies, "refresh")

    def _store(self, core: RequestCore, body: Any, cookies: Mapping[str, str], what: str) -> None:
        """Tokens from the JSON body or, on newer servers, from the cookies."""
        access = _body_token(body, ("access_token", "token"))
        if access is None and (name := _cookie(cookies, ACCESS_COOKIES)):
            access = cookies[name]
        refresh, refresh_cookie = _body_token(body, ("refresh_token",)), None
        if refresh is None and (refresh_cookie := _cookie(cookies, REFRESH_COOKIES)):
            refresh = cookies[refresh_cookie]
        if not access:
            raise UnexpectedResponse(
                f"Whatomate {what} succeeded but returned no access token (neither in the body nor as a cookie)",
                vendor="whatomate",
            )
        core.add_secret(access)
        core.add_secret(refresh)
        self.tokens.access = access
        # A refresh that returns no new refresh token leaves the old one valid.
        if refresh:
            self.tokens.refresh, self.tokens.refresh_cookie = refresh, refresh_cookie
