"""Insider OAuth2 client credentials: a per-process token cache, minted once under a lock."""

from __future__ import annotations

import contextvars
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_whatsapp_campaigns._http.auth import MintedAuth
from airflow_provider_whatsapp_campaigns._http.core import RequestCore
from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow
from airflow_provider_whatsapp_campaigns.exceptions import AuthenticationError, UnexpectedResponse, ValidationError
from airflow_provider_whatsapp_campaigns.stats import to_count
from airflow_provider_whatsapp_campaigns.vendors.insider.tables import VENDOR

DEFAULT_SCOPES = ("wa-stats-api",)
#: A cached OAuth token is reused until this many seconds before it expires (or half its life if shorter).
TOKEN_REFRESH_MARGIN = 60.0
#: ``expires_in`` assumed when the token answer omits it (the documented value).
DEFAULT_TOKEN_TTL = 3600
#: A token is never kept longer than this, whatever ``expires_in`` says.
MAX_TOKEN_TTL = 86_400


# The token this call sent (per thread / asyncio task), so a 401 is recovered only once per stale token.
_SENT_TOKEN: contextvars.ContextVar[str | None] = contextvars.ContextVar("insider_sent_token", default=None)


def parse_scopes(value: Any) -> list[str]:
    """Extra ``scopes``: a JSON list, a JSON-list string, or a space/comma separated string."""
    if value is None or value == "" or value == []:
        return list(DEFAULT_SCOPES)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValidationError(f"extra 'scopes' is not a valid JSON list: {value!r}", vendor=VENDOR) from None
        else:
            value = text.replace(",", " ").split()
    if not isinstance(value, list | tuple) or not all(isinstance(s, str) for s in value):
        raise ValidationError(f"extra 'scopes' must be a list of strings, got {value!r}", vendor=VENDOR)
    scopes = [s.strip() for s in value if s.strip()]
    return scopes or list(DEFAULT_SCOPES)


class InsiderOAuthAuth(MintedAuth):
    """OAuth2 client credentials with a per-process token cache keyed by the credentials.

    The token is minted lazily, reused until ``TOKEN_REFRESH_MARGIN`` seconds before it expires
    (minting is limited to about 10 per minute), registered with the secret masker and never
    logged. After a 401 the stale token is dropped and one new token minted (the core then
    resends once); if another caller already replaced it, that token is used without minting.
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str, scopes: Sequence[str]) -> None:
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.scopes = list(scopes)
        # The secret's digest is part of the key: a changed (or wrong) secret never reuses a token
        # minted for the old one, and the secret itself is not kept as a dict key.
        digest = hashlib.sha256(client_secret.encode()).hexdigest()
        self.key = ("insider-oauth", token_url, client_id, digest, tuple(sorted(self.scopes)))

    def secrets(self) -> list[str]:
        return [self.client_secret]

    def cached(self) -> str | None:
        return self.tokens.usable()

    # ---- flows
    def mint(self, core: RequestCore) -> Flow[str]:
        started = time.monotonic()
        body = {"client_id": self.client_id, "client_secret": self.client_secret, "scopes": self.scopes}
        try:
            response = yield Call("POST", self.token_url, json=body, authenticated=False)
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"Insider refused the OAuth client credentials ({exc.message}); check the client ID and "
                "client secret of the connection",
                vendor=VENDOR,
                http_status=exc.http_status,
                vendor_code=exc.vendor_code,
            ) from None
        answer = response.body if isinstance(response.body, Mapping) else {}
        value = answer.get("access_token")
        if not isinstance(value, str) or not value:
            raise UnexpectedResponse(
                f"Insider's token endpoint answered HTTP {response.status} without an access_token", vendor=VENDOR
            )
        core.add_secret(value)
        # Unreadable or absurd lifetimes (``1e400``, a year) fall back to / are capped at sane bounds.
        expires_in = min(to_count(answer.get("expires_in")) or DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL)
        margin = min(TOKEN_REFRESH_MARGIN, float(expires_in) / 2)
        self.tokens.access, self.tokens.expires_at = value, started + float(expires_in) - margin
        return value

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        token = self.cached()
        if token is None:
            token = yield from self.mint(core)
        core.add_secret(token)
        _SENT_TOKEN.set(token)
        return {"Authorization": f"Bearer {token}"}

    def recover(self, core: RequestCore, error: AuthenticationError) -> Flow[bool]:
        sent = _SENT_TOKEN.get()
        current = self.cached()
        if current is not None and current != sent:
            return True  # another caller already minted a fresh one: resend with it
        self.tokens.forget(sent)
        yield from self.mint(core)
        return True

    # ---- MintedAuth: one mint under a lock before authenticated requests (many callers, one mint)
    def obtain(self, core: RequestCore) -> Flow[str]:
        return self.mint(core)
