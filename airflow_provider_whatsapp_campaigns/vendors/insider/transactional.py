"""Insider transactional statistics: per-window answers merged into one result."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.phones import mask_phone
from airflow_provider_whatsapp_campaigns.recipients import normalize_recipients
from airflow_provider_whatsapp_campaigns.stats import ratio, to_count
from airflow_provider_whatsapp_campaigns.vendors.insider.ranges import iso_utc
from airflow_provider_whatsapp_campaigns.vendors.insider.tables import (
    COUNTER_FIELDS,
    DETAIL_DICTS,
    VENDOR,
    count_dict,
    counter_value,
    insider_failed,
    unwrap,
)

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
        values = [v for v in (counter_value(name, f.get(name)) for f in flats) if v is not None]
        merged[name] = _sum(values) if values else None
    for name in DETAIL_DICTS:
        dicts = [d for d in (count_dict(f.get(name)) for f in flats) if d is not None]
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
                value = counter_value(name, values[index]) if isinstance(values, list) and index < len(values) else None
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
        "start_time": iso_utc(start),
        "end_time": iso_utc(end),
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
    found = normalize_recipients(str(value) for value in accounts)
    if found.invalid_count:
        raise ValidationError(
            f"{found.invalid_count} invalid sender phone number(s) in accounts, nothing was sent: "
            f"{found.describe_invalid()}",
            vendor=VENDOR,
        )
    return [r.phone for r in found.valid] or None
