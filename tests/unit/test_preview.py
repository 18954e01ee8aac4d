"""`python -m ticker preview` (ticker.preview.main): output format, shortcuts, limits, bad input."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from ticker.preview import main


def preview(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_schedule_json_prints_utc_then_local_wall_time(capsys):
    schedule = {
        "name": "Weekly Market Snapshot",
        "report_type": "market_snapshot",
        "recipients": ["client@example.com"],
        "cadence": "weekly",
        "weekly_dow": 1,
        "send_hour": 9,
        "send_minute": 0,
        "timezone": "America/New_York",
        "active": True,
    }
    code, out, err = preview(capsys, "--schedule", json.dumps(schedule), "--after", "2026-03-01T00:00:00Z",
                             "--count", "2")
    assert (code, err) == (0, [])
    assert out == [
        "2026-03-02T14:00:00Z  2026-03-02 09:00:00 EST (-05:00)",
        "2026-03-09T13:00:00Z  2026-03-09 09:00:00 EDT (-04:00)",
    ]


def test_cron_shortcut_with_zone(capsys):
    code, out, _ = preview(capsys, "--cron", "30 2 * * *", "--tz", "America/New_York",
                           "--after", "2026-03-07T00:00:00Z", "--count", "2")
    assert code == 0
    assert out == [
        "2026-03-07T07:30:00Z  2026-03-07 02:30:00 EST (-05:00)",
        "2026-03-08T07:00:00Z  2026-03-08 03:00:00 EDT (-04:00)  # moved to the end of the spring-forward gap: "
        "the clocks jumped from 02:00 EST to 03:00 EDT, so the rule's wall time did not exist that day",
    ]


def test_a_delivery_window_prints_the_dispatch_instant(capsys):
    schedule = '{"cadence": "daily", "window_seconds": 900, "id": "9b2f0c55-0d4b-4a7e-8a44-3f3b1c1a0001"}'
    code, out, _ = preview(capsys, "--schedule", schedule, "--after", "2026-04-01T00:00:00Z", "--count", "3")
    assert code == 0 and len(out) == 3
    for line in out:
        assert line.startswith("2026-04-0") and "09:00:00Z  2026-04-0" in line
        if "#" in line:
            dispatched = line.split("# dispatched at ")[1]
            assert dispatched[11:16] in {f"09:{m:02d}" for m in range(15)}


def test_a_repeated_hour_is_explained(capsys):
    code, out, _ = preview(capsys, "--cron", "30 1 * * *", "--tz", "America/New_York",
                           "--after", "2026-11-01T00:00:00Z", "--count", "1")
    assert out == ["2026-11-01T05:30:00Z  2026-11-01 01:30:00 EDT (-04:00)  # first of a repeated hour (clocks "
                   "fall back): a fixed-time rule runs once, at the first"]


def test_cron_shortcut_defaults_to_utc_and_five_runs(capsys):
    code, out, _ = preview(capsys, "--cron", "@daily", "--after", "2026-03-07T12:00:00+01:00")
    assert code == 0
    assert out == [f"2026-03-{d:02d}T00:00:00Z  2026-03-{d:02d} 00:00:00 UTC (+00:00)" for d in range(8, 13)]


@freeze_time("2026-03-06 12:00:00")
def test_after_defaults_to_now(capsys):
    code, out, _ = preview(capsys, "--schedule", '{"cadence": "daily"}', "--count", "1")
    assert (code, out) == (0, ["2026-03-07T09:00:00Z  2026-03-07 09:00:00 UTC (+00:00)"])


def test_offset_that_is_not_whole_minutes_is_printed_with_seconds(capsys):
    code, out, _ = preview(capsys, "--schedule", '{"cadence": "daily", "timezone": "Africa/Monrovia"}',
                           "--after", "1972-01-06T00:00:00Z", "--count", "2")
    assert code == 0
    assert out == [
        "1972-01-06T09:44:30Z  1972-01-06 09:00:00 MMT (-00:44:30)",
        "1972-01-07T09:00:00Z  1972-01-07 09:00:00 GMT (+00:00)",
    ]


def test_rfc3339_bounds_in_the_schedule_and_fewer_lines_when_it_ends(capsys):
    schedule = {"cadence": "daily", "start_at": "2026-03-10T00:00:00Z", "end_at": "2026-03-11T09:00:00+00:00"}
    code, out, _ = preview(capsys, "--schedule", json.dumps(schedule), "--after", "2026-03-01T00:00:00Z")
    assert code == 0
    assert [line.split()[0] for line in out] == ["2026-03-10T09:00:00Z", "2026-03-11T09:00:00Z"]


def test_once_schedule(capsys):
    schedule = {"cadence": "once", "start_at": "2026-03-10T08:15:30.250000-05:00"}
    code, out, _ = preview(capsys, "--schedule", json.dumps(schedule), "--after", "2026-03-01T00:00:00Z")
    assert (code, out) == (0, ["2026-03-10T13:15:30.250000Z  2026-03-10 13:15:30.250000 UTC (+00:00)"])


def test_ended_schedule_prints_nothing(capsys):
    schedule = {"cadence": "once", "start_at": "2026-03-10T00:00:00Z"}
    code, out, err = preview(capsys, "--schedule", json.dumps(schedule), "--after", "2026-04-01T00:00:00Z")
    assert (code, out, err) == (0, [], [])


@pytest.mark.parametrize("count", ["1", "1000"])
def test_count_limits_are_inclusive(capsys, count):
    code, out, _ = preview(capsys, "--cron", "*/5 * * * *", "--after", "2026-03-01T00:00:00Z", "--count", count)
    assert code == 0 and len(out) == int(count)


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "--schedule" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--schedule", "{not json"], "error: --schedule is not valid JSON"),
        (["--schedule", "[1, 2]"], "error: --schedule must be a JSON object"),
        (["--schedule", "[" * 100000], "error: --schedule is not valid JSON"),
        (["--schedule", "{}"], "error: cadence is required"),
        (["--schedule", '{"cadence": "weekly"}'], "error: weekly_dow required for weekly cadence"),
        (["--schedule", '{"cadence": "daily", "send_hour": 24}'], "error: send_hour must be between 0 and 23"),
        (["--schedule", '{"cadence": "daily", "send_hour": 9.0}'], "error: send_hour must be an integer"),
        (["--schedule", '{"cadence": "daily", "timezone": "Mars/Olympus"}'],
         "error: timezone: unknown time zone 'Mars/Olympus'"),
        (["--schedule", '{"cadence": "once", "start_at": "tomorrow"}'],
         "error: start_at must be an RFC 3339 timestamp with an offset"),
        (["--schedule", '{"cadence": "once", "start_at": "2026-03-10T00:00:00"}'],
         "error: start_at must be an RFC 3339 timestamp with an offset"),
        (["--schedule", '{"cadence": "once", "start_at": 1773100800}'], "error: start_at must be an RFC 3339"),
        (["--schedule", '{"cadence": "daily", "start_at": "2026-03-10T00:00:00Z", "end_at": "2026-03-01T00:00:00Z"}'],
         "error: end_at must be after start_at"),
        (["--schedule", '{"cadence": "daily"}', "--tz", "UTC"], "error: --tz applies to --cron only"),
        (["--cron", "61 * * * *"], "error: cron_expression has a bad minute field '61'"),
        (["--cron", "@reboot"], "error: cron_expression @reboot is not supported"),
        (["--cron", "0 9 * * MON-FRI#1"], "error: cron_expression has a bad day-of-week field 'MON-FRI#1'"),
        (["--cron", "@DAILY"], "error: cron_expression has an unknown macro '@DAILY'"),
        (["--cron", "@daily", "--tz", "Mars/Olympus"], "error: timezone: unknown time zone 'Mars/Olympus'"),
        (["--cron", "@daily", "--after", "yesterday"], "error: --after must be an RFC 3339 timestamp"),
        (["--cron", "@daily", "--after", "2026-03-01T00:00:00"], "error: --after must be an RFC 3339 timestamp"),
        (["--cron", "@daily", "--count", "0"], "error: --count must be between 1 and 1000, got 0"),
        (["--cron", "@daily", "--count", "1001"], "error: --count must be between 1 and 1000, got 1001"),
        (["--cron", "@daily", "--count", "five"], "error: argument --count: invalid int value: 'five'"),
        ([], "error: one of the arguments --schedule --cron is required"),
        (["--cron", "@daily", "--schedule", "{}"], "error: argument --schedule: not allowed with argument --cron"),
        (["--cron", "@daily", "--bogus"], "error: unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(capsys, argv, message):
    code, out, err = preview(capsys, *argv)
    assert code == 2
    assert out == []
    assert len(err) == 1 and err[0].startswith(message), err


def test_the_end_of_the_computed_range_is_an_error_naming_it(capsys):
    code, out, err = preview(capsys, "--cron", "0 0 * * *", "--tz", "UTC", "--after", "9998-12-31T12:00:00Z",
                             "--count", "2")
    assert (code, out) == (2, [])
    assert err == ["error: no runs are computed after 9998-12-31T00:00:00Z"]


def test_runs_before_the_end_of_the_range_are_printed_then_the_error(capsys):
    code, out, err = preview(capsys, "--cron", "0 0 * * *", "--after", "9998-12-29T12:00:00Z", "--count", "5")
    assert code == 2
    assert out == ["9998-12-30T00:00:00Z  9998-12-30 00:00:00 UTC (+00:00)",
                   "9998-12-31T00:00:00Z  9998-12-31 00:00:00 UTC (+00:00)"]
    assert err == ["error: only 2 run(s) come at or before 9998-12-31T00:00:00Z, the last instant runs are "
                   "computed for"]


def test_a_schedule_that_ends_by_itself_prints_its_last_runs_without_an_error(capsys):
    schedule = {"cadence": "daily", "send_hour": 0, "end_at": "2026-01-03T00:00:00Z"}
    code, out, err = preview(capsys, "--schedule", json.dumps(schedule), "--after", "2026-01-01T12:00:00Z",
                             "--count", "5")
    assert (code, len(out), err) == (0, 2, [])


FIRST_OF_MONTH = {"cadence": "monthly", "monthly_dom": 1, "send_hour": 9, "timezone": "America/New_York",
                  "on_holiday": "next_business_day"}


def test_a_business_calendar_given_whole_moves_its_days_off(capsys):
    code, out, err = preview(capsys, "--schedule", json.dumps(FIRST_OF_MONTH), "--calendar",
                             json.dumps({"country": "US", "add_dates": ["2027-02-01"]}),
                             "--after", "2026-12-06T00:00:00Z", "--count", "3")
    assert (code, err) == (0, [])
    assert out == [
        "2027-01-04T14:00:00Z  2027-01-04 09:00:00 EST (-05:00)  # 1 January 2027 is New Year's Day (US): "
        "moved to the next business day, 4 January 2027",
        "2027-02-02T14:00:00Z  2027-02-02 09:00:00 EST (-05:00)  # 1 February 2027 is a day off of this calendar "
        "(add_dates): moved to the next business day, 2 February 2027",
        "2027-03-01T14:00:00Z  2027-03-01 09:00:00 EST (-05:00)",
    ]


@pytest.mark.parametrize("argv, message", [
    # A stored calendar cannot be read here: a preview ignoring its days off would be wrong.
    (["--schedule", json.dumps({**FIRST_OF_MONTH, "calendar_id": "0190f3a0-0000-7000-8000-000000000000"})],
     "error: on_holiday next_business_day follows a business calendar's days off: give the calendar with --calendar"),
    (["--schedule", json.dumps(FIRST_OF_MONTH), "--calendar", json.dumps({"country": "XX"})],
     "error: --calendar: country: unknown country 'XX'"),
    (["--schedule", json.dumps(FIRST_OF_MONTH), "--calendar", "[1]"], "error: --calendar must be a JSON object"),
    (["--cron", "0 9 1 * *", "--calendar", json.dumps({"country": "US"})], "error: --calendar applies to --schedule"),
])
def test_a_calendar_that_cannot_be_used_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = preview(capsys, *argv)
    assert (code, out, len(err)) == (2, [], 1)
    assert err[0].startswith(message), err
