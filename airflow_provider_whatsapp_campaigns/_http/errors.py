"""Error mapping: a vendor's answer to one typed error with an actionable message."""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_whatsapp_campaigns._http.flow import Response
from airflow_provider_whatsapp_campaigns.exceptions import (
    MAX_CODE,
    AuthenticationError,
    InvalidState,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
    WhatsAppCampaignError,
    cap_text,
)

#: Vendor text kept in a message (scrubbed first; the code is capped by the error itself).
MAX_MESSAGE = 300
#: The longest wait a ``Retry-After`` may ask for.
MAX_RETRY_AFTER = 300.0


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


def default_error_fields(body: Any) -> tuple[Any, Any]:
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
    error_fields: Callable[[Any], tuple[Any, Any]] = default_error_fields
    # (http status, body) -> True when a 2xx answer is really an error (envelopes with status: false)
    body_is_error: Callable[[int, Any], bool] = lambda status, body: False

    def exception_for(self, response: Response, scrub: Callable[[str], str]) -> WhatsAppCampaignError | None:
        if response.status < 400 and not self.body_is_error(response.status, response.body):
            return None
        code, message = self.error_fields(response.body)
        code = None if code is None or code == "" else _describe(code)
        rule = (self.codes.get(code) if code is not None else None) or self.statuses.get(response.status)
        if rule is not None:
            error_cls, hint = rule.error, rule.hint
        elif response.status >= 500:
            error_cls, hint = VendorUnavailable, "The vendor's server failed"
        else:
            error_cls, hint = STATUS_ERRORS.get(response.status, UnexpectedResponse), ""
        # Everything taken from the body is scrubbed before it is cut, so no partial secret survives.
        text = cap_text(scrub(_describe(message) or f"HTTP {response.status}"), MAX_MESSAGE)
        return error_cls(
            f"{text}. {hint}".strip() if hint else text,
            vendor=self.vendor,
            http_status=response.status,
            vendor_code=None if code is None else cap_text(scrub(code), MAX_CODE),
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def _describe(message: Any) -> str:
    """Vendor text as one line; nested values are written as JSON (one escaping scheme to scrub)."""
    if message is None:
        return ""
    if isinstance(message, str):
        return message.strip().rstrip(".")
    if isinstance(message, Mapping):  # field -> [messages]
        parts = []
        for key, value in message.items():
            values = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {'; '.join(_describe(v) for v in values)}")
        return ", ".join(parts)
    return json.dumps(message, default=str, ensure_ascii=False)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds, or an HTTP date counted from ``now``), within ``[0, MAX_RETRY_AFTER]``."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)
