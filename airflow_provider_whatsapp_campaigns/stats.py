"""The normalized campaign stats every operator pushes to XCom, whatever the vendor."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @classmethod
    def from_vendor(cls, word: Any, table: Mapping[str, CampaignStatus]) -> CampaignStatus:
        """Map a vendor's status word through its table; words we do not know are ``UNKNOWN``."""
        if word is None:
            return cls.UNKNOWN
        return table.get(str(word).strip().lower(), cls.UNKNOWN)


TERMINAL_STATUSES = frozenset({CampaignStatus.COMPLETED, CampaignStatus.CANCELLED, CampaignStatus.FAILED})

COUNTERS = ("total", "sent", "delivered", "read", "clicked", "replied", "failed", "pending")
RATES = ("delivery_rate", "read_rate", "click_rate", "failure_rate")
# rate name -> (numerator, denominator); one definition for every vendor.
RATE_DEFINITIONS: dict[str, tuple[str, str]] = {
    "delivery_rate": ("delivered", "sent"),
    "read_rate": ("read", "delivered"),
    "click_rate": ("clicked", "delivered"),
    "failure_rate": ("failed", "total"),
}


#: Larger counts are not real campaigns, and not exact in JSON consumers (2**53 - 1).
MAX_COUNT = 2**53 - 1
#: Key in ``details`` naming each field the vendor sent but no one could read.
UNREADABLE = "unreadable"


def to_count(value: Any) -> int | None:
    """Vendors send counters as ints, floats, numeric strings or null; anything else is unknown.

    Negative, non-finite and absurdly large values are unknown too: ``None``, never a made-up number.
    """
    if type(value) is int:
        return value if 0 <= value <= MAX_COUNT else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, float):
        if not math.isfinite(value) or not 0 <= value <= MAX_COUNT:
            return None
        return int(value)
    return None


def ratio(numerator: int | None, denominator: int | None) -> float | None:
    """``numerator / denominator`` in [0, 1]; None when either side is unknown or the denominator is 0.

    Vendors' counters are not always consistent (e.g. delivered momentarily above sent); the
    rate is capped at 1 rather than reporting an impossible value.
    """
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return min(1.0, max(0.0, numerator / denominator))


def to_iso_utc(value: Any) -> str | None:
    """ISO-8601 UTC from an ISO string, a datetime or Unix seconds/milliseconds.

    ``None`` when unparseable or out of range (``10**20``, NaN, infinity, year 10000 after the
    UTC shift): the platform's date functions raise three different errors for those.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return _iso_utc(value)
    except (ValueError, OverflowError, OSError):
        return None


def _iso_utc(value: Any) -> str | None:
    dt: datetime | None = None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)):
        seconds = float(value) / 1000 if value > 10**11 else float(value)
        dt = datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            if text.isdigit():
                return _iso_utc(int(text))
            return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def _text(value: Any) -> str | None:
    """A vendor's name or status word as text; numbers are written out, anything else is unknown."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)  # math.isfinite(10**400) would raise OverflowError
    return None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


#: What :class:`CampaignStats` normalizes, how, and what a value must be (for the unreadable note).
_NORMALIZED_FIELDS: tuple[tuple[str, Callable[[Any], Any], str], ...] = (
    *((name, to_count, "a count") for name in COUNTERS),
    ("started_at", to_iso_utc, "a timestamp"),
    ("completed_at", to_iso_utc, "a timestamp"),
    ("name", _text, "text"),
    ("vendor_status", _text, "text"),
)


@dataclass(frozen=True)
class CampaignStats:
    """One vendor-neutral snapshot of a campaign. ``None`` means "the vendor does not report it"."""

    provider: str
    campaign_id: str
    status: CampaignStatus = CampaignStatus.UNKNOWN
    vendor_status: str | None = None
    name: str | None = None
    total: int | None = None
    sent: int | None = None
    delivered: int | None = None
    read: int | None = None
    clicked: int | None = None
    replied: int | None = None
    failed: int | None = None
    pending: int | None = None
    started_at: str | None = None
    completed_at: str | None = None
    fetched_at: str = field(default_factory=_now_iso)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._normalize(None)

    def _normalize(self, names: Collection[str] | None) -> None:
        """Make every field (or only ``names``) obey the schema; a value the vendor sent that cannot be
        read becomes None and is named in details["unreadable"].

        A value already in shape comes back as itself and is left alone: every poll of a wait builds
        stats and replaces some of them, and re-setting every field twice per poll was measurable.
        """
        if (names is None or "campaign_id" in names) and type(self.campaign_id) is not str:
            object.__setattr__(self, "campaign_id", str(self.campaign_id))
        if (names is None or "status" in names) and not isinstance(self.status, CampaignStatus):
            object.__setattr__(self, "status", CampaignStatus(self.status))
        unreadable: dict[str, str] = {}
        for name, normalize, kind in _NORMALIZED_FIELDS:
            if names is not None and name not in names:
                continue
            raw = getattr(self, name)
            value = normalize(raw)
            if value is raw:
                continue
            if raw is not None and raw != "" and value is None:
                unreadable[name] = f"the vendor sent a {type(raw).__name__} that is not {kind} (out of range or malformed)"
            object.__setattr__(self, name, value)
        if unreadable:
            details = dict(self.details)
            details[UNREADABLE] = {**details.get(UNREADABLE, {}), **unreadable}
            object.__setattr__(self, "details", details)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def rate(self, name: str) -> float | None:
        numerator, denominator = RATE_DEFINITIONS[name]
        return ratio(getattr(self, numerator), getattr(self, denominator))

    @property
    def delivery_rate(self) -> float | None:
        return self.rate("delivery_rate")

    @property
    def read_rate(self) -> float | None:
        return self.rate("read_rate")

    @property
    def click_rate(self) -> float | None:
        return self.rate("click_rate")

    @property
    def failure_rate(self) -> float | None:
        return self.rate("failure_rate")

    def counters(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in COUNTERS}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON with stable keys: what goes to XCom."""
        return {
            "provider": self.provider,
            "campaign_id": self.campaign_id,
            "name": self.name,
            "status": self.status.value,
            "vendor_status": self.vendor_status,
            "is_terminal": self.is_terminal,
            **self.counters(),
            **{name: self.rate(name) for name in RATES},
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "fetched_at": self.fetched_at,
            "details": _json_safe(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CampaignStats:
        """Inverse of :meth:`to_dict` (derived keys are recomputed, not trusted)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["status"] = CampaignStatus(data.get("status", "unknown"))
        kwargs["details"] = dict(data.get("details") or {})
        return cls(**kwargs)

    def replace(self, **changes: Any) -> CampaignStats:
        """A copy with ``changes``; only the changed fields are normalized (the others already are)."""
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"CampaignStats has no field {sorted(unknown)[0]!r}")
        changed = copy.copy(self)
        for name, value in changes.items():
            object.__setattr__(changed, name, value)
        changed._normalize(changes)
        return changed


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(CampaignStats))


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return to_iso_utc(value)
    return str(value)


@dataclass(frozen=True)
class StatsMapping:
    """A vendor's mapping table: which vendor field feeds which normalized field.

    ``fields`` maps a normalized name to a dotted path (or a tuple of alternatives, the first
    present wins) in the vendor payload; ``details`` lists vendor extras copied untouched.
    """

    provider: str
    statuses: Mapping[str, CampaignStatus]
    fields: Mapping[str, str | tuple[str, ...]]
    details: tuple[str, ...] = ()

    def build(self, payload: Any, *, campaign_id: Any, **overrides: Any) -> CampaignStats:
        """Stats from the vendor's campaign object; any other answer is an :class:`UnexpectedResponse`."""
        if not isinstance(payload, Mapping):
            raise UnexpectedResponse(
                f"{self.provider} answered with {describe_kind(payload)} where campaign statistics "
                "(a JSON object) were expected",
                vendor=self.provider,
            )
        values: dict[str, Any] = {}
        for target, paths in self.fields.items():
            values[target] = lookup(payload, paths)
        vendor_status = values.pop("status", None)
        details = {key: payload[key] for key in self.details if payload.get(key) is not None}
        vendor_id = values.pop("campaign_id", None)
        kwargs: dict[str, Any] = {
            "provider": self.provider,
            "campaign_id": vendor_id if _text(vendor_id) else campaign_id,
            "vendor_status": vendor_status,
            "status": CampaignStatus.from_vendor(vendor_status, self.statuses),
            "details": details,
            **values,
        }
        kwargs.update(overrides)
        return CampaignStats(**kwargs)


_MISSING = object()


def describe_kind(value: Any) -> str:
    """What a JSON answer is, in words, without quoting any of it (it may echo a credential)."""
    if value is None or value == "":
        return "an empty body"
    if isinstance(value, str):
        return "text that is not JSON"
    return {list: "a JSON list", bool: "a JSON boolean", int: "a JSON number", float: "a JSON number"}.get(
        type(value), f"a {type(value).__name__}"
    )


def lookup(payload: Any, paths: str | tuple[str, ...]) -> Any:
    """First non-null value among dotted ``paths`` in nested dicts."""
    for path in (paths,) if isinstance(paths, str) else paths:
        node: Any = payload
        for part in path.split("."):
            node = node.get(part, _MISSING) if type(node) is dict or isinstance(node, Mapping) else _MISSING
            if node is _MISSING:
                break
        if node is not _MISSING and node is not None:
            return node
    return None
