"""A run's life, in one place: its transitions, and the pushing of its job.

    pending -> queued -> running -> succeeded | failed | delivery_failed | skipped_limit
                  ^         |
                  |         v
                  +---- retrying (waits in PostgreSQL until not_before)

Who moves a run (core/model.py names the statuses):
- The ticker is the only pusher. It pushes the jobs of pending runs (its own batches, manual runs,
  released buffered runs, runs a crash or a Redis outage left pending) and of retries that came due,
  and pushes again the job of a queued run that Redis no longer has. A job's id is derived from the
  run and the attempt (`run-<id>`, `run-<id>-a2`), so pushing the same attempt twice makes no second job.
- A worker takes a run with a compare-and-set queued -> running on the attempt its job carries and
  holds it by a lease it renews while it works. Every later write of that worker is a compare-and-set
  on (status running, that attempt): a worker presumed dead that wakes up finds no row and stops.
- The ticker recovers a running run whose lease ran out (the worker was killed, lost or hung): its
  next attempt, or `failed` saying the worker was lost once attempts are used up.

Retries wait here, in PostgreSQL (status `retrying`, `not_before`), never only in Redis, so an
empty Redis loses none. A run's result is stored once, by the attempt that ran the task; later
attempts only deliver what is still pending in the ledger (core/deliveries/delivery.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from core.deliveries import delivery
from core.model import FAILURES
from core.ops import db
from core.ops.clock import utcnow
from core.ops.sql import queries
from core.runs.rq_jobs import JOB_ID_PREFIX, job_id_for, lost_jobs, push_runs, quarantine_queue
from core.runs.run import Run, attempt_budget, retry_delay
from core.schedule import pauses

logger = logging.getLogger(__name__)

# Runs younger than this belong to a ticker between its commit and its push: leave them to it.
REPUSH_GRACE_SECONDS = 5.0
ERROR_LIMIT = 2000


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]


# ---------------------------------------------------------------------------- pushing (the ticker)

def queue_runs(conn, redis_conn, queue_name: str, run_ids, *, job_timeout: int,
               skip_existing: bool = False, accounts: dict[str, str] | None = None) -> list[str]:
    """Mark pending runs queued and push their first attempt's jobs, in one transaction; returns the
    runs this call queued.

    The compare-and-set comes first so that the rows are locked while their jobs are pushed: a
    concurrent re-push skips them, and a worker that picks a job up at once waits the few
    milliseconds until the commit (take_run accepts a pending run at its first attempt and waits on
    its lock, so the job is never dropped as a duplicate). If the push fails, or the ticker dies before
    it commits, the runs stay pending for `push_pending`: no commit-then-push window where a crash
    would leave a queued run without a job.
    """
    run_ids = [str(run_id) for run_id in run_ids]
    if not run_ids:
        return []
    with db.service_transaction(conn) as cur, db.tuple_cursor(cur) as plain:
        held = _hold_over_the_cap(plain, run_ids, accounts)
        if held:
            logger.info("Held %d run(s) over their account's cap on runs in flight: each is pushed when a run "
                        "of its account leaves flight", len(held))
            run_ids = [run_id for run_id in run_ids if run_id not in held]
        plain.execute(queries["mark_runs_queued"], {"run_ids": run_ids, "job_id_prefix": JOB_ID_PREFIX})
        # In id order (time ordered): the order RETURNING gives is the table's, not the batch's, and a
        # catch-up's runs must be queued oldest first.
        queued = sorted(run_id for run_id, in plain.fetchall())
        push_runs(redis_conn, queue_name, queued, job_timeout=job_timeout, skip_existing=skip_existing)
    return queued


def _hold_over_the_cap(plain, run_ids: list[str], accounts: dict[str, str] | None) -> set[str]:
    """Hold the runs over their accounts' caps (hold_runs_over_the_cap); returns them. Given the runs'
    accounts, only runs of accounts whose plan has a cap are looked at, and none when no account has
    one (one small lookup instead of the batch's: most batches of a service hold nothing)."""
    if accounts is not None:
        plain.execute(queries["capped_accounts"], {"account_ids": sorted(set(accounts.values()))})
        capped = {account_id for account_id, in plain.fetchall()}
        run_ids = [run_id for run_id in run_ids if accounts.get(run_id) in capped]
        if not run_ids:
            return set()
    plain.execute(queries["hold_runs_over_the_cap"], {"run_ids": run_ids})
    return {run_id for run_id, in plain.fetchall()}


def release_held(cur, *, limit: int) -> list[str]:
    """Release held runs into the free slots of their accounts' caps (the trigger that does it as runs
    leave flight can miss a slot freed while a hold was committed); returns the runs released, which
    push_pending then pushes."""
    cur.execute(queries["release_held_runs"], {"limit": limit})
    return [row["id"] for row in cur.fetchall()]


def push_pending(conn, redis_conn, queue_name: str, *, job_timeout: int, limit: int,
                 grace: float = REPUSH_GRACE_SECONDS) -> list[str]:
    """Push the jobs of up to `limit` pending runs that are ready (manual and released runs at once,
    the ticker's own after `grace`); returns their ids. A job already in Redis (a ticker died after
    pushing, before committing) is not pushed twice."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries["claim_pushable_pending_runs"], {"grace": grace, "limit": limit})
        run_ids = [row["id"] for row in cur.fetchall()]
        if not run_ids:
            return []
        push_runs(redis_conn, queue_name, run_ids, job_timeout=job_timeout, skip_existing=True)
        cur.execute(queries["mark_runs_queued"], {"run_ids": run_ids, "job_id_prefix": JOB_ID_PREFIX})
        return [row["id"] for row in cur.fetchall()]


def push_due_retries(conn, redis_conn, queue_name: str, *, job_timeout: int, limit: int) -> list[str]:
    """Queue the next attempt of up to `limit` runs whose retry is due (runs handed back by a worker's
    supervisor among them); returns their ids. The runs are marked queued and committed before their
    jobs reach Redis: a worker that takes a job at once must find its run queued (a `retrying` run
    does not match the take's compare-and-set, and the job would be dropped as a duplicate)."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries["claim_due_retries"], {"limit": limit})
        rows = cur.fetchall()
        if not rows:
            return []
        jobs = [(row["id"], row["attempt"] + 1, row["crashes"]) for row in rows]
        cur.execute(queries["mark_retries_queued"], {
            "run_ids": [run_id for run_id, _, _ in jobs],
            "job_ids": [job_id_for(run_id, attempt) for run_id, attempt, _ in jobs]})
        queued = {row["id"] for row in cur.fetchall()}
    # At the head of the queue: a retry waited its turn once already (behind a Monday 9:00 backlog, a
    # run recovered from a lost worker would otherwise wait for the whole queue again). Written anew:
    # a run handed back by a worker's supervisor gets the job id its dead process had taken.
    _push_committed(conn, redis_conn, queue_name, [job for job in jobs if job[0] in queued], back_to="retrying",
                    job_timeout=job_timeout, replace=True, at_front=True)
    return [run_id for run_id, _, _ in jobs if run_id in queued]


def _push_committed(conn, redis_conn, queue_name: str, jobs: list[tuple[str, int, int]], *, back_to: str,
                    **push) -> None:
    """Push the jobs (run id, attempt, crashes) of retries whose `queued` state is committed: a run that
    was in flight when a worker process died (crashes > 0) to the quarantine queue, the others to
    `queue_name`. If the push fails, the runs go back to `back_to` (retrying) for the next tick, unless a worker took one already, and the error is raised; if that fails too, the pass over
    queued runs (push_lost_queued) finds their jobs missing."""
    by_queue: dict[str, list[tuple[str, int]]] = {}
    for run_id, attempt, crashes in jobs:
        by_queue.setdefault(quarantine_queue(queue_name) if crashes else queue_name, []).append((run_id, attempt))
    pushed: set[str] = set()
    try:
        for name, pairs in by_queue.items():
            push_runs(redis_conn, name, pairs, **push)
            pushed.update(run_id for run_id, _ in pairs)
    except Exception:
        unpushed = [run_id for run_id, _, _ in jobs if run_id not in pushed]
        with db.service_transaction(conn) as cur:
            cur.execute(queries["unmark_unpushed"], {"run_ids": unpushed, "back_to": back_to})
        raise


@dataclass
class QueuedCheck:
    """Where a pass over the queued runs stands: checked, pushed again, and the cursor to go on from."""

    checked: int
    repushed: list[str]
    after: tuple[datetime, str] | None


_CURSOR_START = (datetime(1970, 1, 1, tzinfo=timezone.utc), "00000000-0000-0000-0000-000000000000")


def push_lost_queued(conn, redis_conn, queue_name: str, *, job_timeout: int, limit: int, grace: float,
                     lease_seconds: float, after: tuple[datetime, str] | None = None,
                     now: datetime | None = None) -> QueuedCheck:
    """Ask Redis about the jobs of up to `limit` runs queued longer than `grace` (after the cursor
    `after`), and push again, with the same job id, those it no longer has: Redis restarted empty,
    or the worker that took the job died before it could take the run. Returns the pass's position.
    """
    after_at, after_id = after or _CURSOR_START
    now = now or utcnow()
    with db.service_transaction(conn) as cur:
        cur.execute(queries["claim_queued_to_check"],
                    {"grace": grace, "limit": limit, "after_at": after_at, "after_id": after_id})
        rows = cur.fetchall()
        if not rows:
            return QueuedCheck(0, [], None)
        jobs = {row["id"]: (row["attempt"] + 1, row["crashes"]) for row in rows}
        gone = lost_jobs(redis_conn, [job_id_for(run_id, attempt) for run_id, (attempt, _) in jobs.items()],
                         now=now, lease_seconds=lease_seconds)
        lost = [(run_id, attempt, crashes) for run_id, (attempt, crashes) in jobs.items()
                if job_id_for(run_id, attempt) in gone]
        for quarantined in (False, True):
            pairs = [(run_id, attempt) for run_id, attempt, crashes in lost if bool(crashes) == quarantined]
            if pairs:
                push_runs(redis_conn, quarantine_queue(queue_name) if quarantined else queue_name, pairs,
                          job_timeout=job_timeout)
        if lost:
            cur.execute(queries["mark_requeued"], {"run_ids": [run_id for run_id, _, _ in lost]})
    return QueuedCheck(len(rows), [run_id for run_id, _, _ in lost], _position(rows[-1]))


def _position(row) -> tuple[datetime, str]:
    return row["queued_at"], row["id"]


def release_buffered(cur) -> list[str]:
    """Make buffered runs pending once their schedule has no run in flight (the ticker's safety net;
    a run's end releases its own schedule's: finish_run)."""
    cur.execute(queries["release_buffered_runs"])
    return [row["id"] for row in cur.fetchall()]


@dataclass
class Recovered:
    run_id: str
    schedule_id: str
    outcome: str  # "retrying" or a final status
    error: str


def recover_expired_leases(conn, settings, *, limit: int) -> list[Recovered]:
    """Move on up to `limit` running runs whose worker stopped renewing the lease.

    Targets that worker was sending to have an unknown outcome: sent again with the same message id, or
    failed (UNKNOWN_OUTCOME=give_up; core.deliveries.delivery.abandon_unknown). A run that had not
    stored its result goes to its next attempt, or ends `failed` ("worker lost") once
    WORKER_MAX_ATTEMPTS are used; one lost while delivering goes on delivering what is pending.
    """
    recovered = []
    with db.service_transaction(conn) as cur:
        cur.execute(queries["claim_expired_leases"], {"limit": limit})
        for row in cur.fetchall():
            run = Run.from_row(row)
            expired = row["lease_expires_at"].astimezone(timezone.utc).strftime("%H:%M:%SZ")
            error = (f"worker lost: {row['worker'] or 'the worker'} stopped renewing its lease "
                     f"(expired {expired}) during attempt {row['attempt']}")
            delivery.abandon_unknown(cur, row["id"], through_attempt=row["attempt"],
                                     resend=settings.unknown_outcome == "resend")
            attempts = attempt_budget(settings, row["has_result"])
            if row["has_result"] and delivery.summary(cur, row["id"])["total"]:
                outcome = conclude_delivery(cur, run, settings, error_prefix=error).outcome
            elif row["attempt"] < attempts:  # the next attempt reuses a stored result, never re-runs the task
                # At once: the lease already cost a lease's wait, and the attempts bound a crash loop.
                retry(cur, run, error, delay=0)
                outcome = "retrying"
            else:
                error = f"{error}; no attempt left ({row['attempt']} of {attempts})"
                finish(cur, run, "failed", error)
                outcome = "failed"
            recovered.append(Recovered(row["id"], row["schedule_id"], outcome, error))
    return recovered


@dataclass
class HandedBack:
    """What became of one run of a worker process that died or was stopped."""

    run_id: str
    schedule_id: str
    outcome: str  # "retrying" (due now, no attempt counted), or "failed": the run that kills its process
    error: str


# A run in flight for this many deaths of its worker processes is the one that kills them, even if no
# death caught it alone (its quarantine run was lost with Redis, say).
CRASHES_TO_CONVICT = 3


def hand_back(conn, settings, held: list[tuple[str, int]], *, why: str, suspect: bool,
              solo: bool = False) -> list[HandedBack]:
    """The runs (run id, attempt) a worker process held when it died or was stopped, moved on at once
    by its supervisor instead of waiting for their leases; one transaction.

    Each goes back to `retrying`, due now, without an attempt counted against it: its next attempt is
    the one that was lost. Deliveries it was sending when it died have an unknown outcome (sent again
    with the same message id, or failed: UNKNOWN_OUTCOME). `suspect`: the process died (a crash, a
    signal), so any of its runs may have killed it; their `crashes` count it, and the ticker pushes them
    to the quarantine queue, where each runs alone. A suspect that dies alone (`solo`: the process ran
    only it) after an earlier death, or that was in flight in CRASHES_TO_CONVICT deaths, is the run that
    kills its process: it ends `failed` with `why` (the signal or exit code). A stopped process (past a
    timeout, or recycled) kills nobody: its runs are not suspects.
    """
    if not held:
        return []
    resend = settings.unknown_outcome == "resend"
    done: list[HandedBack] = []
    with db.service_transaction(conn) as cur:
        for run_id, attempt in held:
            delivery.abandon_unknown(cur, run_id, through_attempt=attempt, resend=resend)
        if suspect:
            for run_id, attempt in held:
                cur.execute(queries["crashed_running_attempt"], {"run_id": run_id, "attempt": attempt})
                row = cur.fetchone()
                if row is None:
                    continue
                deaths = row["crashes"] + 1
                if (solo and deaths >= 2) or deaths >= CRASHES_TO_CONVICT:
                    error = f"{why}; the run was in flight in each of its {deaths} process deaths"
                    finish(cur, Run.from_row(row), "failed", error)
                    done.append(HandedBack(run_id, row["schedule_id"], "failed", error))
        convicted = {h.run_id for h in done}
        rest = [(run_id, attempt) for run_id, attempt in held if run_id not in convicted]
        error = f"handed back: {why}; not counted as an attempt"
        if rest:
            cur.execute(queries["hand_back_runs"], {
                "run_ids": [run_id for run_id, _ in rest], "attempts": [attempt for _, attempt in rest],
                "suspect": suspect, "error": error[:ERROR_LIMIT]})
            done += [HandedBack(row["id"], row["schedule_id"], "retrying", error) for row in cur.fetchall()]
            cur.execute(queries["wake_tickers"])
    return done


# ---------------------------------------------------------------------------- the worker's side

@dataclass
class Taken:
    """A run its worker took: the run, its schedule, and why it may not run (the plan's limit) or None."""

    run: Run
    schedule: dict
    refused: str | None


# take_run's columns that are not its schedule's (the schedule's id is the run's schedule_id).
_RUN_ONLY = ("id", "schedule_id", "attempt", "trigger", "scheduled_for", "result", "counted")


def take(cur, run_id: str, attempt: int, *, worker: str, lease_seconds: float) -> Taken | None:
    """Take the run for `attempt` (queued -> running, with a lease), counted once against the plan's
    monthly limit; None when this job is a duplicate or stale (the run is elsewhere: running, retried,
    finished). One statement: this is every run's first step."""
    cur.execute(queries["take_run"], {"run_id": run_id, "attempt": attempt, "worker": worker,
                                      "lease": lease_seconds})
    row = cur.fetchone()
    if row is None:
        return None
    run = Run.from_row(row)
    schedule = {"id": run.schedule_id, **{name: value for name, value in row.items() if name not in _RUN_ONLY}}
    refused = None if row["counted"] else (f"monthly run limit of {row['monthly_run_limit']} reached for this "
                                           "account's plan")
    return Taken(run, schedule, refused)


def status_of(cur, run_id: str):
    cur.execute(queries["run_status"], {"run_id": run_id})
    return cur.fetchone()


def renew_leases(conn, held: dict[str, int], lease_seconds: float) -> set[str]:
    """Renew the leases of the runs `held` ({run id: attempt}); returns those this worker still holds."""
    if not held:
        return set()
    with db.service_transaction(conn) as cur:
        cur.execute(queries["renew_leases"], {"run_ids": list(held), "attempts": list(held.values()),
                                              "lease": lease_seconds})
        return {row["id"] for row in cur.fetchall()}


def skip_for_limit(cur, run: Run, error: str) -> bool:
    """running -> skipped_limit: not executed, so not counted; the schedule's last status says so."""
    if _finish(cur, run, "skipped_limit", error, counts=False)["id"] is None:
        return False
    cur.execute(queries["note_skipped_limit"], {"schedule_id": run.schedule_id})
    return True


def retry(cur, run: Run, error: str, *, delay: float) -> bool:
    """running -> retrying, for the ticker to push the next attempt after `delay` seconds."""
    cur.execute(queries["retry_run"], {"run_id": run.id, "attempt": run.attempt,
                                       "error": error[:ERROR_LIMIT], "delay": delay})
    return cur.fetchone() is not None


def finish(cur, run: Run, status: str, error: str | None = None) -> bool:
    """running -> a final status, with the schedule's counters; releases a buffered occurrence."""
    return _finish(cur, run, status, error, counts=True)["id"] is not None


def _finish(cur, run: Run, status: str | None, error: str | None, *, counts: bool) -> dict:
    """finish_run: one statement, unless the failure reaches the schedule's pause_after_failures (the
    pause is then written in a transaction of its own when `cur` is not in one). `status` None: the
    one the ledger gives, when every target is final. Returns finish_run's row (the ledger's summary
    too; `id` None when the run did not finish).

    The counters are in schedule_stats, so this never writes (or locks) the schedules row the ticker
    claims, unless the failure pauses the schedule."""
    cur.execute(queries["finish_run"], {"run_id": run.id, "attempt": run.attempt, "status": status,
                                        "error": error[:ERROR_LIMIT] if error else None, "counts": counts,
                                        "error_limit": ERROR_LIMIT})
    finished = cur.fetchone()
    if finished["status"] in FAILURES and finished["reached_pause_limit"]:
        with db.atomically(cur):
            paused = pauses.pause_for_failures(cur, run.schedule_id, finished["error"])
        if paused is not None:
            logger.warning("Paused schedule %s ('%s'): %s", paused["id"], paused["name"], paused["pause_note"],
                           extra={"schedule_id": str(paused["id"]), "run_id": run.id})
    return finished


def end_timed_out(cur, run_id: str, attempt: int, error: str, settings) -> str | None:
    """End an attempt that ran past its job timeout while its thread is still stuck in it: the next
    attempt after the usual back-off (`retrying`), or `failed` once the attempts are used up (a run
    whose task finished counts delivery attempts too, as recovery does). Returns the outcome, or None
    when this attempt no longer holds the run. The stuck thread's later writes find no row."""
    cur.execute(queries["running_attempt"], {"run_id": run_id, "attempt": attempt})
    row = cur.fetchone()
    if row is None:
        return None
    run = Run.from_row(row)
    attempts = attempt_budget(settings, row["has_result"])
    if attempt < attempts:
        retry(cur, run, error, delay=retry_delay(attempt))
        return "retrying"
    finish(cur, run, "failed", f"{error}; no attempt left ({attempt} of {attempts})")
    return "failed"


@dataclass
class Concluded:
    """How a delivery pass ended the run: its outcome, and the ledger's summary it was judged on."""

    outcome: str  # retrying, succeeded, delivery_failed, or lost (this attempt no longer holds the run)
    summary: dict


def conclude_delivery(cur, run: Run, settings, *, error_prefix: str | None = None) -> Concluded:
    """After a delivery pass: the final status once every target is final (succeeded when each was sent
    or suppressed, else delivery_failed), else retry what is pending while attempts remain, else give it
    up and fail. The outcome is "lost" when this attempt no longer holds the run (it moved on without
    it: nothing was written). The common case, every target final, is one statement."""
    ended = _finish(cur, run, None, None, counts=True)
    if ended["id"] is not None:
        return Concluded(ended["status"], _summary(ended))
    if not ended["unfinished"]:
        return Concluded("lost", _summary(ended))
    tried = ended["pending_attempts"] or 0
    run_attempts_left = run.attempt < attempt_budget(settings, has_result=True)
    if tried < settings.delivery_max_attempts and run_attempts_left:
        error = f"{ended['unfinished']} delivery(ies) to retry; last error: {ended['last_error']}"
        if error_prefix:
            error = f"{error_prefix}; {error}"
        moved = retry(cur, run, error, delay=retry_delay(max(tried, 1)) if not error_prefix else 0)
        return Concluded("retrying" if moved else "lost", _summary(ended))
    delivery.give_up_pending(cur, run.id, f" (gave up after {tried} attempt(s))")
    ended = _finish(cur, run, None, None, counts=True)
    return Concluded(ended["status"] if ended["id"] is not None else "lost", _summary(ended))


_SUMMARY_FIELDS = ("total", "sent", "suppressed", "failed", "unfinished", "pending_attempts", "last_error")


def _summary(row: dict) -> dict:
    return {name: row[name] for name in _SUMMARY_FIELDS}
