"""core.engine.timing against tests/unit/cron_reference.py, a brute-force model of the same rules.

Rules and zones are random; instants are drawn near real offset changes found in each zone's own
data (1995-2037, plus a historic run over 1900-1994 for local mean time and its odd seconds), with
windows of about a day so the minute-by-minute reference stays affordable.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.engine.timing import TIMING_FIELDS, TimingError, next_run_after, next_runs, validate_timing
from tests.conftest import examples
from tests.unit import cron_reference as ref

UTC = timezone.utc
WINDOW = timedelta(hours=26)
ALL_ZONES = sorted(available_timezones())
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=None)
def zones_with_changes() -> tuple[str, ...]:
    """Zones whose offset differs between January and July, or between decades, in some sample
    year: the ones with DST now or in the past, and those that changed their rules."""
    probes = [datetime(y, m, 1, tzinfo=UTC) for y in (1996, 2005, 2012, 2020, 2030) for m in (1, 7)]
    return tuple(
        name for name in ALL_ZONES
        if len({p.astimezone(ZoneInfo(name)).utcoffset() for p in probes}) > 1
    )


@lru_cache(maxsize=None)
def changes(zone: str, year: int) -> tuple[datetime, ...]:
    """Instants in a UTC year at which the zone's offset changes (probed daily, bisected)."""
    tz = ZoneInfo(zone)
    offset = lambda t: t.astimezone(tz).utcoffset()  # noqa: E731
    found = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    while t.year == year:
        u = t + timedelta(days=1)
        if offset(t) != offset(u):
            low, high = t, u
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) // 2
                middle -= timedelta(microseconds=middle.microsecond)
                if offset(middle) == offset(t):
                    low = middle
                else:
                    high = middle
            found.append(high)
        t = u
    return tuple(found)


zones = st.one_of(
    st.sampled_from(zones_with_changes()),
    st.sampled_from(zones_with_changes()),
    st.sampled_from(zones_with_changes()),
    st.sampled_from(ALL_ZONES),
)


def near_a_change(draw, zone: str, years: tuple[int, int]) -> tuple[datetime, datetime]:
    """(change instant, `after`) with `after` from 22 hours before to an hour after the change;
    a random instant of the year when the zone did not change that year."""
    year = draw(st.integers(*years))
    found = changes(zone, year)
    if found:
        change = draw(st.sampled_from(found))
    else:
        change = datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 364 * 86400)))
    after = change + timedelta(seconds=draw(st.integers(-22 * 3600, 3600)))
    if draw(st.booleans()):
        after = after.replace(second=0)
    return change, after


def local_hours(zone: str, change: datetime) -> list[int]:
    tz = ZoneInfo(zone)
    return sorted({(change + timedelta(minutes=m)).astimezone(tz).hour for m in (-61, -1, 0, 60)})


def cron_field(draw, low: int, high: int, names: list[str] | None = None, hot: list[int] = (),
               star_weight: int = 1) -> str:
    """`*`, `*/n`, or a list of values and ranges (with steps, with names where the field has them),
    preferring the `hot` values: the local hours or day of the offset change under test."""
    kind = draw(st.sampled_from(["*"] * star_weight + ["*/n", "list"]))
    if kind == "*":
        return "*"
    if kind == "*/n":
        return f"*/{draw(st.integers(1, high - low + 1))}"
    return ",".join(cron_item(draw, low, high, names, hot) for _ in range(draw(st.integers(1, 3))))


def cron_item(draw, low: int, high: int, names: list[str] | None, hot: list[int]) -> str:
    def value() -> int:
        if hot and draw(st.booleans()):
            return draw(st.sampled_from(hot))
        return draw(st.integers(low, high))

    def spell(v: int) -> str:
        index = v - (1 if names is ref.MONTHS else 0)
        if names and 0 <= index < len(names) and draw(st.booleans()):
            name = names[index]
            return draw(st.sampled_from([name, name.upper(), name.capitalize()]))
        return str(v)

    kind = draw(st.sampled_from(["value", "range", "step"]))
    if kind == "value":
        return spell(value())
    a, b = sorted((value(), value()))
    text = f"{spell(a)}-{spell(b)}"
    return text + f"/{draw(st.integers(1, high - low + 1))}" if kind == "step" else text


def cron_expression(draw, hot_hours: list[int], hot_day: datetime | None) -> str:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(sorted(ref.MACROS)))
    minute = cron_field(draw, 0, 59, hot=[0, 15, 30, 45, 59])
    hour = cron_field(draw, 0, 23, hot=hot_hours)
    dom = cron_field(draw, 1, 31, hot=[hot_day.day] if hot_day else [], star_weight=4)
    month = cron_field(draw, 1, 12, ref.MONTHS, hot=[hot_day.month] if hot_day else [], star_weight=4)
    dow = cron_field(draw, 0, 7, ref.DAYS, hot=[(hot_day.weekday() + 1) % 7] if hot_day else [], star_weight=4)
    return f"{minute} {hour} {dom} {month} {dow}"


def assert_matches_reference(fields: dict, rule: ref.Rule, zone: str, after: datetime) -> None:
    until = after + WINDOW
    expected = ref.runs(rule, ZoneInfo(zone), after, until, fields.get("start_at"), fields.get("end_at"))
    got = next_runs(fields, after, len(expected) + 1)
    assert all(r.tzinfo is UTC for r in got)
    assert all(a < b for a, b in zip([after, *got], got)), "runs must be strictly increasing"
    assert [r for r in got if r <= until] == expected, (fields, after.isoformat())


def check_cron(zone: str, expression: str, after: datetime) -> None:
    fields = {"cadence": "cron", "cron_expression": expression, "timezone": zone}
    try:
        validate_timing(fields)
    except TimingError as e:
        # The generator writes only valid syntax, so the one refusal is "never fires".
        assert "never fires" in e.message and ref.never_fires(expression), (expression, e.message)
        return
    assert not ref.never_fires(expression)
    assert_matches_reference(fields, ref.cron_rule(expression), zone, after)


@settings(max_examples=examples(600), **SETTINGS)
@given(st.data())
def test_cron_rules_match_reference_near_offset_changes(data):
    zone = data.draw(zones)
    change, after = near_a_change(data.draw, zone, (1995, 2037))
    hot_day = change.astimezone(ZoneInfo(zone))
    expression = cron_expression(data.draw, local_hours(zone, change), hot_day)
    check_cron(zone, expression, after)


@settings(max_examples=examples(150), **SETTINGS)
@given(st.data())
def test_cron_rules_match_reference_near_historic_changes(data):
    # Before 1995: local mean time (offsets with seconds), wartime double summer time, date-line
    # moves of whole days.
    zone = data.draw(st.sampled_from(ALL_ZONES))
    change, after = near_a_change(data.draw, zone, (1900, 1994))
    expression = cron_expression(data.draw, local_hours(zone, change), change.astimezone(ZoneInfo(zone)))
    check_cron(zone, expression, after)


@settings(max_examples=examples(150), **SETTINGS)
@given(zone=st.sampled_from(ALL_ZONES), data=st.data(),
       after=st.datetimes(datetime(1900, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_cron_rules_match_reference_at_any_instant(zone, data, after):
    check_cron(zone, cron_expression(data.draw, [], None), after)


def cadence_fields(draw, zone: str, change: datetime) -> dict:
    local = change.astimezone(ZoneInfo(zone))
    cadence = draw(st.sampled_from(["hourly", "daily", "weekly", "monthly"]))
    fields = {
        "cadence": cadence,
        "timezone": zone,
        "send_hour": draw(st.one_of(st.sampled_from(local_hours(zone, change)), st.integers(0, 23))),
        "send_minute": draw(st.sampled_from([0, 0, 15, 30, 45, 59]) | st.integers(0, 59)),
    }
    if cadence == "weekly":
        fields["weekly_dow"] = draw(st.sampled_from([(local.weekday() + 1) % 7]) | st.integers(0, 6))
    if cadence == "monthly":
        last = calendar.monthrange(local.year, local.month)[1]
        near_end = [-1, 28, 29, 30, 31] if local.day >= last - 1 else []
        fields["monthly_dom"] = draw(st.sampled_from([local.day, *near_end]) | st.integers(1, 31))
    return fields


@settings(max_examples=examples(300), **SETTINGS)
@given(st.data())
def test_named_cadences_match_reference_near_offset_changes(data):
    zone = data.draw(zones)
    change, after = near_a_change(data.draw, zone, (1995, 2037))
    fields = cadence_fields(data.draw, zone, change)
    if data.draw(st.booleans()):
        # Bounds inside the window, whole seconds or not.
        start = after + timedelta(seconds=data.draw(st.integers(0, 12 * 3600)), microseconds=data.draw(st.sampled_from([0, 1])))
        fields["start_at"] = start
        if data.draw(st.booleans()):
            fields["end_at"] = start + timedelta(seconds=data.draw(st.integers(1, 12 * 3600)))
    assert_matches_reference(fields, ref.cadence_rule(fields), zone, after)


@settings(max_examples=examples(80), **SETTINGS)
@given(st.data())
def test_biweekly_matches_reference(data):
    zone = data.draw(zones)
    change, after = near_a_change(data.draw, zone, (1995, 2037))
    local = change.astimezone(ZoneInfo(zone))
    fields = {
        "cadence": "biweekly",
        "timezone": zone,
        "weekly_dow": data.draw(st.sampled_from([(local.weekday() + 1) % 7]) | st.integers(0, 6)),
        "send_hour": data.draw(st.sampled_from(local_hours(zone, change)) | st.integers(0, 23)),
        "send_minute": data.draw(st.sampled_from([0, 30]) | st.integers(0, 59)),
    }
    anchor = (after - timedelta(seconds=data.draw(st.integers(0, 20 * 86400)))).replace(microsecond=0)
    fields[data.draw(st.sampled_from(["start_at", "created_at"]))] = anchor
    expected = ref.biweekly_runs(fields, anchor, after, after + WINDOW)
    got = next_runs(fields, after, len(expected) + 1)
    assert [r for r in got if r <= after + WINDOW] == expected, (fields, after.isoformat())


@settings(max_examples=examples(300), **SETTINGS)
@given(
    anchor=st.datetimes(datetime(1900, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    after=st.datetimes(datetime(1900, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    interval=st.integers(60, 10**8),
    zone=st.sampled_from(ALL_ZONES),
)
def test_interval_is_anchor_plus_whole_intervals(anchor, after, interval, zone):
    fields = {"cadence": "interval", "interval_seconds": interval, "created_at": anchor, "timezone": zone}
    got = next_runs(fields, after, 3)
    step = timedelta(seconds=interval)
    assert len(got) == 3 and got[0] > after and got[0] >= anchor
    assert got[0] == anchor or got[0] - step <= after  # the first such instant, not a later one
    assert all((r - anchor) % step == timedelta(0) for r in got)
    assert [b - a for a, b in zip(got, got[1:])] == [step, step]


@settings(max_examples=examples(200), **SETTINGS)
@given(zone=zones, data=st.data(),
       after=st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_next_runs_equals_chained_next_run_after(zone, data, after):
    fields = {"cadence": "cron", "cron_expression": cron_expression(data.draw, [], None), "timezone": zone}
    try:
        runs = next_runs(fields, after, 5)
    except TimingError:
        return
    chained, t = [], after
    for _ in range(5):
        t = next_run_after(fields, t)
        if t is None:
            break
        chained.append(t)
    assert runs == chained


# The ends of datetime's range, where converting to UTC leaves it (year 0 or 10000).
EXTREMES = [
    datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-12))),
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
]
# Values that may turn up in a row or a JSON body, good and bad.
any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.integers(-2, 61),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["once", "hourly", "daily", "weekly", "biweekly", "monthly", "cron", "interval"]),
    st.sampled_from(["UTC", "America/New_York", "Pacific/Apia", "Mars/Olympus", "", "/etc/passwd", "../UTC"]),
    st.sampled_from(["*/5 * * * *", "0 9 * * 1-5", "@daily", "@reboot", "0 0 30 2 *", "* * * *", "L * * * *"]),
    st.datetimes(timezones=st.none() | st.just(UTC) | st.sampled_from([ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Kiritimati")])),
    st.sampled_from(EXTREMES),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=examples(3000), **SETTINGS)
@given(
    fields=st.dictionaries(st.sampled_from([*TIMING_FIELDS, "created_at", "name"]), any_value),
    after=st.datetimes(timezones=st.just(UTC)) | st.sampled_from(EXTREMES),
)
def test_validation_raises_only_timing_errors_and_valid_fields_compute(fields, after):
    try:
        validate_timing(fields)
    except TimingError as e:
        assert isinstance(e.field, str) and e.message and str(e) == e.message
        return
    # Whatever passed validation can be computed, at any instant, without an exception.
    runs = next_runs(fields, after, 2)
    assert all(r.tzinfo is UTC and r > after for r in runs)
    assert all(r >= fields["start_at"] for r in runs if fields.get("start_at"))
    assert all(r <= fields["end_at"] for r in runs if fields.get("end_at"))
    assert runs == sorted(set(runs))


aware_instants = st.one_of(
    st.sampled_from(EXTREMES),
    st.datetimes(timezones=st.just(UTC) | st.sampled_from([ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12")])),
    st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
)


@settings(max_examples=examples(1500), **SETTINGS)
@given(
    cadence=st.sampled_from(["once", "hourly", "daily", "weekly", "biweekly", "monthly", "cron", "interval"]),
    weekly_dow=st.integers(0, 6),
    monthly_dom=st.sampled_from([-1, 1, 15, 28, 29, 30, 31]),
    send_hour=st.none() | st.integers(0, 23),
    send_minute=st.none() | st.integers(0, 59),
    cron_expression=st.sampled_from(["*/5 * * * *", "0 9 * * 1-5", "@yearly", "0 0 29 2 */7", "30 2 * * *"]),
    interval_seconds=st.sampled_from([60, 86400, 2**31 - 1]),
    zone=st.sampled_from(["UTC", "America/New_York", "Pacific/Apia", "Pacific/Kiritimati", "Etc/GMT+12"]),
    start_at=st.none() | aware_instants,
    end_at=st.none() | aware_instants,
    created_at=st.none() | aware_instants,
    after=aware_instants,
)
def test_any_valid_fields_compute_at_any_instant(cadence, weekly_dow, monthly_dom, send_hour, send_minute,
                                                  cron_expression, interval_seconds, zone, start_at, end_at,
                                                  created_at, after):
    fields = {
        "cadence": cadence, "weekly_dow": weekly_dow, "monthly_dom": monthly_dom, "send_hour": send_hour,
        "send_minute": send_minute, "cron_expression": cron_expression, "interval_seconds": interval_seconds,
        "timezone": zone, "start_at": start_at, "end_at": end_at, "created_at": created_at,
    }
    if cadence == "once" and start_at is None:
        fields["start_at"] = start_at = after
    assume(start_at is None or end_at is None or end_at > start_at)
    validate_timing(fields)
    runs = next_runs(fields, after, 3)
    assert all(r.tzinfo is UTC for r in runs)
    assert all(a < b for a, b in zip([after, *runs], runs))
    assert all(r >= start_at for r in runs if start_at) and all(r <= end_at for r in runs if end_at)
