"""Insider One WhatsApp statistics: campaign stats (API key v1 or OAuth v2 gateway) and transactional stats.

Insider is statistics only (no create/start) and reports **no campaign status**: stats come back
with ``status=UNKNOWN`` and ``vendor_status=None``. Whether a campaign is done is a heuristic:
``pending == 0`` and the counters unchanged across polls (:func:`insider_settled`, the sensor's
``completion="settled"`` mode).

Two response shapes are accepted everywhere: the flat one (``sent, delivered, open, click, …``)
and the wrapped one (``{"data": {"statistics": {"sent", "delivered", "read"}}}``); :func:`unwrap`
turns both into one flat dict before the single mapping table :data:`INSIDER_STATS` applies.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from airflow_provider_whatsapp_campaigns._http import (
    Auth,
    Call,
    ErrorMap,
    ErrorRule,
    Flow,
    MintedAuth,
    RequestCore,
    StaticHeaderAuth,
)
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig, is_loopback
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnexpectedResponse,
    UnsupportedOperation,
    ValidationError,
)
from airflow_provider_whatsapp_campaigns.hooks.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.phones import InvalidPhone, mask_phone, to_e164
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, StatsMapping, ratio, to_count

VENDOR = "insider"
DAY = 86_400
#: 2018-01-01T00:00:00Z: Insider's lower bound for statistics windows (the default start).
INSIDER_EPOCH = 1_514_764_800
#: "At most one year": 365 days exactly (``end - start <= MAX_RANGE``), safe in leap years too.
MAX_RANGE = 365 * DAY
CAMPAIGN_PATH = "/v1/statistics/campaign"
OAUTH_CAMPAIGN_PATH = "/api/wa/v2/statistics/campaign"
TRANSACTIONAL_PATH = "/v1/statistics/transactional"
DEFAULT_SCOPES = ("wa-stats-api",)
#: A cached OAuth token is reused until this many seconds before it expires (or half its life if shorter).
TOKEN_REFRESH_MARGIN = 60.0
#: ``expires_in`` assumed when the token answer omits it (the documented value).
DEFAULT_TOKEN_TTL = 3600

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
    """The flat statistics dict from either response shape (a non-dict body gives ``{}``).

    ``{"data": {"statistics": {...}}}`` → its ``statistics``; ``read`` there is copied to ``open``
    so the flat names apply to both shapes.
    """
    if not isinstance(body, Mapping):
        return {}
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


def _counter(name: str, value: Any) -> int | float | None:
    return to_amount(value) if name == "revenue" else to_count(value)


def _count_dict(value: Any) -> dict[str, int | None] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): to_count(v) for k, v in value.items()}


def clean_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers in details as numbers (vendors send ``"12"``, ``12.0`` or ``null``)."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key in ("dropDetails", "undeliveredDetails", "responseSummary"):
            cleaned = _count_dict(value)
            if cleaned is not None:
                out[key] = cleaned
        elif key == "responses":
            if isinstance(value, list):
                out[key] = [_clean_response(r) for r in value if isinstance(r, Mapping)]
        elif key in COUNTER_FIELDS:
            number = _counter(key, value)
            if number is not None:
                out[key] = number
        else:  # pragma: no cover - the table only lists the keys above
            out[key] = value
    return out


def _clean_response(row: Mapping[str, Any]) -> dict[str, Any]:
    numeric = ("sent", "delivered", "open", "click", "conversion", "revenue")
    return {str(k): (_counter(k, v) if k in numeric else v) for k, v in row.items()}


def stats_from_payload(body: Any, campaign_id: Any) -> CampaignStats:
    """Campaign stats from either response shape, through :data:`INSIDER_STATS`."""
    payload = unwrap(body)
    stats = INSIDER_STATS.build(payload, campaign_id=str(campaign_id), failed=insider_failed(payload))
    return stats.replace(details=clean_details(stats.details))


def insider_settled(history: Sequence[CampaignStats]) -> bool:
    """Insider's "done" heuristic over consecutive polls (oldest first): the latest poll has
    ``pending == 0`` and every counter equals the previous polls'. Needs at least two polls;
    a campaign that pauses sending for longer than the polling span looks finished.
    """
    if len(history) < 2:
        return False
    last = history[-1].counters()
    return last.get("pending") == 0 and all(h.counters() == last for h in history[:-1])


# --------------------------------------------------------------------------- the error table


def _insider_extract(body: Any) -> tuple[Any, Any]:
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
        "2021": ErrorRule(RateLimited, "Insider rate limit (100 requests/s per key); retried with backoff"),
    },
    statuses={
        400: ErrorRule(ValidationError),
        401: ErrorRule(AuthenticationError, "check the Insider API key / OAuth client credentials"),
        403: ErrorRule(PermissionDenied),
        422: ErrorRule(ValidationError),
        429: ErrorRule(RateLimited, "Insider rate limit; retried with backoff"),
    },
    extract=_insider_extract,
)

# --------------------------------------------------------------------------- time ranges


def to_unix(value: Any, field_name: str) -> int:
    """10-digit Unix seconds from a datetime (naive = UTC), a date (00:00 UTC), an ISO-8601
    string, or Unix seconds/milliseconds (int, float or numeric string)."""
    seconds: float | None = None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    elif isinstance(value, date):
        seconds = datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                seconds = None
            else:
                seconds = to_unix(parsed, field_name)
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        raise ValidationError(
            f"{field_name} must be a datetime, an ISO-8601 string or Unix seconds, got {value!r}", vendor=VENDOR
        )
    if seconds >= 10**11:  # milliseconds
        seconds /= 1000
    result = int(seconds)
    if not 10**9 <= result < 10**10:
        raise ValidationError(f"{field_name} must be a 10-digit Unix time, got {value!r}", vendor=VENDOR)
    return result


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def check_range(start: int | None, end: int | None, *, max_range: int | None = MAX_RANGE) -> None:
    """Insider's rules, checked before any request: start ≥ 2018-01-01, end > start, span ≤ 1 year."""
    if start is not None and start < INSIDER_EPOCH:
        raise ValidationError(
            f"start_time {_iso(start)} is before 2018-01-01T00:00:00Z, Insider's earliest statistics date",
            vendor=VENDOR,
        )
    if end is not None and end <= INSIDER_EPOCH and start is None:
        raise ValidationError(f"end_time {_iso(end)} must be after 2018-01-01T00:00:00Z", vendor=VENDOR)
    if start is not None and end is not None:
        if end <= start:
            raise ValidationError(f"end_time ({_iso(end)}) must be after start_time ({_iso(start)})", vendor=VENDOR)
        if max_range is not None and end - start > max_range:
            raise ValidationError(
                f"the range {_iso(start)} → {_iso(end)} is longer than one year ({max_range // DAY} days), "
                "Insider's limit for campaign statistics; narrow it",
                vendor=VENDOR,
            )


def split_windows(start: int, end: int, max_range: int = MAX_RANGE) -> list[tuple[int, int]]:
    """Split the closed range ``[start, end]`` (Unix seconds) into consecutive windows for Insider.

    Each window ``(a, b)`` is closed (both ends included, as Insider's ``start_time``/``end_time``
    are), ``b > a`` (Insider requires end > start) and ``b - a <= max_range``. The first starts at
    ``start``, the last ends at ``end``, and each next one starts one second after the previous
    ends: no gap, no overlap. Inner boundaries fall on 00:00 UTC (a window ends at 23:59:59), so
    no calendar day is split between two windows and the daily chart cannot repeat a day.
    """
    if end <= start:
        raise ValidationError(f"end_time ({_iso(end)}) must be after start_time ({_iso(start)})", vendor=VENDOR)
    if max_range < 3 * DAY:
        raise ValueError("max_range must be at least three days")
    windows: list[tuple[int, int]] = []
    a = start
    while end - a > max_range:
        cut = (a + max_range + 1) // DAY * DAY  # latest midnight with cut - 1 - a <= max_range
        if cut >= end:  # the rest would be the single second [end, end]: end this window a day earlier
            cut -= DAY
        windows.append((a, cut - 1))
        a = cut
    windows.append((a, end))
    return windows


# --------------------------------------------------------------------------- transactional merge


def merge_transactional(payloads: Sequence[Any]) -> dict[str, Any]:
    """Merge per-window answers (either shape): counters summed (``None`` only when absent from
    every window), ``dropDetails``/``undeliveredDetails`` summed key-wise, chart days
    concatenated in date order (a day reported by two windows is summed once, never repeated).
    Returns vendor-named fields: ``{counter: …, "dropDetails": …, "undeliveredDetails": …,
    "chart": … | None}``.
    """
    flats = [unwrap(p) for p in payloads]
    merged: dict[str, Any] = {}
    for name in COUNTER_FIELDS:
        values = [v for v in (_counter(name, f.get(name)) for f in flats) if v is not None]
        merged[name] = _sum(values) if values else None
    for name in DETAIL_DICTS:
        dicts = [d for d in (_count_dict(f.get(name)) for f in flats) if d is not None]
        if not dicts:
            merged[name] = None
            continue
        total: dict[str, int | None] = {}
        for d in dicts:
            for key, value in d.items():
                if value is not None:
                    total[key] = (total.get(key) or 0) + value
                else:
                    total.setdefault(key, None)
        merged[name] = total
    charts = [f["chart"] for f in flats if isinstance(f.get("chart"), Mapping)]
    merged["chart"] = merge_charts(charts) if charts else None
    return merged


def _sum(values: Iterable[int | float]) -> int | float:
    total = sum(values)
    return int(total) if isinstance(total, float) and total.is_integer() else total


def _day_key(chart: Mapping[str, Any], index: int) -> tuple[int | None, str | None]:
    stamp: int | None = None
    stamps = chart.get("datesAsTimestamp")
    if isinstance(stamps, list) and index < len(stamps):
        number = to_count(stamps[index])
        if number is not None:
            stamp = number // 1000 if number >= 10**11 else number
    label: str | None = None
    dates = chart.get("dates")
    if isinstance(dates, list) and index < len(dates) and dates[index] is not None:
        label = str(dates[index])
    if stamp is None and label is not None:
        try:
            parsed = datetime.fromisoformat(label.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            stamp = int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    return stamp, label


def merge_charts(charts: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Concatenate parallel per-day arrays from several windows, in date order, one entry per day.

    Days are keyed by ``datesAsTimestamp`` (or the parsed ``dates`` label): a day that appears
    in two windows is summed into one entry. Series keep the vendor's names (``open``,
    ``click``, ``clickFromResponses`` …); a series missing from one window counts as ``None``
    there.
    """
    series = sorted({k for c in charts for k, v in c.items() if isinstance(v, list)} - {"dates", "datesAsTimestamp"})
    has_dates = any(isinstance(c.get("dates"), list) for c in charts)
    has_stamps = any(isinstance(c.get("datesAsTimestamp"), list) for c in charts)
    days: dict[Any, dict[str, Any]] = {}
    for chart in charts:
        lengths = [len(chart[k]) for k in ("dates", "datesAsTimestamp") if isinstance(chart.get(k), list)]
        for index in range(max(lengths, default=0)):
            stamp, label = _day_key(chart, index)
            key = stamp if stamp is not None else label
            raw_stamp = (
                chart["datesAsTimestamp"][index] if has_stamps and _has(chart, "datesAsTimestamp", index) else None
            )
            day = days.setdefault(key, {"_sort": stamp, "dates": label, "datesAsTimestamp": raw_stamp})
            for name in series:
                values = chart.get(name)
                value = _counter(name, values[index]) if isinstance(values, list) and index < len(values) else None
                if value is not None:
                    day[name] = _sum([day[name], value]) if day.get(name) is not None else value
                else:
                    day.setdefault(name, None)
    ordered = sorted(days.values(), key=lambda d: (d["_sort"] is None, d["_sort"] or 0, d["dates"] or ""))
    out: dict[str, list[Any]] = {}
    if has_dates:
        out["dates"] = [d["dates"] for d in ordered]
    if has_stamps:
        out["datesAsTimestamp"] = [d["datesAsTimestamp"] for d in ordered]
    for name in series:
        out[name] = [d.get(name) for d in ordered]
    return out


def _has(chart: Mapping[str, Any], key: str, index: int) -> bool:
    values = chart.get(key)
    return isinstance(values, list) and index < len(values)


def transactional_result(
    start: int,
    end: int,
    windows: Sequence[tuple[int, int]],
    payloads: Sequence[Any],
    accounts: Sequence[str] | None,
) -> dict[str, Any]:
    """The JSON-safe dict :meth:`InsiderHook.get_transactional_stats` returns (see its docstring)."""
    merged = merge_transactional(payloads)
    counts = {
        "total": merged["targeted"],
        "sent": merged["sent"],
        "delivered": merged["delivered"],
        "read": merged["open"],
        "clicked": merged["click"],
        "failed": insider_failed(merged),
        "pending": merged["deliveryPending"],
    }
    return {
        "provider": VENDOR,
        "kind": "transactional",
        "start_time": _iso(start),
        "end_time": _iso(end),
        "start_unix": start,
        "end_unix": end,
        "accounts": [mask_phone(a) for a in accounts] if accounts else None,
        "windows": len(windows),
        "window_ranges": [[a, b] for a, b in windows],
        **counts,
        "conversion": merged["conversion"],
        "revenue": merged["revenue"],
        "drop": merged["drop"],
        "undelivered": merged["undelivered"],
        "unsubscribe": merged["unsubscribe"],
        "delivery_rate": ratio(counts["delivered"], counts["sent"]),
        "read_rate": ratio(counts["read"], counts["delivered"]),
        "click_rate": ratio(counts["clicked"], counts["delivered"]),
        "failure_rate": ratio(counts["failed"], counts["total"]),
        "details": {name: merged[name] for name in DETAIL_DICTS if merged[name] is not None},
        "chart": merged["chart"],
        "fetched_at": datetime.now(UTC).isoformat(),
    }


def normalize_accounts(accounts: Any) -> list[str] | None:
    """Sender numbers → E.164 (``None``/empty = all of the partner's accounts); a comma/space
    separated string is accepted (templated fields). Any invalid number → ValidationError naming
    its row, masked; nothing is sent."""
    if accounts is None or accounts == "":
        return None
    if isinstance(accounts, str):
        text = accounts.strip()
        if text.startswith("["):
            try:
                accounts = json.loads(text)
            except ValueError:
                accounts = text.strip("[]").replace("'", "").replace('"', "")
        if isinstance(accounts, str):
            accounts = [a for a in accounts.replace(",", " ").split() if a]
    if not isinstance(accounts, list | tuple):
        raise ValidationError(f"accounts must be a list of sender phone numbers, got {type(accounts).__name__}")
    valid: list[str] = []
    invalid: list[InvalidPhone] = []
    for row, value in enumerate(accounts):
        try:
            valid.append(to_e164(str(value)))
        except ValueError as exc:
            invalid.append(InvalidPhone(row, str(value), str(exc)))
    if invalid:
        shown = "; ".join(i.describe() for i in invalid[:10])
        raise ValidationError(
            f"{len(invalid)} invalid sender phone number(s) in accounts, nothing was sent: {shown}", vendor=VENDOR
        )
    return list(dict.fromkeys(valid)) or None


# --------------------------------------------------------------------------- OAuth token cache


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic() deadline after which it is no longer reused
    minted_at: float


#: (token_url, client_id, sha256(client_secret), scopes) → token. Per process; shared by every
#: hook instance, sync and async.
TokenKey = tuple[str, str, str, tuple[str, ...]]
_TOKENS: dict[TokenKey, _Token] = {}
_TOKENS_LOCK = threading.Lock()
# The token this call sent (per thread / asyncio task), so a 401 is recovered only once per stale token.
_SENT_TOKEN: contextvars.ContextVar[str | None] = contextvars.ContextVar("insider_sent_token", default=None)


def clear_token_cache() -> None:
    """Forget every cached OAuth token in this process (tests, credential rotation)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


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
        self.key: TokenKey = (token_url, client_id, digest, tuple(sorted(self.scopes)))

    def secrets(self) -> list[str]:
        return [self.client_secret]

    # ---- cache
    def cached(self) -> str | None:
        with _TOKENS_LOCK:
            token = _TOKENS.get(self.key)
        if token is None or time.monotonic() >= token.expires_at:
            return None
        return token.value

    def _store(self, value: str, expires_in: float, started: float) -> None:
        margin = min(TOKEN_REFRESH_MARGIN, expires_in / 2)
        with _TOKENS_LOCK:
            _TOKENS[self.key] = _Token(value, started + expires_in - margin, started)

    def _drop(self, value: str | None) -> None:
        with _TOKENS_LOCK:
            current = _TOKENS.get(self.key)
            if current is not None and (value is None or current.value == value):
                del _TOKENS[self.key]

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
        expires_in = to_count(answer.get("expires_in")) or DEFAULT_TOKEN_TTL
        self._store(value, float(expires_in), started)
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
        self._drop(sent)
        yield from self.mint(core)
        return True

    # ---- MintedAuth: one mint under a lock before authenticated requests (many callers, one mint)
    def ready(self) -> bool:
        return self.cached() is not None

    def obtain(self, core: RequestCore) -> Flow[str]:
        return self.mint(core)


# --------------------------------------------------------------------------- hooks


class InsiderHook(WhatsAppCampaignHook):
    """Insider One WhatsApp statistics with an API key (``x-ins-auth-key``).

    Campaign stats: ``get_campaign_stats(campaign_id, start_time=None, end_time=None)``
    (range ≤ 1 year, start ≥ 2018-01-01; both optional). Transactional stats:
    :meth:`get_transactional_stats` (any range, split into ≤ 1-year windows and merged).
    Insider reports no status: use the sensor's ``completion="settled"`` mode.
    """

    conn_type = "insider_whatsapp"
    default_conn_name = "insider_whatsapp_default"
    hook_name = "Insider One WhatsApp (API key)"
    vendor = VENDOR
    vendor_label = "Insider One"
    default_rate_limit = 100.0  # published: 100 requests per second per key
    errors = INSIDER_ERRORS
    stats_mapping = INSIDER_STATS
    supported: ClassVar[frozenset[str]] = frozenset({"stats"})

    campaign_stats_path: ClassVar[str] = CAMPAIGN_PATH
    #: The OAuth gateway documents no transactional endpoint.
    supports_transactional: ClassVar[bool] = True

    def build_auth(self, config: ConnectionConfig) -> Auth:
        key = config.require(config.password, "password (API key)", "Insider API key")
        return StaticHeaderAuth("x-ins-auth-key", key)

    # ------------------------------------------------------------------ campaign stats

    def campaign_body(self, campaign_id: Any, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validated request body (raises ValidationError before any request)."""
        unknown = sorted(set(options) - {"start_time", "end_time"})
        if unknown:
            raise ValidationError(
                f"unknown Insider stats option(s) {', '.join(unknown)}; accepted: start_time, end_time", vendor=VENDOR
            )
        text = str(campaign_id).strip()
        if not (text.isascii() and text.isdigit()) or int(text) <= 0:
            raise ValidationError(f"Insider campaign_id must be a positive integer, got {campaign_id!r}", vendor=VENDOR)
        body: dict[str, Any] = {"campaign_id": int(text)}
        start = _optional_time(options.get("start_time"), "start_time")
        end = _optional_time(options.get("end_time"), "end_time")
        check_range(start, end)
        if start is not None:
            body["start_time"] = start
        if end is not None:
            body["end_time"] = end
        return body

    def _stats_flow(self, campaign_id: str, **options: Any) -> Flow[CampaignStats]:
        # Not a generator itself: validation runs when the flow is built, before any request
        # (and before an OAuth token is minted).
        return self._post_stats(self.campaign_body(campaign_id, options))

    def _post_stats(self, body: dict[str, Any]) -> Flow[CampaignStats]:
        response = yield Call("POST", self.campaign_stats_path, json=body)
        return stats_from_payload(response.body, body["campaign_id"])

    # ------------------------------------------------------------------ transactional stats

    def get_transactional_stats(self, start_time: Any, end_time: Any, accounts: Any = None) -> dict[str, Any]:
        """Transactional statistics for ``[start_time, end_time]`` (both included).

        Times: datetime (naive = UTC), ISO-8601 string, or Unix seconds. A range over one year
        is fetched as consecutive ≤ 1-year windows (:func:`split_windows`) and merged.
        ``accounts``: sender phone numbers (validated and sent as E.164); ``None`` = all.

        Returns a JSON-safe dict::

            provider "insider", kind "transactional",
            start_time / end_time (ISO-8601 UTC), start_unix / end_unix (int),
            accounts (masked senders | None), windows (int), window_ranges [[start, end], …],
            total (targeted), sent, delivered, read (open), clicked (click), failed (drop + undelivered),
            pending (deliveryPending), conversion, revenue, drop, undelivered, unsubscribe   int | float | None
            delivery_rate, read_rate, click_rate, failure_rate                               0–1 | None
            details {"dropDetails": {…}, "undeliveredDetails": {…}}  (summed key-wise; absent keys omitted)
            chart {"dates": [...], "datesAsTimestamp": [...], <vendor series: sent, delivered, open,
                   click, conversion, verified, responses, …>: [...]} | None (wrapped answers have none)
            fetched_at (ISO-8601 UTC)
        """
        return self._run(self._transactional_flow(start_time, end_time, accounts))  # type: ignore[no-any-return]

    async def aget_transactional_stats(self, start_time: Any, end_time: Any, accounts: Any = None) -> dict[str, Any]:
        """Async twin of :meth:`get_transactional_stats` (same flow)."""
        return await self._arun(self._transactional_flow(start_time, end_time, accounts))  # type: ignore[no-any-return]

    def _transactional_flow(self, start_time: Any, end_time: Any, accounts: Any = None) -> Flow[dict[str, Any]]:
        """Validate everything now (before any request), then return the fetching flow."""
        if not self.supports_transactional:
            raise UnsupportedOperation(
                "Insider's OAuth gateway has no documented transactional statistics endpoint; use an API-key "
                f"connection (type insider_whatsapp) instead of {self.conn_id!r} ({self.conn_type})",
                vendor=VENDOR,
            )
        if start_time is None or start_time == "" or end_time is None or end_time == "":
            raise ValidationError("transactional stats need both start_time and end_time", vendor=VENDOR)
        start, end = to_unix(start_time, "start_time"), to_unix(end_time, "end_time")
        check_range(start, end, max_range=None)
        senders = normalize_accounts(accounts)
        return self._fetch_transactional(start, end, senders)

    def _fetch_transactional(self, start: int, end: int, accounts: list[str] | None) -> Flow[dict[str, Any]]:
        windows = split_windows(start, end)
        payloads = []
        for a, b in windows:
            body: dict[str, Any] = {"start_time": a, "end_time": b}
            if accounts:
                body["accounts"] = accounts
            response = yield Call("POST", TRANSACTIONAL_PATH, json=body)
            payloads.append(response.body)
        return transactional_result(start, end, windows, payloads, accounts)

    # ------------------------------------------------------------------ connection test

    def explain_denied(self, exc: PermissionDenied) -> str:
        if exc.vendor_code == "1088":
            return (
                "Insider refused this worker's IP address (code 1088): it is not on the API allow-list. "
                "Add this worker's egress (public) IP address to the allow-list in Insider's console."
            )
        if exc.vendor_code == "3007":
            return (
                "The credentials work, but the WhatsApp product is not active for this Insider partner "
                "(code 3007); ask Insider to enable it."
            )
        return super().explain_denied(exc)


def _optional_time(value: Any, field_name: str) -> int | None:
    if value is None or value == "":
        return None
    return to_unix(value, field_name)


class InsiderOAuthHook(InsiderHook):
    """Insider One via the OAuth2 gateway (client credentials → ``Authorization: Bearer``).

    Extras: ``token_url`` (default ``<host>/auth/token``), ``scopes`` (JSON list or space/comma
    separated; default ``wa-stats-api``). Campaign stats only: the gateway documents no
    transactional endpoint, so :meth:`get_transactional_stats` raises ``UnsupportedOperation``.
    """

    conn_type = "insider_whatsapp_oauth"
    default_conn_name = "insider_whatsapp_oauth_default"
    hook_name = "Insider One WhatsApp (OAuth2 client credentials)"
    campaign_stats_path: ClassVar[str] = OAUTH_CAMPAIGN_PATH
    supports_transactional: ClassVar[bool] = False

    def build_auth(self, config: ConnectionConfig) -> Auth:
        client_id = config.require(config.login, "login (client ID)", "OAuth client ID")
        secret = config.require(config.password, "password (client secret)", "OAuth client secret")
        token_url = str(config.get_extra("token_url") or f"{config.base_url}/auth/token").strip()
        if token_url.startswith("/"):
            token_url = f"{config.base_url}{token_url}"
        _check_token_url(config, token_url)
        return InsiderOAuthAuth(token_url, client_id, secret, parse_scopes(config.get_extra("scopes")))


def _check_token_url(config: ConnectionConfig, token_url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(token_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"Connection {config.conn_id!r}: extra token_url must be an http(s) URL, got {token_url!r}", vendor=VENDOR
        )
    if parts.scheme == "http" and not (config.allow_insecure or is_loopback(parts.hostname)):
        raise ValidationError(
            f"Connection {config.conn_id!r}: refusing plain http:// token_url to {parts.hostname}; the client "
            "secret would cross the network unencrypted. Use https:// (or extra allow_insecure=true).",
            vendor=VENDOR,
        )


__all__ = [
    "INSIDER_ERRORS",
    "INSIDER_STATS",
    "InsiderHook",
    "InsiderOAuthAuth",
    "InsiderOAuthHook",
    "clear_token_cache",
    "insider_failed",
    "insider_settled",
    "merge_transactional",
    "split_windows",
    "stats_from_payload",
    "to_unix",
]
