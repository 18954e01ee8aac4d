"""core.engine.timing: cadences, bounds, validation and cron parsing (DST cases: test_timing_dst.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.model import CADENCES, MONTHLY_DAY_FIELDS, REQUIRED_BY_CADENCE
from core.engine.timing import (
    RANGE_END,
    TIMING_FIELDS,
    RangeEndError,
    TimingError,
    is_wildcard,
    next_run_after,
    next_runs,
    next_runs_in_range,
    validate_timing,
)

UTC = timezone.utc


def at(text: str) -> datetime:
    """An aware UTC instant from '2025-11-10T09:00' (seconds optional)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def runs(fields: dict, after: str, count: int = 3) -> list[str]:
    return [r.strftime("%Y-%m-%dT%H:%M:%SZ") for r in next_runs(fields, at(after), count)]


class TestSeedExamples:
    def test_weekly_schedule_skips_from_friday_to_next_monday(self):
        fields = {"cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "send_minute": 0}
        assert next_run_after(fields, at("2025-11-07T15:00")) == at("2025-11-10T09:00")

    def test_monthly_schedule_runs_later_this_month(self):
        fields = {"cadence": "monthly", "monthly_dom": 15, "send_hour": 9, "send_minute": 0}
        assert next_run_after(fields, at("2025-11-10T15:00")) == at("2025-11-15T09:00")

    def test_monthly_schedule_past_its_day_runs_next_month(self):
        fields = {"cadence": "monthly", "monthly_dom": 15, "send_hour": 9, "send_minute": 0}
        assert next_run_after(fields, at("2025-11-20T15:00")) == at("2025-12-15T09:00")


class TestCadences:
    def test_send_time_defaults_to_nine_and_zone_to_utc(self):
        assert runs({"cadence": "daily"}, "2025-11-10T09:00", 2) == [
            "2025-11-11T09:00:00Z",
            "2025-11-12T09:00:00Z",
        ]

    def test_next_run_is_strictly_after(self):
        fields = {"cadence": "daily", "send_hour": 9}
        assert next_run_after(fields, at("2025-11-10T08:59:59")) == at("2025-11-10T09:00")
        assert next_run_after(fields, at("2025-11-10T09:00")) == at("2025-11-11T09:00")

    def test_result_is_utc_whatever_the_zone_of_after(self):
        after = datetime(2025, 11, 10, 4, 0, tzinfo=ZoneInfo("America/New_York"))  # 09:00Z
        result = next_run_after({"cadence": "daily", "send_hour": 9}, after)
        assert result == at("2025-11-11T09:00") and result.tzinfo is UTC

    def test_naive_after_is_refused(self):
        with pytest.raises(ValueError):
            next_run_after({"cadence": "daily"}, datetime(2025, 11, 10))

    def test_hourly_runs_at_send_minute_of_every_hour(self):
        fields = {"cadence": "hourly", "send_minute": 15, "send_hour": 3}
        assert runs(fields, "2025-11-10T09:20") == [
            "2025-11-10T10:15:00Z",
            "2025-11-10T11:15:00Z",
            "2025-11-10T12:15:00Z",
        ]

    def test_daily_runs_at_local_wall_time(self):
        fields = {"cadence": "daily", "send_hour": 9, "timezone": "Asia/Kolkata"}  # +05:30
        assert runs(fields, "2025-11-10T00:00", 2) == ["2025-11-10T03:30:00Z", "2025-11-11T03:30:00Z"]

    def test_weekly_counts_days_in_the_local_zone(self):
        # Monday 09:00 in Tokyo is Monday 00:00 UTC; Sunday 20:00 UTC is already Monday there.
        fields = {"cadence": "weekly", "weekly_dow": 1, "timezone": "Asia/Tokyo"}
        assert runs(fields, "2025-11-09T20:00", 2) == ["2025-11-10T00:00:00Z", "2025-11-17T00:00:00Z"]

    def test_weekly_sunday_is_zero_and_saturday_six(self):
        assert runs({"cadence": "weekly", "weekly_dow": 0}, "2025-11-10T00:00", 1) == ["2025-11-16T09:00:00Z"]
        assert runs({"cadence": "weekly", "weekly_dow": 6}, "2025-11-10T00:00", 1) == ["2025-11-15T09:00:00Z"]

    def test_every_cron_macro(self):
        cases = {
            "@yearly": "2026-01-01T00:00:00Z",
            "@annually": "2026-01-01T00:00:00Z",
            "@monthly": "2025-12-01T00:00:00Z",
            "@weekly": "2025-11-16T00:00:00Z",
            "@daily": "2025-11-11T00:00:00Z",
            "@midnight": "2025-11-11T00:00:00Z",
            "@hourly": "2025-11-10T10:00:00Z",
        }
        for macro, expected in cases.items():
            assert runs({"cadence": "cron", "cron_expression": macro}, "2025-11-10T09:30", 1) == [expected]

    def test_cron_names_and_day_of_week_seven(self):
        fields = {"cadence": "cron", "cron_expression": "0 8 * JAN-mar SUN,7"}
        assert runs(fields, "2025-12-31T00:00", 2) == ["2026-01-04T08:00:00Z", "2026-01-11T08:00:00Z"]

    def test_cron_step_over_a_range(self):
        fields = {"cadence": "cron", "cron_expression": "10-40/15 9-17/4 * * *"}
        assert runs(fields, "2025-11-10T00:00", 4) == [
            "2025-11-10T09:10:00Z",
            "2025-11-10T09:25:00Z",
            "2025-11-10T09:40:00Z",
            "2025-11-10T13:10:00Z",
        ]

    def test_cron_day_fields_both_restricted_match_either(self):
        # 13th of the month OR a Friday.
        fields = {"cadence": "cron", "cron_expression": "0 0 13 * 5"}
        assert runs(fields, "2026-02-01T00:00", 4) == [
            "2026-02-06T00:00:00Z",
            "2026-02-13T00:00:00Z",
            "2026-02-20T00:00:00Z",
            "2026-02-27T00:00:00Z",
        ]
        assert runs(fields, "2026-03-01T00:00", 3) == [
            "2026-03-06T00:00:00Z",
            "2026-03-13T00:00:00Z",  # the 13th, a Friday too: one run
            "2026-03-20T00:00:00Z",
        ]

    def test_rare_cron_rule_found_decades_ahead(self):
        # Feb 29 that is also a Sunday (AND, since the day-of-week field starts with '*').
        fields = {"cadence": "cron", "cron_expression": "0 0 29 2 */7"}
        assert runs(fields, "2090-01-01T00:00", 2) == ["2128-02-29T00:00:00Z", "2156-02-29T00:00:00Z"]

    def test_is_wildcard(self):
        assert is_wildcard({"cadence": "hourly"})
        assert is_wildcard({"cadence": "cron", "cron_expression": "*/5 9 * * *"})
        assert is_wildcard({"cadence": "cron", "cron_expression": "0 */2 * * *"})
        assert is_wildcard({"cadence": "cron", "cron_expression": "@hourly"})
        assert not is_wildcard({"cadence": "cron", "cron_expression": "0 0-23 * * *"})
        assert not is_wildcard({"cadence": "cron", "cron_expression": "@daily"})
        assert not is_wildcard({"cadence": "daily"})
        assert not is_wildcard({"cadence": "interval", "interval_seconds": 60})


class TestMonthEnds:
    @pytest.mark.parametrize("dom", [31, -1])
    def test_last_day_through_a_non_leap_february(self, dom):
        fields = {"cadence": "monthly", "monthly_dom": dom}
        assert runs(fields, "2025-01-01T00:00", 4) == [
            "2025-01-31T09:00:00Z",
            "2025-02-28T09:00:00Z",
            "2025-03-31T09:00:00Z",
            "2025-04-30T09:00:00Z",
        ]

    @pytest.mark.parametrize("dom", [31, -1, 30, 29])
    def test_last_day_of_a_leap_february(self, dom):
        assert runs({"cadence": "monthly", "monthly_dom": dom}, "2024-02-01T00:00", 1) == [
            "2024-02-29T09:00:00Z"
        ]

    def test_day_past_february_end_falls_on_the_28th(self):
        assert runs({"cadence": "monthly", "monthly_dom": 30}, "2026-02-01T00:00", 2) == [
            "2026-02-28T09:00:00Z",
            "2026-03-30T09:00:00Z",
        ]

    def test_century_years_are_not_leap_unless_divisible_by_400(self):
        fields = {"cadence": "monthly", "monthly_dom": -1}
        assert runs(fields, "2100-02-01T00:00", 1) == ["2100-02-28T09:00:00Z"]
        assert runs(fields, "2000-02-01T00:00", 1) == ["2000-02-29T09:00:00Z"]

    def test_cron_day_31_skips_short_months(self):
        fields = {"cadence": "cron", "cron_expression": "0 0 31 * *"}
        assert runs(fields, "2026-01-31T12:00", 2) == ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]


class TestBiweekly:
    def test_first_run_is_first_weekly_occurrence_after_creation(self):
        # Created on a Wednesday: Monday 10 Nov, then every other Monday.
        fields = {"cadence": "biweekly", "weekly_dow": 1, "created_at": at("2025-11-05T12:00")}
        assert runs(fields, "2025-11-05T12:00", 3) == [
            "2025-11-10T09:00:00Z",
            "2025-11-24T09:00:00Z",
            "2025-12-08T09:00:00Z",
        ]

    def test_anchor_on_the_day_counts_if_the_time_is_still_ahead(self):
        fields = {"cadence": "biweekly", "weekly_dow": 1, "created_at": at("2025-11-10T08:00")}
        assert runs(fields, "2025-11-10T08:00", 2) == ["2025-11-10T09:00:00Z", "2025-11-24T09:00:00Z"]
        fields["created_at"] = at("2025-11-10T10:00")
        assert runs(fields, "2025-11-10T10:00", 2) == ["2025-11-17T09:00:00Z", "2025-12-01T09:00:00Z"]

    def test_phase_is_kept_whatever_instant_we_count_from(self):
        fields = {"cadence": "biweekly", "weekly_dow": 1, "created_at": at("2025-11-05T12:00")}
        assert runs(fields, "2026-06-01T00:00", 2) == ["2026-06-08T09:00:00Z", "2026-06-22T09:00:00Z"]
        assert runs(fields, "2026-06-08T09:00", 1) == ["2026-06-22T09:00:00Z"]

    def test_start_at_is_the_anchor_when_set(self):
        fields = {
            "cadence": "biweekly",
            "weekly_dow": 1,
            "created_at": at("2025-11-05T12:00"),
            "start_at": at("2025-11-11T00:00"),
        }
        assert runs(fields, "2025-11-05T12:00", 2) == ["2025-11-17T09:00:00Z", "2025-12-01T09:00:00Z"]

    def test_without_an_anchor_counts_from_after(self):
        fields = {"cadence": "biweekly", "weekly_dow": 1}
        assert runs(fields, "2025-11-05T12:00", 2) == ["2025-11-10T09:00:00Z", "2025-11-24T09:00:00Z"]


class TestIntervalAndOnce:
    def test_interval_runs_at_anchor_plus_multiples(self):
        fields = {"cadence": "interval", "interval_seconds": 900, "created_at": at("2025-11-10T09:07:30")}
        assert runs(fields, "2025-11-10T10:00", 3) == [
            "2025-11-10T10:07:30Z",
            "2025-11-10T10:22:30Z",
            "2025-11-10T10:37:30Z",
        ]

    def test_interval_before_its_start_runs_at_start(self):
        fields = {"cadence": "interval", "interval_seconds": 3600, "start_at": at("2025-12-01T00:00")}
        assert runs(fields, "2025-11-10T10:00", 2) == ["2025-12-01T00:00:00Z", "2025-12-01T01:00:00Z"]

    def test_interval_keeps_microseconds_of_its_anchor(self):
        anchor = at("2025-11-10T09:00:00.250000")
        fields = {"cadence": "interval", "interval_seconds": 60, "created_at": anchor}
        assert next_run_after(fields, anchor) == anchor + timedelta(seconds=60)

    def test_once_runs_at_start_at_exactly(self):
        start = at("2025-11-20T14:33:12.5")
        fields = {"cadence": "once", "start_at": start}
        assert next_runs(fields, at("2025-11-10T00:00"), 5) == [start]
        assert next_run_after(fields, start) is None

    def test_once_honours_start_at_in_another_zone(self):
        start = datetime(2025, 11, 20, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
        result = next_run_after({"cadence": "once", "start_at": start}, at("2025-11-10T00:00"))
        assert result == at("2025-11-20T08:00") and result.tzinfo is UTC


class TestBounds:
    def test_no_run_before_start_at(self):
        fields = {"cadence": "daily", "start_at": at("2025-11-12T12:00")}
        assert runs(fields, "2025-11-10T00:00", 1) == ["2025-11-13T09:00:00Z"]

    def test_run_exactly_at_start_at_counts(self):
        fields = {"cadence": "daily", "start_at": at("2025-11-12T09:00")}
        assert runs(fields, "2025-11-10T00:00", 1) == ["2025-11-12T09:00:00Z"]

    def test_start_at_a_fraction_after_the_run_excludes_it(self):
        fields = {"cadence": "daily", "start_at": at("2025-11-12T09:00:00.000001")}
        assert runs(fields, "2025-11-10T00:00", 1) == ["2025-11-13T09:00:00Z"]

    def test_end_at_is_inclusive_and_ends_the_schedule(self):
        fields = {"cadence": "daily", "end_at": at("2025-11-12T09:00")}
        assert runs(fields, "2025-11-10T10:00", 5) == ["2025-11-11T09:00:00Z", "2025-11-12T09:00:00Z"]
        assert next_run_after(fields, at("2025-11-12T09:00")) is None

    def test_end_at_bounds_interval_and_rare_cron_rules(self):
        fields = {"cadence": "interval", "interval_seconds": 3600, "created_at": at("2025-11-10T00:00"),
                  "end_at": at("2025-11-10T02:30")}
        assert runs(fields, "2025-11-10T00:00", 5) == ["2025-11-10T01:00:00Z", "2025-11-10T02:00:00Z"]
        leap_sundays = {"cadence": "cron", "cron_expression": "0 0 29 2 */7", "end_at": at("2100-01-01T00:00")}
        assert next_run_after(leap_sundays, at("2090-01-01T00:00")) is None

    def test_far_future_has_no_run_rather_than_an_error(self):
        assert next_run_after({"cadence": "daily"}, datetime(9999, 12, 31, tzinfo=UTC)) is None
        late = datetime.max.replace(tzinfo=timezone(timedelta(hours=-12)))  # year 10000 in UTC
        assert next_run_after({"cadence": "once", "start_at": late}, at("2025-11-10T00:00")) is None
        early = datetime.min.replace(tzinfo=timezone(timedelta(hours=14)))  # year 0 in UTC
        assert next_run_after({"cadence": "once", "start_at": early}, early) is None
        fields = {"cadence": "interval", "interval_seconds": 2**31 - 1, "created_at": at("9990-01-01T00:00")}
        assert next_runs(fields, at("9999-01-01T00:00"), 3) == []


class TestValidation:
    @pytest.mark.parametrize(
        "fields, field, message",
        [
            ({}, "cadence", "cadence is required"),
            ({"cadence": "fortnightly"}, "cadence", "unknown cadence 'fortnightly'"),
            ({"cadence": 7}, "cadence", "unknown cadence 7"),
            ({"cadence": "weekly"}, "weekly_dow", "weekly_dow required for weekly cadence"),
            ({"cadence": "biweekly"}, "weekly_dow", "weekly_dow required for biweekly cadence"),
            ({"cadence": "weekly", "weekly_dow": 7}, "weekly_dow", "weekly_dow must be between 0 (Sunday) and 6"),
            ({"cadence": "weekly", "weekly_dow": -1}, "weekly_dow", "weekly_dow must be between"),
            ({"cadence": "weekly", "weekly_dow": "1"}, "weekly_dow", "weekly_dow must be an integer"),
            ({"cadence": "weekly", "weekly_dow": True}, "weekly_dow", "weekly_dow must be an integer"),
            ({"cadence": "monthly"}, "monthly_dom", "monthly_dom required for monthly cadence"),
            ({"cadence": "monthly", "monthly_dom": 0}, "monthly_dom", "monthly_dom must be between 1 and 31"),
            ({"cadence": "monthly", "monthly_dom": 32}, "monthly_dom", "monthly_dom must be between 1 and 31"),
            ({"cadence": "monthly", "monthly_dom": -2}, "monthly_dom", "monthly_dom must be between 1 and 31"),
            ({"cadence": "monthly", "monthly_dom": 15.0}, "monthly_dom", "monthly_dom must be an integer"),
            ({"cadence": "daily", "send_hour": 24}, "send_hour", "send_hour must be between 0 and 23"),
            ({"cadence": "daily", "send_hour": -1}, "send_hour", "send_hour must be between 0 and 23"),
            ({"cadence": "daily", "send_hour": 9.5}, "send_hour", "send_hour must be an integer"),
            ({"cadence": "daily", "send_hour": False}, "send_hour", "send_hour must be an integer"),
            ({"cadence": "daily", "send_minute": 60}, "send_minute", "send_minute must be between 0 and 59"),
            ({"cadence": "daily", "send_minute": [0]}, "send_minute", "send_minute must be an integer"),
            ({"cadence": "cron"}, "cron_expression", "cron_expression required for cron cadence"),
            ({"cadence": "cron", "cron_expression": "  "}, "cron_expression", "cron_expression required"),
            ({"cadence": "cron", "cron_expression": 5}, "cron_expression", "cron_expression must be a string"),
            ({"cadence": "interval"}, "interval_seconds", "interval_seconds required for interval cadence"),
            ({"cadence": "interval", "interval_seconds": 59}, "interval_seconds", "interval_seconds must be an integer of at least 60"),
            ({"cadence": "interval", "interval_seconds": 60.0}, "interval_seconds", "interval_seconds must be an integer of at least 60"),
            ({"cadence": "interval", "interval_seconds": 2**31}, "interval_seconds", "interval_seconds must be at most"),
            ({"cadence": "daily", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone 'Mars/Olympus'"),
            ({"cadence": "daily", "timezone": ""}, "timezone", "unknown time zone ''"),
            ({"cadence": "daily", "timezone": "../../etc/passwd"}, "timezone", "unknown time zone"),
            ({"cadence": "daily", "timezone": 3}, "timezone", "unknown time zone 3"),
            ({"cadence": "once"}, "start_at", "start_at required for once cadence"),
            ({"cadence": "once", "start_at": datetime(2025, 11, 10)}, "start_at", "start_at must be a datetime with a time zone"),
            ({"cadence": "daily", "start_at": "2025-11-10T00:00:00Z"}, "start_at", "start_at must be a datetime"),
            ({"cadence": "daily", "end_at": datetime(2025, 11, 10)}, "end_at", "end_at must be a datetime with a time zone"),
            (
                {"cadence": "daily", "start_at": at("2025-11-10T00:00"), "end_at": at("2025-11-10T00:00")},
                "end_at",
                "end_at must be after start_at",
            ),
            ({"cadence": "interval", "interval_seconds": 60, "created_at": datetime(2025, 1, 1)}, "created_at", "created_at must be"),
        ],
    )
    def test_bad_field_is_named(self, fields, field, message):
        with pytest.raises(TimingError) as raised:
            validate_timing(fields)
        assert raised.value.field == field
        assert raised.value.message.startswith(message)
        assert str(raised.value) == raised.value.message

    def test_first_bad_field_in_field_order_is_named(self):
        with pytest.raises(TimingError) as raised:
            validate_timing({"cadence": "weekly", "send_hour": 99, "timezone": "Nowhere"})
        assert raised.value.field == "weekly_dow"

    def test_bool_is_refused_even_when_its_integer_twin_was_valid(self):
        validate_timing({"cadence": "weekly", "weekly_dow": 1})
        with pytest.raises(TimingError):
            validate_timing({"cadence": "weekly", "weekly_dow": True})

    def test_next_run_after_validates_too(self):
        with pytest.raises(TimingError) as raised:
            next_run_after({"cadence": "weekly"}, at("2025-11-10T00:00"))
        assert raised.value.field == "weekly_dow"

    def test_valid_timing_with_extra_fields_passes(self):
        validate_timing({"cadence": "weekly", "weekly_dow": 1, "name": "x", "recipients": ["a@b.c"]})

    def test_non_mapping_is_a_timing_error(self):
        with pytest.raises(TimingError):
            validate_timing(["cadence", "daily"])

    def test_timing_fields_are_the_column_names(self):
        assert TIMING_FIELDS == (
            "cadence", "weekly_dow", "monthly_dom", "monthly_week", "monthly_dow", "send_hour", "send_minute",
            "cron_expression", "interval_seconds", "timezone", "start_at", "end_at", "calendar_id", "on_holiday",
        )


class TestCronValidation:
    @pytest.mark.parametrize(
        "expression, message",
        [
            ("* * * *", "cron_expression must have 5 fields"),
            ("0 * * * * *", "cron_expression must have 5 fields"),
            ("61 * * * *", "cron_expression has a bad minute field '61': 61 is out of range 0-59"),
            ("0 24 * * *", "cron_expression has a bad hour field '24': 24 is out of range 0-23"),
            ("0 0 0 * *", "cron_expression has a bad day-of-month field '0': 0 is out of range 1-31"),
            ("0 0 32 * *", "cron_expression has a bad day-of-month field"),
            ("0 0 * 13 *", "cron_expression has a bad month field '13': 13 is out of range 1-12"),
            ("0 0 * * 8", "cron_expression has a bad day-of-week field '8': 8 is out of range 0-7"),
            ("0-60 * * * *", "cron_expression has a bad minute field '0-60': 60 is out of range"),
            ("5-1 * * * *", "cron_expression has a bad minute field '5-1': range '5-1' runs backwards"),
            ("5/15 * * * *", "cron_expression has a bad minute field '5/15': a step needs a range"),
            ("*/0 * * * *", "cron_expression has a bad minute field '*/0': step 0"),
            ("1,,2 * * * *", "cron_expression has a bad minute field"),
            ("*-5 * * * *", "cron_expression has a bad minute field"),
            ("0 0 L-31 * *", "cron_expression has a bad day-of-month field 'L-31': 'L-31' counts 31 days back"),
            ("0 9 * * MON-FRI#1", "cron_expression has a bad day-of-week field 'MON-FRI#1': cannot read 'MON-FRI#1'"),
            ("0 9 * JAN-Foo *", "cron_expression has a bad month field 'JAN-Foo': unknown value 'Foo'"),
            ("@DAILY", "cron_expression has an unknown macro '@DAILY' (known: @yearly"),
            ("@Hourly", "cron_expression has an unknown macro '@Hourly'"),
            ("@REBOOT", "cron_expression has an unknown macro '@REBOOT'"),
            ("*/99999999999999999999 * * * *",
             "cron_expression has a bad minute field '*/99999999999999999999': step 99999999999999999999 is "
             "more than 60"),
            ("0 0-23/25 * * *", "cron_expression has a bad hour field '0-23/25': step 25 is more than 24"),
            ("0 0 */32 * *", "cron_expression has a bad day-of-month field '*/32': step 32 is more than 31"),
            ("0 0 * */13 *", "cron_expression has a bad month field '*/13': step 13 is more than 12"),
            ("0 0 * * */9", "cron_expression has a bad day-of-week field '*/9': step 9 is more than 8"),
            ("0 0 32W * *", "cron_expression has a bad day-of-month field '32W': '32W' names day 32"),
            ("0 0 * * 8L", "cron_expression has a bad day-of-week field '8L': 8 is out of range 0-7"),
            ("0 0 * * 1#6", "cron_expression has a bad day-of-week field '1#6': '1#6' asks for occurrence 6"),
            ("0 0 * * L", "cron_expression has a bad day-of-week field 'L': `L` alone is not a day"),
            ("0 0 * L *", "cron_expression has a bad month field 'L'"),
            ("0 0 1-L * *", "cron_expression has a bad day-of-month field '1-L'"),
            ("0 0 L/2 * *", "cron_expression has a bad day-of-month field 'L/2'"),
            ("0 0 W * *", "cron_expression has a bad day-of-month field 'W'"),
            ("0 0 L-29 feb *", "cron_expression never fires: no day in feb matches day-of-month 'L-29'"),
            ("0 0 30W 2 *", "cron_expression never fires: no day in feb matches day-of-month '30W'"),
            ("0 0 31W apr,jun *", "cron_expression never fires"),
            ("0 0 ? * 1", "cron_expression has a bad day-of-month field"),
            ("H 0 * * *", "cron_expression has a bad minute field"),
            ("0 0 * * sunday", "cron_expression has a bad day-of-week field"),
            ("0 0 * jan-mon *", "cron_expression has a bad month field"),
            ("0 0 1 * */mon", "cron_expression has a bad day-of-week field"),
            ("@reboot", "cron_expression @reboot is not supported"),
            ("@every 5m", "cron_expression has an unknown macro '@every 5m'"),
            ("@fortnightly", "cron_expression has an unknown macro '@fortnightly'"),
            ("0 0 30 2 *", "cron_expression never fires"),
            ("0 0 31 4,6,9,11 *", "cron_expression never fires"),
            ("0 0 30-31 feb */2", "cron_expression never fires"),
            ("0\x000 * * * *", "cron_expression contains a character"),
            ("0 0 * * * " + "1" * 2000, "cron_expression is longer than"),
        ],
    )
    def test_refused(self, expression, message):
        with pytest.raises(TimingError) as raised:
            validate_timing({"cadence": "cron", "cron_expression": expression})
        assert raised.value.field == "cron_expression"
        assert raised.value.message.startswith(message)

    def test_a_macro_in_the_wrong_case_names_the_right_one(self):
        with pytest.raises(TimingError) as raised:
            validate_timing({"cadence": "cron", "cron_expression": "@Hourly"})
        assert raised.value.message.endswith("; macro names are lower case: @hourly")

    @pytest.mark.parametrize(
        "expression",
        ["0 0 29 2 *", "0 0 30 2 1", "0 0 31 2 mon", "*/5 * * * *", "0 9 * * MON-FRI", "0 0 1-31/2 * *",
         "0 0 * * 7", "0 0 * * 0-7", " 0  9  * * 1 ", "0\t9 * * *", "00 09 01 01 *", "*/60 */24 * * *",
         "0 9 * Jan-MAR mon-FRI", "@daily"],
    )
    def test_accepted(self, expression):
        validate_timing({"cadence": "cron", "cron_expression": expression})

    def test_both_restricted_day_fields_fire_even_if_the_date_never_exists(self):
        # Feb 30 never exists, but the OR rule still runs on Mondays in February.
        fields = {"cadence": "cron", "cron_expression": "0 0 30 2 1"}
        assert runs(fields, "2026-01-01T00:00", 1) == ["2026-02-02T00:00:00Z"]


class TestCroniterDisagreements:
    """Cases where croniter 7.0.0 (`croniter(expr, local_start).get_next(datetime)`) is wrong."""

    def test_wildcard_rule_has_no_run_in_a_gap(self):
        # New York skips 02:00-03:00 on 2026-03-08. `*/15 2 * * *` is wildcard (minute field
        # starts with '*'), so the day's 02:xx runs are simply gone. croniter: 2026-03-08T07:00Z.
        fields = {"cadence": "cron", "cron_expression": "*/15 2 * * *", "timezone": "America/New_York"}
        assert next_run_after(fields, at("2026-03-08T06:10")) == at("2026-03-09T06:00")

    def test_fixed_time_rule_runs_once_in_an_overlap(self):
        # 01:30 happens twice on 2026-11-01 (05:30Z EDT, 06:30Z EST); fixed-time runs at the
        # first only. Asked between the two, croniter answers the second (06:30Z).
        fields = {"cadence": "cron", "cron_expression": "30 1 * * *", "timezone": "America/New_York"}
        assert next_run_after(fields, at("2026-11-01T05:45")) == at("2026-11-02T06:30")

    def test_star_step_day_of_month_with_restricted_weekday_means_and(self):
        # `*/10` starts with '*', so day 1, 11, 21 or 31 AND a Monday: the first is 11 May 2026.
        # croniter ORs them and answers 2026-01-05.
        fields = {"cadence": "cron", "cron_expression": "0 0 */10 * 1"}
        assert next_run_after(fields, at("2026-01-01T00:00")) == at("2026-05-11T00:00")

    def test_single_value_range_is_that_value(self):
        # croniter reads `59-59` as `*` and answers 00:01.
        fields = {"cadence": "cron", "cron_expression": "59-59 * * * *"}
        assert runs(fields, "2026-01-01T00:00", 2) == ["2026-01-01T00:59:00Z", "2026-01-01T01:59:00Z"]


# A value for every field a cadence may require, so a body with all of them is valid for any cadence.
_REQUIRED_VALUES = {"start_at": at("2030-01-01T09:00"), "weekly_dow": 1, "monthly_dom": 15,
                    "cron_expression": "0 9 * * 1", "interval_seconds": 3600}


@pytest.mark.parametrize("cadence", CADENCES)
def test_required_by_cadence_is_exactly_what_validation_requires(cadence):
    """The OpenAPI document makes REQUIRED_BY_CADENCE required per cadence: it must be the engine's rule."""
    required = REQUIRED_BY_CADENCE[cadence]
    values = {name: _REQUIRED_VALUES[name] for name in required}
    # monthly needs one of MONTHLY_DAY_FIELDS (tested below), which no single `required` list says.
    extra = {"monthly_dom": 15} if cadence == "monthly" else {}
    validate_timing({"cadence": cadence, **values, **extra})
    for name in required:
        with pytest.raises(TimingError) as caught:
            validate_timing({"cadence": cadence, **extra, **{k: v for k, v in values.items() if k != name}})
        assert caught.value.field == name
        assert caught.value.message == f"{name} required for {cadence} cadence"
    assert set(REQUIRED_BY_CADENCE) == set(CADENCES)


@pytest.mark.parametrize("fields, field, message", [
    ({}, "monthly_dom", "monthly_dom required for monthly cadence"),
    ({"monthly_week": 1}, "monthly_dow", "monthly_dow required with monthly_week (the weekday, 0 = Sunday)"),
    ({"monthly_dow": 1}, "monthly_week", "monthly_week required with monthly_dow (1-5, or -1 for the last)"),
    ({"monthly_dom": 1, "monthly_week": 1, "monthly_dow": 1}, "monthly_week",
     "monthly_week and monthly_dom cannot both be set"),
    ({"monthly_week": 0, "monthly_dow": 1}, "monthly_week", "monthly_week must be between 1 and 5, or -1"),
    ({"monthly_week": 6, "monthly_dow": 1}, "monthly_week", "monthly_week must be between 1 and 5, or -1"),
    ({"monthly_week": -2, "monthly_dow": 1}, "monthly_week", "monthly_week must be between 1 and 5, or -1"),
    ({"monthly_week": 1, "monthly_dow": 7}, "monthly_dow", "monthly_dow must be between 0 (Sunday) and 6"),
    ({"monthly_week": True, "monthly_dow": 1}, "monthly_week", "monthly_week must be an integer"),
])
def test_a_monthly_schedule_names_its_day_one_way(fields, field, message):
    """MONTHLY_DAY_FIELDS: a day of the month, or the nth weekday (the OpenAPI document says it in words)."""
    assert MONTHLY_DAY_FIELDS == (("monthly_dom",), ("monthly_week", "monthly_dow"))
    with pytest.raises(TimingError) as caught:
        validate_timing({"cadence": "monthly", **fields})
    assert caught.value.field == field and caught.value.message.startswith(message)


@pytest.mark.parametrize("week, dow, expected", [
    (1, 1, ["2027-03-01", "2027-04-05", "2027-05-03"]),   # the first Monday
    (-1, 5, ["2027-02-26", "2027-03-26", "2027-04-30"]),  # the last Friday
    (5, 0, ["2027-05-30", "2027-08-29", "2027-10-31"]),   # the fifth Sunday: only months that have one
])
def test_monthly_nth_weekday(week, dow, expected):
    fields = {"cadence": "monthly", "monthly_week": week, "monthly_dow": dow, "send_hour": 9,
              "timezone": "America/New_York"}
    runs = next_runs(fields, at("2027-02-15T00:00"), 3)
    assert [r.astimezone(ZoneInfo("America/New_York")).date().isoformat() for r in runs] == expected
    assert all(r.astimezone(ZoneInfo("America/New_York")).hour == 9 for r in runs)


class TestRangeEnd:
    """Runs are computed up to 9998-12-31T00:00:00Z; a preview asking past it is told so."""

    def test_range_end_is_the_last_day_of_year_9998(self):
        assert RANGE_END == datetime(9998, 12, 31, tzinfo=UTC)

    def test_nothing_after_the_end_is_an_error_naming_after_and_the_limit(self):
        with pytest.raises(RangeEndError) as raised:
            next_runs_in_range({"cadence": "cron", "cron_expression": "0 0 * * *"}, at("9998-12-31T12:00"), 2)
        assert (raised.value.field, raised.value.runs) == ("after", [])
        assert raised.value.message == "no runs are computed after 9998-12-31T00:00:00Z"

    def test_fewer_runs_than_asked_is_an_error_naming_count_and_carrying_the_runs(self):
        with pytest.raises(RangeEndError) as raised:
            next_runs_in_range({"cadence": "daily", "send_hour": 0}, at("9998-12-29T12:00"), 5)
        assert raised.value.field == "count"
        assert [r.isoformat() for r in raised.value.runs] == ["9998-12-30T00:00:00+00:00", "9998-12-31T00:00:00+00:00"]

    def test_intervals_stop_at_the_end_too(self):
        fields = {"cadence": "interval", "interval_seconds": 86400, "created_at": at("9998-12-29T00:00")}
        assert runs(fields, "9998-12-29T12:00", 5) == ["9998-12-30T00:00:00Z", "9998-12-31T00:00:00Z"]
        with pytest.raises(RangeEndError):
            next_runs_in_range(fields, at("9998-12-29T12:00"), 5)

    def test_a_schedule_that_ends_by_itself_is_no_error(self):
        ends = {"cadence": "daily", "end_at": at("2026-01-03T00:00")}
        assert len(next_runs_in_range(ends, at("2026-01-01T00:00"), 5)) == 2
        once = {"cadence": "once", "start_at": at("2026-01-03T00:00")}
        assert len(next_runs_in_range(once, at("2026-01-01T00:00"), 5)) == 1
        assert next_runs_in_range({"cadence": "daily"}, at("2026-01-01T00:00"), 3)  # the usual case
