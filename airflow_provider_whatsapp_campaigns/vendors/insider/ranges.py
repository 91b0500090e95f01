"""Insider's time rules: Unix seconds, ranges from 2018 of at most a year, splitting longer ones."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.vendors.insider.tables import VENDOR

DAY = 86_400
#: 2018-01-01T00:00:00Z: Insider's lower bound for statistics windows (the default start).
INSIDER_EPOCH = 1_514_764_800
#: "At most one year": 365 days exactly (``end - start <= MAX_RANGE``), safe in leap years too.
MAX_RANGE = 365 * DAY


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


def iso_utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def check_range(start: int | None, end: int | None, *, max_range: int | None = MAX_RANGE) -> None:
    """Insider's rules, checked before any request: start ≥ 2018-01-01, end > start, span ≤ 1 year."""
    if start is not None and start < INSIDER_EPOCH:
        raise ValidationError(
            f"start_time {iso_utc(start)} is before 2018-01-01T00:00:00Z, Insider's earliest statistics date",
            vendor=VENDOR,
        )
    if end is not None and end <= INSIDER_EPOCH and start is None:
        raise ValidationError(f"end_time {iso_utc(end)} must be after 2018-01-01T00:00:00Z", vendor=VENDOR)
    if start is not None and end is not None:
        if end <= start:
            raise ValidationError(
                f"end_time ({iso_utc(end)}) must be after start_time ({iso_utc(start)})", vendor=VENDOR
            )
        if max_range is not None and end - start > max_range:
            raise ValidationError(
                f"the range {iso_utc(start)} → {iso_utc(end)} is longer than one year ({max_range // DAY} days), "
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
        raise ValidationError(f"end_time ({iso_utc(end)}) must be after start_time ({iso_utc(start)})", vendor=VENDOR)
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
