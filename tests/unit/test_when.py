"""core/when.py: catch-up occurrences and backfill ranges, on the daylight-saving nights that matter.
New York: clocks spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) and fall back
2026-11-01 02:00 EDT -> 01:00 EST (06:00Z)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.timing import TimingError
from core.when import MAX_CATCHUP_RUNS, catchup_occurrences, occurrences_between, validate_controls

NY = "America/New_York"


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def daily(hour, minute, **more):
    return {"cadence": "daily", "send_hour": hour, "send_minute": minute, "timezone": NY, **more}


def test_catchup_all_over_the_fall_back_night_runs_each_day_once():
    fields = daily(1, 30, catchup="all", catchup_window_seconds=7 * 86400)
    # Down from before 10-31 01:30 EDT until 11-03 12:00Z; 11-01 01:30 happens twice, runs once (EDT).
    runs = catchup_occurrences(fields, utc(2026, 10, 31, 5, 30), utc(2026, 11, 3, 12))
    assert runs == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30),
                    utc(2026, 11, 3, 6, 30)]


def test_catchup_all_of_a_wildcard_rule_over_the_fall_back_night_runs_both_repeated_times_once_each():
    fields = {"cadence": "cron", "cron_expression": "30 * * * *", "timezone": NY, "catchup": "all",
              "catchup_window_seconds": 86400}
    runs = catchup_occurrences(fields, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7, 0))
    # 00:30 EDT, 01:30 EDT, 01:30 EST (02:30 EST is 07:30Z, after now)
    assert runs == [utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)]
    assert len(set(runs)) == len(runs)


def test_catchup_all_over_the_spring_forward_night_runs_the_skipped_time_at_the_end_of_the_gap():
    fields = daily(2, 30, catchup="all", catchup_window_seconds=7 * 86400)
    runs = catchup_occurrences(fields, utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 12))
    assert runs == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]


def test_catchup_all_keeps_only_the_window():
    fields = daily(9, 0, catchup="all", catchup_window_seconds=2 * 86400)
    runs = catchup_occurrences(fields, utc(2026, 4, 1, 13), utc(2026, 4, 10, 12))
    assert runs == [utc(2026, 4, 8, 13), utc(2026, 4, 9, 13)]
    assert catchup_occurrences({**fields, "catchup_window_seconds": 3600}, utc(2026, 4, 1, 13),
                               utc(2026, 4, 10, 12)) == []  # none inside: the caller runs the latest


def test_catchup_all_is_bounded():
    fields = {"cadence": "cron", "cron_expression": "* * * * *", "timezone": "UTC", "catchup": "all",
              "catchup_window_seconds": 31 * 86400}
    runs = catchup_occurrences(fields, utc(2026, 1, 1), utc(2026, 1, 2))
    assert len(runs) == MAX_CATCHUP_RUNS and runs[-1] == utc(2026, 1, 2)  # the newest are kept


def test_catchup_all_needs_a_window():
    with pytest.raises(TimingError) as refused:
        validate_controls(daily(9, 0, catchup="all"))
    assert refused.value.field == "catchup_window_seconds"
    validate_controls(daily(9, 0))


def test_occurrences_between_includes_both_ends_and_follows_the_spring_forward_gap():
    runs = occurrences_between(daily(2, 30), utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30), 10)
    assert runs == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]


def test_occurrences_between_an_empty_range_and_past_the_limit():
    # 03-07 09:00 EST is 14:00Z, 03-08 09:00 EDT is 13:00Z: nothing strictly between them.
    assert occurrences_between(daily(9, 0), utc(2026, 3, 7, 14, 0, 1), utc(2026, 3, 8, 12, 59), 10) == []
    many = occurrences_between({"cadence": "hourly", "send_minute": 0}, utc(2026, 1, 1), utc(2026, 3, 1), 5)
    assert len(many) == 6  # limit + 1: the caller can tell "too many"
    assert many[0] == utc(2026, 1, 1) and many[-1] == utc(2026, 1, 1) + timedelta(hours=5)
