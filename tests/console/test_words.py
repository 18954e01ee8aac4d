"""The console's words for schedules: cadences as sentences, relative times, and the notes on runs
daylight saving moved, worded from the engine's reasons (core/engine/explain.py).

The DST instants are New York's 2026 transitions: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) and
2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api.console import words
from core.engine.explain import explained_runs

NY = "America/New_York"
UTC = timezone.utc


@pytest.mark.parametrize("fields, sentence", [
    ({"cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "send_minute": 0, "timezone": NY},
     "Every Monday at 09:00, America/New_York"),
    ({"cadence": "biweekly", "weekly_dow": 5, "send_hour": 17, "send_minute": 30, "timezone": "UTC"},
     "Every other Friday at 17:30, UTC"),
    ({"cadence": "daily", "send_hour": 2, "send_minute": 30, "timezone": NY}, "Every day at 02:30, America/New_York"),
    ({"cadence": "hourly", "send_minute": 15, "timezone": "UTC"}, "Every hour at minute 15, UTC"),
    ({"cadence": "monthly", "monthly_dom": -1, "send_hour": 8, "send_minute": 0, "timezone": "UTC"},
     "Monthly on the last day at 08:00, UTC"),
    ({"cadence": "monthly", "monthly_dom": 1, "timezone": "UTC"}, "Monthly on the 1st at 09:00, UTC"),
    ({"cadence": "interval", "interval_seconds": 7200, "timezone": "UTC"}, "Every 2 hours, UTC"),
    ({"cadence": "cron", "cron_expression": "*/2 * * * *", "timezone": NY},
     "Every 2 minutes (cron */2 * * * *), America/New_York"),
    ({"cadence": "cron", "cron_expression": "30 2 * * *", "timezone": NY},
     "Every day at 02:30 (cron 30 2 * * *), America/New_York"),
    ({"cadence": "cron", "cron_expression": "0 9 * * 1-5", "timezone": "UTC"}, "Cron 0 9 * * 1-5, UTC"),
    ({"cadence": "once", "start_at": datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "timezone": NY},
     "Once, on 2026-03-08 at 03:00, America/New_York"),
])
def test_cadences_read_as_sentences(fields, sentence):
    assert words.cadence_in_words(fields) == sentence


def test_relative_times():
    now = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert words.relative(now + timedelta(seconds=20), now) == "now"
    assert words.relative(now + timedelta(minutes=5), now) == "in 5 minutes"
    assert words.relative(now - timedelta(hours=3), now) == "3 hours ago"
    assert words.relative(now + timedelta(days=1), now) == "in 1 day"


def notes(schedule, after: datetime, count: int) -> dict[str, str | None]:
    """{run (UTC, RFC 3339): its note} for the schedule's next `count` runs after `after`."""
    return {run["at"]: run["note"] for run in words.upcoming(schedule, explained_runs(schedule, after, count), after)}


def test_spring_forward_marks_the_run_moved_out_of_the_gap():
    schedule = {"cadence": "daily", "send_hour": 2, "send_minute": 30, "timezone": NY}
    runs = words.upcoming(schedule, explained_runs(schedule, datetime(2026, 3, 6, tzinfo=UTC), 3),
                          datetime(2026, 3, 6, tzinfo=UTC))
    assert [run["at"] for run in runs] == ["2026-03-06T07:30:00Z", "2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z"]
    assert [run["note"] for run in runs] == [
        None, None, "02:30 does not exist on 8 March (clocks go forward); runs at 03:00 EDT"]
    assert runs[2]["local"] == "Sun 2026-03-08 03:00 EDT"


def test_a_run_at_the_gaps_end_by_its_own_rule_is_not_marked():
    schedule = {"cadence": "daily", "send_hour": 3, "send_minute": 0, "timezone": NY}
    assert notes(schedule, datetime(2026, 3, 8, tzinfo=UTC), 1) == {"2026-03-08T07:00:00Z": None}


def test_cron_rules_in_the_gap_are_marked_too():
    schedule = {"cadence": "cron", "cron_expression": "30 2 * * *", "timezone": NY}
    assert notes(schedule, datetime(2026, 3, 8, tzinfo=UTC), 1) == {
        "2026-03-08T07:00:00Z": "02:30 does not exist on 8 March (clocks go forward); runs at 03:00 EDT"}


def test_a_gap_across_midnight_names_the_day_the_time_did_not_exist():
    schedule = {"cadence": "daily", "send_hour": 23, "send_minute": 30, "timezone": "Asia/Dhaka"}
    assert notes(schedule, datetime(2009, 6, 19, tzinfo=UTC), 1) == {
        "2009-06-19T17:00:00Z": "23:30 does not exist on 19 June (clocks go forward); runs at 00:00 +07"}


def test_fall_back_fixed_time_runs_once_at_the_first():
    schedule = {"cadence": "daily", "send_hour": 1, "send_minute": 30, "timezone": NY}
    assert notes(schedule, datetime(2026, 11, 1, 4, 0, tzinfo=UTC), 1) == {
        "2026-11-01T05:30:00Z": "01:30 happens twice on 1 November (clocks go back); runs once, at the first (EDT)"}


def test_fall_back_wildcard_runs_at_both_and_says_which():
    schedule = {"cadence": "hourly", "send_minute": 30, "timezone": NY}
    assert list(notes(schedule, datetime(2026, 11, 1, 5, 0, tzinfo=UTC), 2).values()) == [
        "01:30 happens twice on 1 November (clocks go back); this is the first (EDT)",
        "01:30 happens twice on 1 November (clocks go back); this is the second (EST)"]


def test_interval_and_ordinary_runs_have_no_note():
    assert notes({"cadence": "interval", "interval_seconds": 3600, "timezone": NY,
                  "start_at": datetime(2026, 3, 8, 5, tzinfo=UTC)}, datetime(2026, 3, 8, 6, tzinfo=UTC), 2) == {
        "2026-03-08T07:00:00Z": None, "2026-03-08T08:00:00Z": None}
    assert notes({"cadence": "daily", "send_hour": 9, "send_minute": 0, "timezone": NY},
                 datetime(2026, 3, 9, tzinfo=UTC), 1) == {"2026-03-09T13:00:00Z": None}


def test_reasons_other_than_daylight_savings_get_no_note():
    schedule = {"cadence": "monthly", "monthly_dom": 31, "timezone": "UTC"}
    [run] = explained_runs(schedule, datetime(2026, 4, 1, tzinfo=UTC), 1)
    assert [reason["code"] for reason in run["reasons"]] == ["month_end"]
    assert words.dst_note(run["reasons"], run["at"], "UTC") is None


def test_a_skipped_day_is_noted():
    """Pacific/Apia skipped 30 December 2011: the console says so, not '00:00 does not exist'."""
    fields = {"cadence": "cron", "cron_expression": "0 0 30 12 *", "timezone": "Pacific/Apia"}
    assert notes(fields, datetime(2011, 12, 1, tzinfo=UTC), 1) == {  # 31 December 00:00 +14
        "2011-12-30T10:00:00Z": "30 December does not exist (the clocks skipped the whole day); "
                                "runs at 00:00 +14 on 31 December"}


def test_monthly_by_weekday_in_words():
    assert words.cadence_in_words({"cadence": "monthly", "monthly_week": 1, "monthly_dow": 1, "send_hour": 9,
                                   "send_minute": 0, "timezone": NY}) == "Monthly on the 1st Monday at 09:00, " + NY
    assert words.cadence_in_words({"cadence": "monthly", "monthly_week": -1, "monthly_dow": 5,
                                   "timezone": "UTC"}).startswith("Monthly on the last Friday")
