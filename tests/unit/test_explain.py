"""core/engine/explain.py: each previewed run says why it is where it is when that is not a plain match.
New York: spring forward 2026-03-08 (02:00 EST -> 03:00 EDT, 07:00Z), fall back 2026-11-01
(02:00 EDT -> 01:00 EST, 06:00Z)."""
from __future__ import annotations

from datetime import datetime, timezone

from core.engine.explain import explained_runs

NY = "America/New_York"


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def codes(runs):
    return [[r["code"] for r in run["reasons"]] for run in runs]


def test_a_plain_match_has_no_reason():
    runs = explained_runs({"cadence": "daily", "timezone": NY}, utc(2026, 4, 1), 2)
    assert codes(runs) == [[], []] and runs[0]["dispatch_at"] == runs[0]["at"]


def test_a_run_moved_to_the_end_of_the_spring_forward_gap_says_so():
    runs = explained_runs({"cadence": "cron", "cron_expression": "30 2 * * *", "timezone": NY}, utc(2026, 3, 7), 3)
    assert [r["at"] for r in runs] == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]
    assert codes(runs) == [[], ["spring_forward"], []]
    assert "02:00 EST to 03:00 EDT" in runs[1]["reasons"][0]["detail"]


def test_daylight_saving_reasons_carry_the_facts_the_console_words():
    """api/console/words.py words these reasons: the wall time the gap swallowed, the kind of rule."""
    cron = explained_runs({"cadence": "cron", "cron_expression": "15,45 1-3 * * *", "timezone": NY},
                          utc(2026, 3, 8, 6, 50), 1)
    assert cron[0]["at"] == utc(2026, 3, 8, 7) and cron[0]["reasons"][0]["wall"] == datetime(2026, 3, 8, 2, 15)
    fixed = explained_runs({"cadence": "daily", "send_hour": 1, "send_minute": 30, "timezone": NY},
                           utc(2026, 10, 31, 12), 1)
    wildcard = explained_runs({"cadence": "hourly", "send_minute": 30, "timezone": NY}, utc(2026, 11, 1, 5), 1)
    assert [fixed[0]["reasons"][0]["wildcard"], wildcard[0]["reasons"][0]["wildcard"]] == [False, True]


def test_a_rule_at_03_00_on_the_spring_forward_day_is_a_plain_match():
    runs = explained_runs({"cadence": "daily", "send_hour": 3, "timezone": NY}, utc(2026, 3, 8), 1)
    assert runs[0]["at"] == utc(2026, 3, 8, 7) and codes(runs) == [[]]


def test_repeated_hours_are_named_for_fixed_and_wildcard_rules():
    fixed = explained_runs({"cadence": "daily", "send_hour": 1, "send_minute": 30, "timezone": NY},
                           utc(2026, 10, 31, 12), 1)
    assert fixed[0]["at"] == utc(2026, 11, 1, 5, 30) and codes(fixed) == [["repeated_hour_first"]]
    wildcard = explained_runs({"cadence": "hourly", "send_minute": 30, "timezone": NY}, utc(2026, 11, 1, 5), 2)
    assert [r["at"] for r in wildcard] == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)]
    assert codes(wildcard) == [["repeated_hour_first"], ["repeated_hour_second"]]


def test_a_day_past_the_months_end_is_clamped_and_says_so():
    runs = explained_runs({"cadence": "monthly", "monthly_dom": 31, "timezone": "UTC"}, utc(2026, 4, 1), 2)
    assert [r["at"] for r in runs] == [utc(2026, 4, 30, 9), utc(2026, 5, 31, 9)]
    assert codes(runs) == [["month_end"], []]


def test_a_delivery_window_shows_the_dispatch_instant():
    runs = explained_runs({"id": "s1", "cadence": "daily", "timezone": "UTC", "window_seconds": 900},
                          utc(2026, 4, 1), 3)
    for run in runs:
        assert run["at"] <= run["dispatch_at"] < run["at"].replace(minute=15)
        assert codes([run]) == ([["window"]] if run["dispatch_at"] != run["at"] else [[]])


def test_start_at_end_at_and_a_pause_bound_the_runs():
    fields = {"cadence": "daily", "timezone": "UTC", "start_at": utc(2026, 4, 10), "end_at": utc(2026, 4, 11, 12)}
    runs = explained_runs(fields, utc(2026, 4, 1), 5)
    assert [r["at"] for r in runs] == [utc(2026, 4, 10, 9), utc(2026, 4, 11, 9)]
    assert codes(runs) == [["start_at"], ["end_at"]]
    paused = explained_runs({"cadence": "daily", "timezone": NY}, utc(2026, 3, 1), 2, paused_until=utc(2026, 3, 10))
    assert paused[0]["at"] == utc(2026, 3, 10, 13) and codes(paused) == [["after_pause"], []]


def test_a_skipped_day_is_explained():
    """Pacific/Apia skipped 30 December 2011: `0 0 30 12 *` runs at 31 December 00:00, and says why."""
    from datetime import datetime, timezone

    from core.engine.explain import explained_runs
    fields = {"cadence": "cron", "cron_expression": "0 0 30 12 *", "timezone": "Pacific/Apia"}
    first, second = explained_runs(fields, datetime(2011, 12, 1, tzinfo=timezone.utc), 2)
    assert first["local"] == "2011-12-31T00:00:00+14:00"
    assert [r["code"] for r in first["reasons"]] == ["skipped_day"]
    assert "30 December 2011" in first["reasons"][0]["detail"]
    assert first["reasons"][0]["wall"] == datetime(2011, 12, 30, 0, 0)  # the rule's wall time that did not exist
    assert second["reasons"] == []


def test_a_gap_across_midnight_is_no_skipped_day():
    """Asia/Dhaka, 19 June 2009: 23:00 +06 -> 00:00 +07. A 23:30 rule moves to the next day's 00:00,
    the end of an hour's gap, not of a skipped day."""
    fields = {"cadence": "daily", "send_hour": 23, "send_minute": 30, "timezone": "Asia/Dhaka"}
    [run] = explained_runs(fields, utc(2009, 6, 19), 1)
    assert run["local"] == "2009-06-20T00:00:00+07:00"
    assert [(r["code"], r["wall"]) for r in run["reasons"]] == [("spring_forward", datetime(2009, 6, 19, 23, 30))]


def test_calendar_moves_and_skips_are_explained():
    from datetime import datetime, timezone

    from core.engine.business_days import from_mapping
    from core.engine.explain import explained_runs
    fields = {"cadence": "cron", "cron_expression": "0 9 25 * *", "timezone": "America/New_York",
              "calendar": from_mapping({"country": "US"}), "on_holiday": "next_business_day"}
    runs = explained_runs(fields, datetime(2027, 12, 1, tzinfo=timezone.utc), 2)
    assert runs[0]["local"] == "2027-12-27T09:00:00-05:00"
    assert runs[0]["reasons"] == [{"code": "holiday_moved", "detail": "25 December 2027 is Christmas Day (US): "
                                   "moved to the next business day, 27 December 2027"}]
    skip = {**fields, "cron_expression": "0 9 * * *", "on_holiday": "skip"}
    runs = explained_runs(skip, datetime(2027, 12, 24, 15, tzinfo=timezone.utc), 1)
    assert runs[0]["local"] == "2027-12-27T09:00:00-05:00"
    assert {"code": "holiday_skipped", "detail": "25 December 2027 is Christmas Day (US)"} in runs[0]["reasons"]
    assert {"code": "holiday_skipped", "detail": "26 December 2027 is a Sunday, a weekend day"} in runs[0]["reasons"]
