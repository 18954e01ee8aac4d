"""A run's policy, in one place: how many attempts it gets, how long each retry waits."""
from __future__ import annotations

# A failed attempt is retried after 30 s, then 60 s, 120 s, ... at most an hour.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


def attempt_budget(settings, has_result: bool) -> int:
    """How many attempts a run gets: WORKER_MAX_ATTEMPTS to run its task, and once its result is stored
    DELIVERY_MAX_ATTEMPTS more to deliver it (a later attempt never runs the task again)."""
    return settings.worker_max_attempts + (settings.delivery_max_attempts if has_result else 0)


def retry_delay(attempt_failed: int) -> int:
    """Seconds before the attempt after `attempt_failed` (1-based) is pushed."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempt_failed - 1, 0), RETRY_MAX_SECONDS)
