"""Consecutive scheduled runs of InsiderTransactionalStatsOperator partition time: no day missed, none twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from airflow_provider_whatsapp_campaigns.operators.insider import InsiderTransactionalStatsOperator


def scheduled_intervals(cron: str, first: datetime, runs: int) -> list[tuple[datetime, datetime]]:
    """The data intervals Airflow's own timetable gives ``runs`` consecutive scheduled runs."""
    from airflow.timetables.base import DataInterval, TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable(cron, timezone="UTC")
    restriction = TimeRestriction(earliest=first, latest=None, catchup=True)
    intervals: list[tuple[datetime, datetime]] = []
    last: DataInterval | None = None
    for _ in range(runs):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None
        last = info.data_interval
        intervals.append((last.start, last.end))
    return intervals


@pytest.mark.parametrize(
    ("cron", "first", "runs"),
    [
        ("@daily", datetime(2025, 1, 1, tzinfo=UTC), 31),  # a month of daily runs, into February
        ("@yearly", datetime(2023, 1, 1, tzinfo=UTC), 3),  # 2024 has 366 days: split into two requests
    ],
    ids=["daily-over-a-month", "yearly-over-the-one-year-split"],
)
def test_consecutive_runs_count_every_day_once(sandbox, sandbox_conns, cron, first, runs):
    intervals = scheduled_intervals(cron, first, runs)
    assert all(a[1] == b[0] for a, b in pairwise(intervals)), "Airflow's own partition"
    days: Counter[str] = Counter()
    sent = 0
    windows = []
    for start, end in intervals:
        op = InsiderTransactionalStatsOperator(
            task_id="tx", conn_id="insider_whatsapp_default", start_time=str(start), end_time=str(end)
        )
        result = op.execute({})
        days.update(result["chart"]["dates"])
        sent += result["sent"]
        windows.append(result["windows"])
    span_start, span_end = intervals[0][0], intervals[-1][1]
    expected_days = [(span_start + timedelta(days=i)).date().isoformat() for i in range((span_end - span_start).days)]
    assert sorted(days) == expected_days, "no day missing, none extra"
    assert set(days.values()) == {1}, f"days counted twice: {[d for d, n in days.items() if n > 1]}"
    whole = sandbox.admin.transactional_total(int(span_start.timestamp()), int(span_end.timestamp()) - 1)
    assert sent == whole["sent"]
    if cron == "@yearly":
        assert windows == [1, 2, 1], "the leap year 2024 is fetched as two ≤ 1-year windows"
