"""The vocabulary of a run's life: its statuses, which are final, which count as a failure, and the
overlap policies. One place, read by the worker, the ticker, the API schemas and the metrics, and
checked against the migration's CHECK constraint by tests/integration/test_schema.py.

    pending -> queued -> running -> succeeded | failed | delivery_failed
                  ^         |
                  |         v
                  +---- retrying (waits in PostgreSQL until not_before; the ticker pushes it)

`buffered` is an occurrence kept by the `buffer_one` overlap policy until the schedule's unfinished
run ends; `missed`, `skipped_limit` and `skipped_overlap` are recorded and never executed.
"""
from __future__ import annotations

UNFINISHED = ("pending", "queued", "running", "retrying", "buffered")
# Runs that hold the schedule "busy" for the overlap policy (a buffered run waits for them).
IN_FLIGHT = ("pending", "queued", "running", "retrying")
FINAL = ("succeeded", "failed", "delivery_failed", "missed", "skipped_limit", "skipped_overlap")
ALL = UNFINISHED + FINAL
# Final statuses that count as a failed run in the schedule's counters, health checks and metrics.
FAILURES = ("failed", "delivery_failed")

OVERLAP_POLICIES = ("skip", "buffer_one", "allow")
DEFAULT_OVERLAP_POLICY = "skip"

DELIVERY_STATUSES = ("pending", "sending", "sent", "suppressed", "failed")
