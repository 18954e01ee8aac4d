"""What a run is, in one place: its shape (`Run`) and its policy (how many attempts it gets, how long
each retry waits). core.runs.lifecycle moves runs by these; the worker and the ticker read them here."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Mapping

# A failed attempt is retried after 30 s, then 60 s, 120 s, ... at most an hour.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


@dataclass(frozen=True)
class Run:
    """One attempt's view of a run: which run, of which schedule and account, at which attempt (every
    transition is a compare-and-set on it), and what the worker needs to execute it (the trigger, the
    occurrence, the result an earlier attempt stored). A statement that only moves a run returns the
    first three; core.runs.lifecycle.take returns them all."""

    id: str
    schedule_id: str
    attempt: int
    account_id: str | None = None
    trigger: str | None = None
    scheduled_for: datetime | None = None
    result: dict | None = None

    @classmethod
    def from_row(cls, row: Mapping) -> "Run":
        """The run of a row that names its columns as schedule_runs does (id, schedule_id, attempt and
        whichever of the others its statement returns); the row's other columns are not the run's."""
        return cls(**{field.name: row[field.name] for field in fields(cls) if field.name in row})


def attempt_budget(settings, has_result: bool) -> int:
    """How many attempts a run gets: WORKER_MAX_ATTEMPTS to run its task, and once its result is stored
    DELIVERY_MAX_ATTEMPTS more to deliver it (a later attempt never runs the task again)."""
    return settings.worker_max_attempts + (settings.delivery_max_attempts if has_result else 0)


def retry_delay(attempt_failed: int) -> int:
    """Seconds before the attempt after `attempt_failed` (1-based) is pushed."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempt_failed - 1, 0), RETRY_MAX_SECONDS)
