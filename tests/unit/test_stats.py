"""CampaignStats: rates computed one way, never a made-up number, plain JSON out."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_whatsapp_campaigns.stats import (
    RATES,
    UNREADABLE,
    CampaignStats,
    CampaignStatus,
    StatsMapping,
    lookup,
    ratio,
    to_count,
    to_iso_utc,
)

counter = st.one_of(st.none(), st.just(0), st.integers(min_value=0, max_value=10**12))
vendorish = st.one_of(
    counter,
    st.integers(min_value=-5, max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.integers(min_value=0, max_value=10**6).map(str),
)


@given(
    total=vendorish,
    sent=vendorish,
    delivered=vendorish,
    read=vendorish,
    clicked=vendorish,
    replied=vendorish,
    failed=vendorish,
    pending=vendorish,
)
def test_any_counters_give_bounded_rates_and_json(total, sent, delivered, read, clicked, replied, failed, pending):
    stats = CampaignStats(
        provider="x",
        campaign_id=1,
        total=total,
        sent=sent,
        delivered=delivered,
        read=read,
        clicked=clicked,
        replied=replied,
        failed=failed,
        pending=pending,
    )
    out = stats.to_dict()
    for name in RATES:
        assert out[name] is None or 0.0 <= out[name] <= 1.0
    for name in ("total", "sent", "delivered", "read", "clicked", "replied", "failed", "pending"):
        assert out[name] is None or (isinstance(out[name], int) and out[name] >= 0)
    again = json.loads(json.dumps(out, allow_nan=False))
    assert again == out
    assert CampaignStats.from_dict(again).to_dict() == out


@given(sent=st.integers(0, 10**9), delivered=st.integers(0, 10**9))
def test_delivery_rate_definition(sent, delivered):
    stats = CampaignStats(provider="x", campaign_id="1", sent=sent, delivered=delivered)
    if sent == 0:
        assert stats.delivery_rate is None
    else:
        assert stats.delivery_rate == min(1.0, delivered / sent)


def test_unknown_is_never_zero():
    stats = CampaignStats(provider="waplify", campaign_id="7", sent=10)
    out = stats.to_dict()
    assert out["delivered"] is None
    assert out["delivery_rate"] is None
    assert out["read_rate"] is None
    assert out["failure_rate"] is None


def test_zero_denominator_gives_none():
    assert ratio(0, 0) is None
    assert ratio(5, None) is None
    assert ratio(None, 5) is None
    assert ratio(3, 4) == 0.75


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("12", 12),
        (" 7 ", 7),
        (3.9, 3),
        ("4.0", 4),
        ("", None),
        ("n/a", None),
        (-1, None),
        (True, None),
        (float("nan"), None),
        ([], None),
    ],
)
def test_to_count(value, expected):
    assert to_count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00+00:00"),
        ("2024-05-01 10:00:00", "2024-05-01T10:00:00+00:00"),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00+00:00"),
        (1714557600, "2024-05-01T10:00:00+00:00"),
        (1714557600000, "2024-05-01T10:00:00+00:00"),
        ("1714557600", "2024-05-01T10:00:00+00:00"),
        ("garbage", None),
        (None, None),
    ],
)
def test_timestamps_are_iso_utc(value, expected):
    assert to_iso_utc(value) == expected


def test_status_helpers():
    table = {"processing": CampaignStatus.RUNNING}
    assert CampaignStatus.from_vendor("Processing ", table) is CampaignStatus.RUNNING
    assert CampaignStatus.from_vendor("exploded", table) is CampaignStatus.UNKNOWN
    assert CampaignStatus.from_vendor(None, table) is CampaignStatus.UNKNOWN
    assert {s for s in CampaignStatus if s.is_terminal} == {
        CampaignStatus.COMPLETED,
        CampaignStatus.CANCELLED,
        CampaignStatus.FAILED,
    }


def test_mapping_table_keeps_vendor_status_and_details():
    mapping = StatsMapping(
        provider="acme",
        statuses={"done": CampaignStatus.COMPLETED},
        fields={"status": "state", "sent": ("counts.sent", "sent_total"), "name": "title"},
        details=("cost",),
    )
    stats = mapping.build({"state": "DONE", "sent_total": "5", "title": "T", "cost": 1.5}, campaign_id=9)
    assert stats.status is CampaignStatus.COMPLETED
    assert stats.vendor_status == "DONE"
    assert stats.sent == 5
    assert stats.details == {"cost": 1.5}
    assert stats.is_terminal
    assert stats.to_dict()["campaign_id"] == "9"


def test_lookup_paths():
    payload = {"a": {"b": None, "c": 2}, "d": 0}
    assert lookup(payload, ("a.b", "a.c")) == 2
    assert lookup(payload, "d") == 0
    assert lookup(payload, "x.y") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Spring", "Spring"), (None, None), (2026, "2026"), (1.5, "1.5"), ({"a": 1}, None), (["x"], None), (True, None)],
)
def test_name_is_text_or_none_so_to_dict_stays_plain_json(name, expected):
    stats = CampaignStats(provider="x", campaign_id="1", name=name)
    assert stats.name == expected
    assert json.loads(json.dumps(stats.to_dict()))["name"] == expected


def test_replace_normalizes_what_it_changes_and_keeps_the_rest():
    """replace() re-checks only the changed fields (the others already obey the schema): same rules as a new instance."""
    stats = CampaignStats(provider="acme", campaign_id=7, sent="10", started_at="2024-01-02T03:04:05Z", details={"a": 1})
    changed = stats.replace(delivered="4", failed=-1, completed_at=1_704_164_645, details={**stats.details, "b": 2})
    assert (changed.campaign_id, changed.sent, changed.started_at) == ("7", 10, "2024-01-02T03:04:05+00:00")
    assert (changed.delivered, changed.failed, changed.completed_at) == (4, None, "2024-01-02T03:04:05+00:00")
    assert changed.details["b"] == 2 and "failed" in changed.details[UNREADABLE]
    assert changed.fetched_at == stats.fetched_at
    assert (stats.delivered, stats.failed, stats.details) == (None, None, {"a": 1}), "the original is untouched"
    assert changed == CampaignStats(**{**stats.__dict__, "delivered": "4", "failed": -1,
                                       "completed_at": 1_704_164_645, "details": {**stats.details, "b": 2}})
    with pytest.raises(TypeError, match="no field 'sent_count'"):
        stats.replace(sent_count=1)
