"""Retention: runs and email_log rows older than RUN_RETENTION_DAYS go, a little at a time.

The ticker runs one pass a minute, and one every few seconds while a backlog remains (ticker/chores.py).
A pass is statements each deleting at most BATCH_ROWS rows in its own short transaction, so no lock is
held long; it goes on while there is more to delete, for at most PASS_SECONDS (dispatch waits that long
at most), and says whether it stopped with more to do (`more`). At the rate bench "retention" measures,
that deletes a day of 10,000,000 runs in minutes of statements, and a backlog many times faster than
runs are made (docs/benchmarks.md).

Runs: the newest KEEP_RUNS of each schedule are never deleted, whatever their age, so a monthly
schedule keeps its history. Finding "old but not among the newest 20" from the oldest rows of the
table would re-read every protected row on every pass (20 per schedule, forever); instead the sweep
visits schedules in id order, SCHEDULES_PER_STATEMENT at a time, and asks each one's index for its
20th newest run and the runs older than it. Where the sweep got to is kept between passes; at the
end of the table it starts over. Unfinished runs (pending, queued, running) are never deleted.

email_log: rows older than the cutoff, oldest first (a send log, not the audit trail).

Each pass also folds the schedule counts' deltas into their counts (core/schedule/counts.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.ops import db
from core.ops.sql import queries
from core.schedule import counts, idempotency

KEEP_RUNS = 20
BATCH_ROWS = 1000
SCHEDULES_PER_STATEMENT = 1000
# A pass deletes for at most this long (each statement a short transaction of its own): runs for up to
# 60% of it, then email_log rows with what is left. The ticker dispatches nothing meanwhile.
PASS_SECONDS = 0.5


@dataclass
class Pruned:
    runs: int = 0
    emails: int = 0
    more: bool = False  # the pass's time ran out with rows left to delete: the next should come soon


class RetentionSweep:
    """Where the sweep over schedules got to, and one pass of it."""

    def __init__(self, *, keep: int = KEEP_RUNS, batch_rows: int = BATCH_ROWS,
                 schedules_per_statement: int = SCHEDULES_PER_STATEMENT, seconds: float = PASS_SECONDS,
                 run_statements: int | None = None, email_statements: int | None = None, clock=time.monotonic):
        """`seconds` bounds a pass; `run_statements` / `email_statements` (tests) bound it by count too."""
        assert keep >= 1 and batch_rows >= 1 and schedules_per_statement >= 1
        self.keep = keep
        self.batch_rows = batch_rows
        self.schedules_per_statement = schedules_per_statement
        self.seconds = seconds
        self.run_statements = run_statements
        self.email_statements = email_statements
        self.clock = clock
        self.after = None  # the last schedule id fully swept; None: start from the first

    def run_pass(self, conn, now: datetime, retention_days: int) -> Pruned:
        """Delete what is older than `retention_days` before `now`, within this pass's budget."""
        cutoff = now - timedelta(days=retention_days)
        pruned = Pruned()
        started = self.clock()
        ends_at = started + self.seconds
        # Runs get most of the pass; email_log (a row per message) what is left, at least 40% of it.
        for _ in _budget(self.run_statements, started + 0.6 * self.seconds, self.clock):
            with db.service_transaction(conn) as cur:
                cur.execute(queries["prune_runs"], {
                    "after": self.after, "cutoff": cutoff, "keep": self.keep, "limit": self.batch_rows,
                    "schedules": self.schedules_per_statement})
                step = cur.fetchone()
            pruned.runs += step["deleted"]
            if step["deleted"] >= self.batch_rows:
                pruned.more = True
                continue  # this chunk of schedules may hold more: stay on it
            if step["schedules"] < self.schedules_per_statement:
                self.after = None  # the end of the table: the next pass starts over
                pruned.more = False
                break
            self.after = step["last_schedule_id"]
            pruned.more = True  # schedules after this chunk are still to visit
        emails_more = False
        for _ in _budget(self.email_statements, ends_at, self.clock):
            with db.service_transaction(conn) as cur:
                cur.execute(queries["prune_email_log"], {"cutoff": cutoff, "limit": self.batch_rows})
                deleted = cur.fetchone()["deleted"]
            pruned.emails += deleted
            emails_more = deleted >= self.batch_rows
            if not emails_more:
                break
        # A backlog is rows deleted with more to go; chunks of schedules with nothing to delete are not.
        pruned.more = (pruned.more and pruned.runs > 0) or emails_more
        # Idempotency keys are answered for a day only (core/schedule/idempotency.py): expired ones go too.
        with db.service_transaction(conn) as cur:
            idempotency.delete_expired(cur, now, limit=self.batch_rows)
        # The schedule counts' deltas (core/schedule/counts.py) fold into their counts, a batch a pass,
        # more passes while more are left.
        with db.service_transaction(conn) as cur:
            if counts.fold(cur, limit=self.batch_rows) >= self.batch_rows:
                pruned.more = True
        return pruned


def _budget(statements: int | None, ends_at: float, clock):
    """Yield while the pass has time left (and, with `statements`, that many times at most)."""
    done = 0
    while clock() < ends_at and (statements is None or done < statements):
        yield done
        done += 1
