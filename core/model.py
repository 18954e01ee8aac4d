"""The domain's vocabulary in one place: the cadences and the fields each requires, the bounds of a
schedule's fields, the statuses a run goes through, and when a schedule or a ticker is unhealthy.

Pure data and two small functions (no database, no clock, no Flask). Read by the time engine
(core/engine/timing.py), the API schemas and the OpenAPI document (api/schemas.py, api/openapi.py), the
metrics (core/observe/gauges.py) and the health checks (core/observe/health.py, /readyz, the ticker). The migrations'
CHECK constraints say the same in SQL; tests/integration/test_model.py reads them from a migrated
database and fails when the two disagree.

Adding a cadence: its name and required fields here, its rule in core/engine/timing.py, and a migration
widening `schedules_cadence_check` (and redefining `schedule_is_stale` if it runs less often than
weekly).

A run's life:

    pending -> queued -> running -> succeeded | failed | delivery_failed
                  ^         |
                  |         v
                  +---- retrying (waits in PostgreSQL until not_before; the ticker pushes it)

`buffered` is an occurrence kept by the `buffer_one` overlap policy until the schedule's unfinished
run ends; `missed`, `skipped_limit` and `skipped_overlap` are recorded and never executed.
"""
from __future__ import annotations

from typing import NamedTuple

# --------------------------------------------------------------------------- cadences

CADENCES = ("once", "hourly", "daily", "weekly", "biweekly", "monthly", "cron", "interval")
# How the console names each cadence in its form, in CADENCES order.
CADENCE_LABELS = {"once": "Once", "hourly": "Every hour", "daily": "Every day", "weekly": "Every week",
                  "biweekly": "Every other week", "monthly": "Every month", "cron": "Cron expression",
                  "interval": "Fixed interval"}
# The fields each cadence cannot do without ("weekly_dow required for weekly cadence"), as
# core.engine.timing.validate_timing enforces them; the OpenAPI document makes them required per cadence.
REQUIRED_BY_CADENCE: dict[str, tuple[str, ...]] = {
    "once": ("start_at",),
    "hourly": (),
    "daily": (),
    "weekly": ("weekly_dow",),
    "biweekly": ("weekly_dow",),
    "monthly": (),  # monthly_dom, or monthly_week with monthly_dow (MONTHLY_DAY_FIELDS)
    "cron": ("cron_expression",),
    "interval": ("interval_seconds",),
}

# What a schedule with a business calendar does with an occurrence on a day off (core/engine/business_days.py).
ON_HOLIDAY_POLICIES = ("run", "skip", "next_business_day", "previous_business_day")
DEFAULT_ON_HOLIDAY = "run"

# A monthly schedule names its day one of these ways: a day of the month, or the nth weekday.
MONTHLY_DAY_FIELDS = (("monthly_dom",), ("monthly_week", "monthly_dow"))

# --------------------------------------------------------------------------- field bounds

# A PostgreSQL INTEGER: the largest value an INT column holds (an interval of 68 years).
INT32_MAX = 2**31 - 1


class Bound(NamedTuple):
    """An integer field's range, low and high included; `also` lists values allowed outside it."""

    low: int
    high: int
    also: tuple[int, ...] = ()


# monthly_dom's -1: the month's last day (a day past the month's end also means its last day).
LAST_DAY = -1
# Every bounded integer column of `schedules` that the API takes, as both the API and the CHECK
# constraints bound it (a bound of INT32_MAX is the column type's own).
BOUNDS: dict[str, Bound] = {
    "weekly_dow": Bound(0, 6),  # 0 = Sunday .. 6 = Saturday
    "monthly_dom": Bound(1, 31, also=(LAST_DAY,)),
    "monthly_week": Bound(1, 5, also=(LAST_DAY,)),  # the nth monthly_dow of the month; -1: the last
    "monthly_dow": Bound(0, 6),  # 0 = Sunday .. 6 = Saturday
    "send_hour": Bound(0, 23),
    "send_minute": Bound(0, 59),
    "interval_seconds": Bound(60, INT32_MAX),
    "misfire_grace_seconds": Bound(0, INT32_MAX),  # NULL: no limit
    "lookback_days": Bound(1, 3650),
    "catchup_window_seconds": Bound(60, 31 * 86400),
    "window_seconds": Bound(1, 86400),
}

# Seed 001's defaults: a schedule sends at 9:00 in UTC unless told otherwise.
DEFAULT_SEND_HOUR = 9
DEFAULT_SEND_MINUTE = 0
DEFAULT_TIMEZONE = "UTC"

# What to do after downtime: latest (one run for the latest missed occurrence) or all.
CATCHUP_POLICIES = ("latest", "all")
DEFAULT_CATCHUP = "latest"
# When an occurrence falls due while an earlier run is unfinished.
OVERLAP_POLICIES = ("skip", "buffer_one", "allow")
DEFAULT_OVERLAP_POLICY = "skip"
# A schedule's state, as the API's list filters by it and the console shows it: active (on), paused
# (inactive with who, why and maybe until when: POST .../pause), disabled (off: POST .../disable).
SCHEDULE_STATES = ("active", "paused", "disabled")
# A name search counts its matches up to this many: past it, a page's total is this lower bound (not
# exact), so that a word every name holds costs a page, not a reading of the account's every name.
SEARCH_COUNT_LIMIT = 10_000
# What POST /v1/schedules/bulk does to every schedule its filter picks (core/schedule/bulk.py).
BULK_ACTIONS = ("pause", "resume", "enable", "disable", "delete", "add_recipient", "remove_recipient")
# What a schedule's change history records (schedule_changes.action).
CHANGE_ACTIONS = ("create", "update", "enable", "disable", "pause", "resume")

# --------------------------------------------------------------------------- runs

UNFINISHED = ("pending", "queued", "running", "retrying", "buffered")
# Runs that hold the schedule "busy" for the overlap policy (a buffered run waits for them); in SQL,
# run_in_flight(status) (migration 0028).
IN_FLIGHT = ("pending", "queued", "running", "retrying")
# Runs that count against their account's cap on runs in flight (a plan's max_runs_in_flight; a held
# run does not, and a retrying one waits for a slot again); in SQL, run_takes_a_slot(status).
TAKING_A_SLOT = ("pending", "queued", "running")
FINAL = ("succeeded", "failed", "delivery_failed", "missed", "skipped_limit", "skipped_overlap")
RUN_STATUSES = UNFINISHED + FINAL
# Final statuses that count as a failed run in the schedule's counters, health checks and metrics.
FAILURES = ("failed", "delivery_failed")
# What made a run: its schedule's rule, a person (run now), a backfill of a past range, or a resend of
# an earlier run's stored result (POST .../runs/{run_id}/resend: not counted, never run again).
TRIGGERS = ("schedule", "manual", "backfill", "resend")

# skipped: not sent because of the schedule's deliver_when (the ledger row's skip_reason says which).
DELIVERY_STATUSES = ("pending", "sending", "sent", "suppressed", "failed", "skipped")
# When a run's result is delivered: always, only when the task did not say it is empty (core/runs/tasks.py),
# or only when its content differs from the last delivered result's.
DELIVER_WHEN = ("always", "not_empty", "changed")
DEFAULT_DELIVER_WHEN = "always"

# --------------------------------------------------------------------------- health

# A schedule's problems (seed 003's monitoring), for active schedules only:
# - failing: FAILING_MIN_RUNS or more finished runs and under half of them succeeded;
# - stale: not `once`, created more than STALE_AFTER_DAYS days ago, and no run for as long (for a
#   biweekly, monthly or longer-interval schedule: no run for a day more than its own period, so
#   waiting for next month is not a problem); the SQL function `schedule_is_stale`
#   (migrations/0013_health_rules.sql) is the one definition, both health.sql and gauges.sql call it;
# - consecutive_failures: its last CONSECUTIVE_FAILURES or more runs failed;
# - paused_after_failures: it paused itself after `pause_after_failures` failed runs in a row
#   (inactive, listed until someone resumes, enables or disables it).
HEALTH_KINDS = ("failing", "stale", "consecutive_failures", "paused_after_failures")
FAILING_MIN_RUNS = 10
CONSECUTIVE_FAILURES = 3
STALE_AFTER_DAYS = 7


def health_parameters() -> dict:
    """The thresholds every health query takes as parameters, so they are written here only."""
    return {"failing_min_runs": FAILING_MIN_RUNS, "consecutive_failures": CONSECUTIVE_FAILURES,
            "stale_after_days": STALE_AFTER_DAYS}


def ticker_alive_within(tick_interval: float) -> float:
    """Seconds within which a ticker's last heartbeat must be for it to count as alive.

    The one rule: /readyz and the ticker's `schedules_ticker_heartbeat_age` alert judge a ticker by it,
    and each ticker counts the others by it (how many lanes to run). A live ticker beats at least once
    per TICK_INTERVAL (at most about once a second while busy); three missed intervals mean it is gone,
    with 2 x TICK_INTERVAL + 10 s as the floor, room for a slow tick on a short interval.
    """
    return max(3 * tick_interval, 2 * tick_interval + 10)
