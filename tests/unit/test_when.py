"""core/engine/when.py: catch-up occurrences and backfill ranges, on the daylight-saving nights that matter.
New York: clocks spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) and fall back
2026-11-01 02:00 EDT -> 01:00 EST (06:00Z)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.engine.timing import TimingError
from core.engine.when import (MAX_CATCHUP_RUNS, catchup_occurrences, next_dispatch, occurrences_between, validate_controls,
                       window_offset)

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


def test_a_window_offset_is_fixed_per_schedule_and_occurrence_and_inside_the_window():
    occurrence = utc(2026, 3, 9, 13)
    offsets = {window_offset("a", occurrence, 900, occurrence + timedelta(days=7)) for _ in range(3)}
    assert len(offsets) == 1 and 0 <= offsets.pop() < 900
    assert window_offset("a", occurrence, 900, None) == window_offset("a", occurrence, 900, utc(2026, 4, 1))
    many = [window_offset(f"schedule-{n}", occurrence, 900, None) for n in range(4000)]
    # Spread evenly: every minute of the 15 gets about a fifteenth of 4,000 schedules.
    per_minute = [sum(1 for o in many if o // 60 == m) for m in range(15)]
    assert min(per_minute) > 200 and max(per_minute) < 340, per_minute
    assert len({window_offset("a", occurrence + timedelta(days=d), 900, None) for d in range(20)}) > 10


def test_a_window_wider_than_the_gap_to_the_next_occurrence_stays_before_it():
    fields = {"id": "s", "cadence": "cron", "cron_expression": "*/5 * * * *", "timezone": "UTC",
              "window_seconds": 3600}
    after = utc(2026, 3, 9, 13)
    for _ in range(200):
        occurrence, dispatch = next_dispatch(fields, after)
        assert occurrence <= dispatch < occurrence + timedelta(minutes=5)
        after = occurrence
    assert window_offset("s", utc(2026, 1, 1), 3600, utc(2026, 1, 1, 0, 0, 1)) == 0  # one second apart


def test_without_a_window_the_dispatch_is_the_occurrence():
    assert next_dispatch(daily(9, 0), utc(2026, 3, 9)) == (utc(2026, 3, 9, 13), utc(2026, 3, 9, 13))
