"""Cron's day extensions (`L`, `L-n`, `nW`, `LW`, `d#n`, `dL`) in core.engine.timing, against the
brute-force definitions of tests/unit/cron_reference.py (each walks the days of the month; the
minute-by-minute walk decides the instants around daylight-saving changes).

Three sizes: every item on every shape a month can take (28 years hold each length with each
first weekday), random rules over 40-year spans from 1900 to 2400 in UTC and fixed-offset zones,
and random rules aimed at the local day of a real offset change in zones that have them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine.timing import TimingError, next_runs, validate_timing
from tests.unit import cron_reference as ref
from tests.unit.test_timing_property import (ALL_ZONES, SETTINGS, assert_matches_reference, changes, examples,
                                             local_hours, zones_with_changes)

UTC = timezone.utc
DOM_ITEMS = ["L", *(f"L-{n}" for n in range(31)), *(f"{n}W" for n in range(1, 32)), "LW"]
DOW_ITEMS = [*(f"{d}#{n}" for d in range(8) for n in range(1, 6)), *(f"{d}L" for d in range(8))]
# Zones whose offset never changes: a day's run is at its wall time, so whole years walk fast.
FIXED_ZONES = ["UTC", "Etc/GMT+12", "Etc/GMT-14", "Asia/Kolkata", "Asia/Kathmandu", "Etc/GMT+5"]


def expected_days(rule: ref.Rule, first: datetime, last: datetime) -> list:
    """Every day from `first` to `last` (dates) the rule's day fields and month match: walked."""
    days, day = [], first
    while day <= last:
        if day.month in rule.months and rule.day_matches(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def engine_days(expression: str, zone: str, first: datetime, last: datetime) -> list:
    """The local dates of the engine's runs of `expression` (a fixed time of day) in a fixed zone."""
    tz = ZoneInfo(zone)
    after = datetime(first.year, first.month, first.day, tzinfo=tz) - timedelta(microseconds=1)
    fields = {"cadence": "cron", "cron_expression": expression, "timezone": zone}
    found = []
    while True:
        runs = next_runs(fields, after, 500)
        for run in runs:
            day = run.astimezone(tz).date()
            if day > last:
                return found
            found.append(day)
        if len(runs) < 500:
            return found
        after = runs[-1]


@pytest.mark.parametrize("item", DOM_ITEMS + DOW_ITEMS)
def test_each_extension_on_every_shape_of_month(item):
    # 2000-2027 holds every (length, first weekday) pair a month can have, February's 29 days too.
    expression = f"0 0 {item} * *" if item in DOM_ITEMS else f"0 0 * * {item}"
    first, last = datetime(2000, 1, 1).date(), datetime(2027, 12, 31).date()
    assert engine_days(expression, "UTC", first, last) == expected_days(ref.cron_rule(expression), first, last)


def day_item(draw) -> str:
    """One day-field item: an extension (biased to the edges the issue names) or a plain value."""
    kind = draw(st.sampled_from(["L-n", "L-n near february", "nW", "nW edge", "LW", "#n", "#5", "dL", "plain dom",
                                 "plain dow"]))
    name = lambda d: draw(st.sampled_from([str(d), ref.DAYS[d % 7].upper(), ref.DAYS[d % 7]]))  # noqa: E731
    if kind == "L-n":
        return draw(st.sampled_from(["L", f"L-{draw(st.integers(0, 30))}"]))
    if kind == "L-n near february":
        return f"L-{draw(st.integers(25, 30))}"
    if kind == "nW":
        return f"{draw(st.integers(1, 31))}W"
    if kind == "nW edge":
        return f"{draw(st.sampled_from([1, 28, 29, 30, 31]))}W"
    if kind == "LW":
        return "LW"
    if kind == "#n":
        return f"{name(draw(st.integers(0, 7)))}#{draw(st.integers(1, 5))}"
    if kind == "#5":
        return f"{name(draw(st.integers(0, 7)))}#5"
    if kind == "dL":
        return f"{name(draw(st.integers(0, 7)))}L"
    if kind == "plain dom":
        return str(draw(st.integers(1, 31)))
    return str(draw(st.integers(0, 7)))


def day_fields(draw) -> tuple[str, str]:
    """(day-of-month, day-of-week): extensions in one field or both, `*` or plain values beside."""
    dom_items, dow_items = [], []
    for _ in range(draw(st.integers(1, 3))):
        item = day_item(draw)
        is_dow = "#" in item or (item.endswith("L") and len(item) > 1 and not item.startswith("L")) \
            or (item.isdigit() and int(item) <= 7 and (item == "0" or draw(st.booleans())))
        (dow_items if is_dow else dom_items).append(item)
    dom = ",".join(dom_items) or draw(st.sampled_from(["*", "*", "1-31", "15"]))
    dow = ",".join(dow_items) or draw(st.sampled_from(["*", "*", "1-5", "*/2"]))
    return dom, dow


def month_field(draw) -> str:
    return draw(st.sampled_from(["*", "*", "*", "2", "feb", "2,8", "4,6,9,11", "1-3", "*/3", "2-12/5"]))


def check(expression: str, check_against) -> None:
    fields = {"cadence": "cron", "cron_expression": expression, "timezone": "UTC"}
    try:
        validate_timing(fields)
    except TimingError as e:
        assert "never fires" in e.message and ref.never_fires(expression), (expression, e.message)
        return
    assert not ref.never_fires(expression), expression
    check_against()


@settings(max_examples=examples(300), **SETTINGS)
@given(st.data())
def test_extensions_match_definition_over_forty_years(data):
    dom, dow = day_fields(data.draw)
    expression = f"{data.draw(st.integers(0, 59))} {data.draw(st.integers(0, 23))} {dom} {month_field(data.draw)} {dow}"
    zone = data.draw(st.sampled_from(FIXED_ZONES))
    start = data.draw(st.integers(1900, 2360))
    first, last = datetime(start, 1, 1).date(), datetime(start + 39, 12, 31).date()

    def compare():
        assert engine_days(expression, zone, first, last) == \
            expected_days(ref.cron_rule(expression), first, last), (expression, zone, start)

    check(expression, compare)


def aimed_items(draw, day) -> tuple[str, str]:
    """Day fields whose extension matches `day` (the local day of an offset change), or a near miss."""
    last = ref._month_days(day)[-1].day
    weekday = (day.weekday() + 1) % 7
    nth = (day.day - 1) // 7 + 1
    kind = draw(st.sampled_from(["L-n", "nW", "LW", "#n", "dL", "dL miss", "#n miss"]))
    if kind == "L-n":
        return f"L-{last - day.day}", "*"
    if kind == "nW":
        return f"{draw(st.sampled_from([day.day, max(1, day.day - 1), min(31, day.day + 1)]))}W", "*"
    if kind == "LW":
        return "LW", draw(st.sampled_from(["*", str(weekday)]))
    if kind == "#n":
        return "*", f"{weekday}#{nth}"
    if kind == "#n miss":
        return "*", f"{(weekday + 1) % 7}#{nth}"
    if kind == "dL":
        return draw(st.sampled_from(["*", str(day.day)])), f"{weekday}L"
    return "*", f"{(weekday + 6) % 7}L"


@settings(max_examples=examples(600), **SETTINGS)
@given(st.data())
def test_extensions_match_reference_on_daylight_saving_days(data):
    zone = data.draw(st.sampled_from(zones_with_changes()) | st.sampled_from(ALL_ZONES))
    year = data.draw(st.integers(1970, 2037))
    found = changes(zone, year)
    change = data.draw(st.sampled_from(found)) if found else datetime(year, 3, 1, tzinfo=UTC)
    local = change.astimezone(ZoneInfo(zone))
    dom, dow = aimed_items(data.draw, local.date())
    hours = local_hours(zone, change)
    hour = data.draw(st.sampled_from(["*", ",".join(map(str, hours)), str(hours[0]), "*/2"]))
    minute = data.draw(st.sampled_from(["0", "30", "*/15", "59"]))
    expression = f"{minute} {hour} {dom} * {dow}"
    after = change - timedelta(seconds=data.draw(st.integers(3600, 22 * 3600)))
    fields = {"cadence": "cron", "cron_expression": expression, "timezone": zone}
    check(expression, lambda: assert_matches_reference(fields, ref.cron_rule(expression), zone, after))


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), [
    # 09:00 New York time on the first Monday, through the March 2027 change (the 8th is no first Monday).
    ("0 9 * * MON#1", "America/New_York", "2027-02-01T15:00:00Z",
     ["2027-03-01T14:00:00Z", "2027-04-05T13:00:00Z", "2027-05-03T13:00:00Z"]),
    # 02:30 on the last Sunday of March in Berlin does not exist: the end of the gap, 03:00 CEST.
    ("30 2 * 3 SUNL", "Europe/Berlin", "2026-01-01T00:00:00Z",
     ["2026-03-29T01:00:00Z", "2027-03-28T01:00:00Z", "2028-03-26T01:00:00Z"]),
    # 17:00 Paris time on the last weekday: 31 October 2026 is a Saturday, so Friday the 30th.
    ("0 17 LW * *", "Europe/Paris", "2026-10-01T00:00:00Z",
     ["2026-10-30T16:00:00Z", "2026-11-30T16:00:00Z", "2026-12-31T16:00:00Z"]),
    # Apia skipped 30 December 2011 whole: L-1 of December runs when the day resumes, 31 Dec 00:00.
    ("0 0 L-1 12 *", "Pacific/Apia", "2011-12-01T00:00:00Z", ["2011-12-30T10:00:00Z", "2012-12-29T10:00:00Z"]),
])
def test_examples(expression, zone, after, expected):
    fields = {"cadence": "cron", "cron_expression": expression, "timezone": zone}
    start = datetime.fromisoformat(after.replace("Z", "+00:00"))
    got = [r.isoformat().replace("+00:00", "Z") for r in next_runs(fields, start, len(expected))]
    assert got == expected
