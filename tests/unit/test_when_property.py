"""core/engine/when.py against the brute-force reference (tests/unit/cron_reference.py): `catchup: all` and
backfill ranges give exactly the reference's occurrences, each once, oldest first, and delivery
windows dispatch each occurrence inside its window and before the next one, on random rules and
zones near real offset changes."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine.timing import TimingError, validate_timing
from core.engine.when import MAX_CATCHUP_RUNS, catchup_occurrences, next_dispatch, occurrences_between
from tests.unit import cron_reference as ref
from tests.unit.test_timing_property import (SETTINGS, cadence_fields, cron_expression, examples, local_hours,
                                             near_a_change, zones)

_MICROSECOND = timedelta(microseconds=1)


def _rule_and_fields(data, zone, change):
    if data.draw(st.booleans()):
        expression = cron_expression(data.draw, local_hours(zone, change), change.astimezone(ZoneInfo(zone)))
        fields = {"cadence": "cron", "cron_expression": expression, "timezone": zone}
        try:
            validate_timing(fields)
        except TimingError:
            return None, None
        return fields, ref.cron_rule(expression)
    fields = cadence_fields(data.draw, zone, change)
    return fields, ref.cadence_rule(fields)


@settings(max_examples=examples(250), **SETTINGS)
@given(st.data())
def test_catchup_all_runs_every_reference_occurrence_in_the_window_once(data):
    zone = data.draw(zones)
    change, before = near_a_change(data.draw, zone, (1995, 2037))
    fields, rule = _rule_and_fields(data, zone, change)
    if fields is None:
        return
    tz = ZoneInfo(zone)
    first = ref.runs(rule, tz, before, before + timedelta(hours=26))
    if not first:
        return
    due = first[0]  # the occurrence the schedule was due for when the outage began
    now = due + timedelta(seconds=data.draw(st.integers(0, 24 * 3600)))
    window = data.draw(st.integers(60, 26 * 3600))
    fields = {**fields, "catchup": "all", "catchup_window_seconds": window}
    expected = [r for r in ref.runs(rule, tz, due - _MICROSECOND, now) if r >= now - timedelta(seconds=window)]
    got = catchup_occurrences(fields, due, now)
    assert got == expected[-MAX_CATCHUP_RUNS:], (fields, due.isoformat(), now.isoformat())
    assert all(a < b for a, b in zip(got, got[1:])), "oldest first, none twice"


@settings(max_examples=examples(250), **SETTINGS)
@given(st.data())
def test_a_backfill_range_holds_exactly_the_reference_occurrences(data):
    zone = data.draw(zones)
    change, start = near_a_change(data.draw, zone, (1995, 2037))
    fields, rule = _rule_and_fields(data, zone, change)
    if fields is None:
        return
    end = start + timedelta(seconds=data.draw(st.integers(0, 24 * 3600)))
    expected = ref.runs(rule, ZoneInfo(zone), start - _MICROSECOND, end)
    limit = data.draw(st.sampled_from([5, 2000]))
    got = occurrences_between(fields, start, end, limit)
    assert got == expected[:limit + 1], (fields, start.isoformat(), end.isoformat())


@settings(max_examples=examples(250), **SETTINGS)
@given(st.data())
def test_a_window_dispatches_each_reference_occurrence_inside_its_window_and_before_the_next(data):
    zone = data.draw(zones)
    change, after = near_a_change(data.draw, zone, (1995, 2037))
    fields, rule = _rule_and_fields(data, zone, change)
    if fields is None:
        return
    window = data.draw(st.integers(1, 86400))
    fields = {**fields, "id": data.draw(st.uuids()), "window_seconds": window}
    expected = ref.runs(rule, ZoneInfo(zone), after, after + timedelta(hours=26))
    if len(expected) < 2:
        return
    occurrence, dispatch = next_dispatch(fields, after)
    assert occurrence == expected[0]
    assert occurrence <= dispatch < occurrence + timedelta(seconds=window)
    assert dispatch < expected[1], "never at or after the next occurrence"
    assert next_dispatch(fields, after) == (occurrence, dispatch), "the same every time"
