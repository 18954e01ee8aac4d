"""`python -m ticker preview`: print a schedule's next runs, one a line, UTC instant then wall time.

    preview --schedule '{"cadence": "weekly", "weekly_dow": 1, "timezone": "America/New_York"}'
    preview --cron '30 2 * * *' --tz America/New_York --after 2026-03-07T00:00:00Z --count 3
    preview --schedule '{"cadence": "monthly", "monthly_dom": 1, "on_holiday": "next_business_day"}' \
            --calendar '{"country": "US", "add_dates": ["2027-03-01"]}'

The schedule JSON is what the API takes; fields other than the timing ones (and `window_seconds`,
with `id` for its offsets) are ignored. A business calendar is given whole with --calendar (a
calendar as `GET /v1/calendars/{id}` answers it: country, subdivision, weekend, add_dates,
remove_dates): this CLI reads no database, so a schedule whose `on_holiday` is not `run` without
--calendar is an error rather than a preview that ignores its days off. A run that is not a plain match of the rule says why after
a `#`: moved to the end of a spring-forward gap, first or second of a repeated hour, clamped to the
month's last day, dispatched later inside its delivery window, bounded by start_at/end_at. Bad input
gives one line on stderr and exit code 2, never a traceback. Runs are computed up to
9998-12-31T00:00:00Z: when fewer than --count come before it, the ones that do are printed, then one
`error:` line naming that limit, and the exit code is 2. The CLI reads the clock for the default
--after; the engine (core.engine.timing) never does.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from core.engine.business_days import CalendarError, from_mapping
from core.engine.explain import explained_runs
from core.engine.timing import TIMING_FIELDS, RangeEndError, TimingError, next_runs_in_range, validate_timing
from core.ops.clock import utcnow

MAX_COUNT = 1000
# Timing fields that JSON carries as RFC 3339 strings; the engine takes datetimes.
_INSTANT_FIELDS = ("start_at", "end_at", "created_at")


class _UsageError(Exception):
    """Bad input; the message is the one line printed after "error: "."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage plus a line; one line is enough here
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ticker preview",
        description="Print a schedule's next runs: the UTC instant, then the local wall time.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--schedule", metavar="JSON", help="the schedule as the API takes it")
    source.add_argument("--cron", metavar="EXPR", help="shortcut for a cron schedule")
    parser.add_argument("--calendar", metavar="JSON",
                        help="the business calendar the schedule follows, as GET /v1/calendars/{id} answers it")
    parser.add_argument("--tz", metavar="ZONE", help="IANA time zone for --cron (default UTC)")
    parser.add_argument("--after", metavar="RFC3339", help="count runs after this instant (default now)")
    parser.add_argument("--count", metavar="N", type=int, default=5, help=f"how many runs, 1..{MAX_COUNT} (default 5)")
    return parser


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
        fields = _fields(args)
        after = _parse_instant("--after", args.after) if args.after else utcnow()
        if not 1 <= args.count <= MAX_COUNT:
            raise _UsageError(f"--count must be between 1 and {MAX_COUNT}, got {args.count}")
        validate_timing(fields)
        next_runs_in_range(fields, after, args.count)  # RangeEndError past the engine's range
        runs = explained_runs(fields, after, args.count)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except _UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RangeEndError as e:
        _print_runs(explained_runs(fields, after, len(e.runs)), fields)
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except TimingError as e:
        print(f"error: {_error_text(e)}", file=sys.stderr)
        return 2
    _print_runs(runs, fields)
    return 0


def _print_runs(runs: list[dict], fields: dict) -> None:
    """One line per explained run (core.engine.explain.explained_runs)."""
    zone = ZoneInfo(fields.get("timezone") or "UTC")
    for run in runs:
        print(format_run(run["at"], zone) + explanation(run))


def _error_text(error: TimingError) -> str:
    """The message, after the field's name unless the message starts with it already."""
    if error.message.startswith(error.field):
        return error.message
    return f"{error.field}: {error.message}"


def explanation(run: dict) -> str:
    """`  # <why>; <why>` after a run that is not a plain match of its rule, else nothing."""
    notes = [reason["detail"] for reason in run["reasons"]]
    if run["dispatch_at"] != run["at"]:
        notes = [f"dispatched at {run['dispatch_at'].astimezone(timezone.utc).replace(tzinfo=None).isoformat()}Z"
                 if reason["code"] == "window" else reason["detail"] for reason in run["reasons"]]
    return "  # " + "; ".join(notes) if notes else ""


def format_run(run: datetime, zone: ZoneInfo) -> str:
    """`2026-03-09T13:00:00Z  2026-03-09 09:00:00 EDT (-04:00)`."""
    local = run.astimezone(zone)
    utc_text = run.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    wall = local.replace(tzinfo=None).isoformat(sep=" ")
    return f"{utc_text}  {wall} {local.tzname()} ({_offset_text(local)})"


def _offset_text(local: datetime) -> str:
    seconds = int(local.utcoffset().total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    # Historic local mean times are not whole minutes (Monrovia was -00:44:30 until 1972).
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def _fields(args: argparse.Namespace) -> dict:
    fields = _schedule_fields(args)
    if args.calendar is not None:
        if args.cron is not None:
            raise _UsageError('--calendar applies to --schedule, whose "on_holiday" says what a day off does')
        fields["calendar"] = _calendar(args.calendar)
    elif fields.get("on_holiday") not in (None, "run"):
        raise _UsageError(f"on_holiday {fields['on_holiday']} follows a business calendar's days off: give the "
                          "calendar with --calendar '{\"country\": \"US\", ...}' (as GET /v1/calendars/{id} "
                          "answers it), or preview the saved schedule with GET /v1/schedules/{id}/preview")
    return fields


def _calendar(text: str):
    try:
        values = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _UsageError(f"--calendar is not valid JSON: {e}") from None
    if not isinstance(values, dict):
        raise _UsageError("--calendar must be a JSON object")
    try:
        return from_mapping(values)
    except CalendarError as e:
        raise _UsageError(f"--calendar: {e.field}: {e.message}") from None


def _schedule_fields(args: argparse.Namespace) -> dict:
    if args.cron is not None:
        return {"cadence": "cron", "cron_expression": args.cron, "timezone": args.tz or "UTC"}
    if args.tz is not None:
        raise _UsageError('--tz applies to --cron only; put "timezone" in the schedule JSON')
    try:
        schedule = json.loads(args.schedule)
    except (ValueError, RecursionError) as e:
        raise _UsageError(f"--schedule is not valid JSON: {e}") from None
    if not isinstance(schedule, dict):
        raise _UsageError("--schedule must be a JSON object")
    fields = {name: schedule[name] for name in (*TIMING_FIELDS, "created_at", "window_seconds", "id")
              if name in schedule}
    for name in _INSTANT_FIELDS:
        if fields.get(name) is not None:
            if not isinstance(fields[name], str):
                raise TimingError(name, f"{name} must be an RFC 3339 timestamp, e.g. 2026-03-09T13:00:00Z")
            fields[name] = _parse_instant(name, fields[name])
    return fields


def _parse_instant(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        message = f"{name} must be an RFC 3339 timestamp with an offset, e.g. 2026-03-09T13:00:00Z, got {text!r}"
        if name.startswith("--"):
            raise _UsageError(message)
        raise TimingError(name, message)
    return moment
