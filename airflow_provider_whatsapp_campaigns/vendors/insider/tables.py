"""Insider's tables: the stats mapping (two response shapes, one table) and the error codes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from airflow_provider_whatsapp_campaigns._http.errors import ErrorMap, ErrorRule
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnexpectedResponse,
    ValidationError,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, StatsMapping, describe_kind, to_count

VENDOR = "insider"


# --------------------------------------------------------------------------- the mapping table

#: Flat Insider counters (vendor names), after :func:`unwrap`; ``read`` is folded into ``open``.
COUNTER_FIELDS = (
    "targeted",
    "sent",
    "delivered",
    "open",
    "click",
    "conversion",
    "revenue",
    "drop",
    "undelivered",
    "unsubscribe",
    "deliveryPending",
)
DETAIL_DICTS = ("dropDetails", "undeliveredDetails")

INSIDER_STATS = StatsMapping(
    provider=VENDOR,
    statuses={},  # Insider has no campaign status: always UNKNOWN, vendor_status None.
    fields={
        "total": "targeted",
        "sent": "sent",
        "delivered": "delivered",
        "read": ("open", "read"),  # "open" is Insider's word for read; the wrapped shape says "read"
        "clicked": ("click", "clicked"),
        "pending": "deliveryPending",  # None when absent (wrapped shape): the settled heuristic then cannot apply
        # "failed" is derived, see insider_failed().
    },
    details=(
        "dropDetails",
        "undeliveredDetails",
        "responses",
        "responseSummary",
        "conversion",
        "revenue",
        "unsubscribe",
        "drop",
        "undelivered",
    ),
)


def unwrap(body: Any) -> dict[str, Any]:
    """The flat statistics dict from either response shape; any other answer is an
    :class:`UnexpectedResponse` (not a row of unknown counters a "settled" wait would poll forever).

    ``{"data": {"statistics": {...}}}`` → its ``statistics``; ``read`` there is copied to ``open``
    so the flat names apply to both shapes.
    """
    if not isinstance(body, Mapping):
        raise UnexpectedResponse(
            f"Insider answered with {describe_kind(body)} where statistics (a JSON object) were expected",
            vendor=VENDOR,
        )
    data = body.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("statistics"), Mapping):
        flat = dict(data["statistics"])
    else:
        flat = dict(body)
    if flat.get("open") is None and flat.get("read") is not None:
        flat["open"] = flat["read"]
    return flat


def insider_failed(payload: Mapping[str, Any]) -> int | None:
    """Normalized ``failed`` = ``drop`` (never sent: caps, duplicates, invalid numbers, …) +
    ``undelivered`` (sent but not delivered).

    Both are messages that did not reach the recipient, and with ``total = targeted`` this keeps
    ``delivered + pending + failed == targeted`` on consistent data (``targeted = sent + drop``,
    ``sent = delivered + undelivered + pending``). When only one of the two is reported it is used
    alone (a lower bound); when neither is reported, ``None`` (never a made-up 0).
    """
    parts = [to_count(payload.get("drop")), to_count(payload.get("undelivered"))]
    present = [p for p in parts if p is not None]
    return sum(present) if present else None


def to_amount(value: Any) -> int | float | None:
    """Money (``revenue``): int when integral, float otherwise; strings parsed; junk → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return int(value) if value.is_integer() else value
    return None


def counter_value(name: str, value: Any) -> int | float | None:
    return to_amount(value) if name == "revenue" else to_count(value)


def count_dict(value: Any) -> dict[str, int | None] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): to_count(v) for k, v in value.items()}


def clean_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers in details as numbers (vendors send ``"12"``, ``12.0`` or ``null``)."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key in ("dropDetails", "undeliveredDetails", "responseSummary"):
            cleaned = count_dict(value)
            if cleaned is not None:
                out[key] = cleaned
        elif key == "responses":
            if isinstance(value, list):
                out[key] = [_clean_response(r) for r in value if isinstance(r, Mapping)]
        elif key in COUNTER_FIELDS:
            number = counter_value(key, value)
            if number is not None:
                out[key] = number
        else:  # pragma: no cover - the table only lists the keys above
            out[key] = value
    return out


def _clean_response(row: Mapping[str, Any]) -> dict[str, Any]:
    numeric = ("sent", "delivered", "open", "click", "conversion", "revenue")
    return {str(k): (counter_value(k, v) if k in numeric else v) for k, v in row.items()}


def stats_from_payload(body: Any, campaign_id: Any) -> CampaignStats:
    """Campaign stats from either response shape, through :data:`INSIDER_STATS`."""
    payload = unwrap(body)
    stats = INSIDER_STATS.build(payload, campaign_id=str(campaign_id), failed=insider_failed(payload))
    return stats.replace(details=clean_details(stats.details))


# --------------------------------------------------------------------------- the error table


def insider_error_fields(body: Any) -> tuple[Any, Any]:
    """``(code, message)`` from ``{"errorCode": "3004", …}`` (string code) or
    ``{"error": {"code": 1001, …}}`` (int code); 422 ``errors`` (field → messages) or 3002's
    string ``errors`` become the message.
    """
    if not isinstance(body, Mapping):
        return None, body.strip() if isinstance(body, str) and body.strip() else None
    code: Any = None
    message: Any = body.get("message")
    error = body.get("error")
    if isinstance(error, Mapping):
        code = error.get("code", error.get("errorCode"))
        message = error.get("message") or message
    elif isinstance(error, str) and not message:
        message = error
    if code is None:
        code = body.get("errorCode", body.get("code"))
    errors = body.get("errors")
    if errors:
        detail = _describe_errors(errors)
        generic = not message or str(message).strip().rstrip(".") in ("The given data was invalid", "Validation failed")
        message = detail if generic else f"{str(message).strip().rstrip('.')}: {detail}"
    return _code_text(code), message


def _code_text(code: Any) -> str | None:
    if code is None or isinstance(code, bool):
        return None
    if isinstance(code, float) and code.is_integer():
        code = int(code)
    text = str(code).strip()
    return text or None


def _describe_errors(errors: Any) -> str:
    if isinstance(errors, Mapping):
        parts = []
        for field_name, messages in errors.items():
            values = messages if isinstance(messages, list) else [messages]
            parts.append(f"{field_name}: {'; '.join(str(v) for v in values)}")
        return ", ".join(parts)
    if isinstance(errors, list):
        return "; ".join(str(e) for e in errors)
    return str(errors)


IP_ALLOW_LIST_HINT = (
    "Insider accepts API calls only from IP addresses on the API allow-list, and this worker's IP is not on it: "
    "add this worker's egress (public) IP address to the allow-list in Insider's console, then retry"
)

INSIDER_ERRORS = ErrorMap(
    vendor=VENDOR,
    codes={
        "3001": ErrorRule(ValidationError, "Insider could not parse the request body"),
        "3002": ErrorRule(ValidationError, "Insider rejected the request parameters"),
        "3004": ErrorRule(
            NotFound,
            "the campaign does not exist or is not owned by the partner this key/client belongs to; "
            "check the campaign id and the connection",
        ),
        "1001": ErrorRule(AuthenticationError, "check the Insider API key / OAuth client credentials"),
        "3007": ErrorRule(
            PermissionDenied, "the WhatsApp product is not active for this Insider partner; ask Insider to enable it"
        ),
        "1088": ErrorRule(PermissionDenied, IP_ALLOW_LIST_HINT),
        "3005": ErrorRule(
            PermissionDenied,
            "transactional messaging is not active for this Insider partner; ask Insider to enable it",
        ),
        "2021": ErrorRule(RateLimited, "Insider rate limit (100 requests/s per key)"),
    },
    statuses={
        400: ErrorRule(ValidationError),
        401: ErrorRule(AuthenticationError, "check the Insider API key / OAuth client credentials"),
        403: ErrorRule(PermissionDenied),
        422: ErrorRule(ValidationError),
        429: ErrorRule(RateLimited, "Insider rate limit"),
    },
    error_fields=insider_error_fields,
)
