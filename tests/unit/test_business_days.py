"""Business calendars (core/engine/business_days.py) and each `on_holiday` policy in the time engine."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from core.engine.business_days import CalendarError, from_mapping
from core.engine.timing import TimingError, next_runs, validate_timing

UTC = timezone.utc
US = from_mapping({"country": "US"})


def local_days(fields, after, count, zone):
    return [r.astimezone(ZoneInfo(zone)).date() for r in next_runs(fields, after, count)]


def test_us_gb_and_de_holidays_with_subdivisions():
    assert US.day_off(date(2027, 12, 25)) == "is Christmas Day (US)"
    scotland = from_mapping({"country": "gb", "subdivision": "sct"})
    assert scotland.place == "GB-SCT" and scotland.holiday(date(2027, 11, 30)) == "Saint Andrew's Day"
    assert from_mapping({"country": "GB", "subdivision": "ENG"}).holiday(date(2027, 11, 30)) is None
    bavaria = from_mapping({"country": "DE", "subdivision": "BY"})
    assert bavaria.holiday(date(2027, 1, 6)) == "Epiphany"
    assert from_mapping({"country": "DE", "subdivision": "BE"}).holiday(date(2027, 1, 6)) is None
    assert US.day_off(date(2027, 12, 26)) == "is a Sunday, a weekend day"
    assert US.is_business_day(date(2027, 12, 27))


def test_add_and_remove_dates():
    office = from_mapping({"country": "US", "add_dates": ["2027-12-27"], "remove_dates": ["2027-12-25", "2027-12-24"],
                           "weekend": [5, 6]})
    assert office.day_off(date(2027, 12, 27)) == "is a day off of this calendar (add_dates)"
    assert office.is_business_day(date(2027, 12, 25)) and office.is_business_day(date(2027, 12, 24))
    assert office.day_off(date(2027, 12, 31)) == "is New Year's Day (observed) (US)"
    assert office.is_business_day(date(2027, 12, 26))  # Sunday is not in this weekend


@pytest.mark.parametrize("fields, field", [
    ({"country": "XX"}, "country"), ({"country": "US", "subdivision": "ZZ"}, "subdivision"),
    ({"country": "US", "weekend": [0]}, "weekend"), ({"country": "US", "weekend": list(range(1, 8))}, "weekend"),
    ({"country": "US", "add_dates": ["2027-02-30"]}, "add_dates"), ({"country": "US", "add_dates": "x"}, "add_dates"),
    ({"country": "US", "add_dates": ["2027-01-04"], "remove_dates": ["2027-01-04"]}, "remove_dates"),
])
def test_bad_calendars_name_the_field(fields, field):
    with pytest.raises(CalendarError) as caught:
        from_mapping(fields)
    assert caught.value.field == field


WEEKDAYS_8 = {"cadence": "cron", "cron_expression": "0 8 * * 1-5", "timezone": "Europe/London"}


def test_every_weekday_except_uk_holidays():
    fields = {**WEEKDAYS_8, "calendar": from_mapping({"country": "GB", "subdivision": "ENG"}), "on_holiday": "skip"}
    days = local_days(fields, datetime(2027, 12, 23, tzinfo=UTC), 5, "Europe/London")
    # 27 and 28 December 2027 are the observed Christmas and Boxing Day; 31 December is a Friday.
    assert days == [date(2027, 12, 23), date(2027, 12, 24), date(2027, 12, 29), date(2027, 12, 30), date(2027, 12, 31)]
    assert all(r.astimezone(ZoneInfo("Europe/London")).hour == 8 for r in next_runs(fields, datetime(2027, 12, 23, tzinfo=UTC), 5))


def test_each_policy_across_a_year():
    daily = {"cadence": "daily", "send_hour": 9, "timezone": "America/New_York", "calendar": US}
    start = datetime(2027, 1, 1, 5, tzinfo=UTC)
    run_days = local_days({**daily, "on_holiday": "run"}, start, 365, "America/New_York")
    skip_days = local_days({**daily, "on_holiday": "skip"}, start, 400, "America/New_York")
    skip_days = [d for d in skip_days if d.year == 2027]
    assert all(US.is_business_day(d) for d in skip_days)
    assert skip_days == [d for d in run_days if US.is_business_day(d)]
    for policy in ("next_business_day", "previous_business_day"):
        moved = [d for d in local_days({**daily, "on_holiday": policy}, start, 400, "America/New_York") if d.year == 2027]
        # A daily rule's every day off moves onto a business day that runs anyway: one run a day, no doubles.
        assert moved == skip_days or moved[1:] == skip_days[1:], policy
        assert len(moved) == len(set(moved))


def test_moves_meet_weekends_dst_days_and_the_end():
    christmas = {"cadence": "cron", "cron_expression": "30 2 25 12 *", "timezone": "America/New_York", "calendar": US}
    after = datetime(2027, 1, 1, tzinfo=UTC)
    # 25 December 2027 is a Saturday: 24th is the observed holiday, so the next business day is Monday 27th.
    assert local_days({**christmas, "on_holiday": "next_business_day"}, after, 1, "America/New_York") == [date(2027, 12, 27)]
    assert local_days({**christmas, "on_holiday": "previous_business_day"}, after, 1, "America/New_York") == [date(2027, 12, 23)]
    # Christmas Day is always a holiday: skipped, so no run comes in the years the package knows it.
    assert local_days({**christmas, "on_holiday": "skip"}, after, 1, "America/New_York")[0].year > 2100
    # A move onto the spring-forward day: 02:30 does not exist on 8 March 2026, the run is at 03:00 EDT.
    office = from_mapping({"country": "US", "add_dates": ["2026-03-06"], "weekend": [5, 6]})
    fields = {"cadence": "cron", "cron_expression": "30 2 6 3 *", "timezone": "America/New_York", "calendar": office,
              "on_holiday": "next_business_day"}
    [run] = next_runs(fields, datetime(2026, 1, 1, tzinfo=UTC), 1)
    assert run == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # Sunday 8 March 03:00 EDT
    # A move past end_at is dropped, never run after the end.
    ends = {**christmas, "on_holiday": "next_business_day", "end_at": datetime(2027, 12, 26, tzinfo=UTC)}
    assert next_runs(ends, after, 1) == []


def test_first_monday_and_last_business_day():
    paris = {"cadence": "cron", "cron_expression": "0 17 L * *", "timezone": "Europe/Paris",
             "calendar": from_mapping({"country": "FR"}), "on_holiday": "previous_business_day"}
    days = local_days(paris, datetime(2027, 1, 1, tzinfo=UTC), 4, "Europe/Paris")
    assert days == [date(2027, 1, 29), date(2027, 2, 26), date(2027, 3, 31), date(2027, 4, 30)]


@pytest.mark.parametrize("fields, field", [
    ({"cadence": "daily", "on_holiday": "sometimes"}, "on_holiday"),
    ({"cadence": "daily", "on_holiday": "skip"}, "on_holiday"),
    ({"cadence": "interval", "interval_seconds": 3600, "calendar": US, "on_holiday": "skip"}, "on_holiday"),
])
def test_bad_policies_name_the_field(fields, field):
    with pytest.raises(TimingError) as caught:
        validate_timing(fields)
    assert caught.value.field == field
