"""The delivery ledger: one row per (run, channel target), each delivered at most once.

A run's ledger is made once, from the schedule's recipients and channels at its first delivery
(suppressed addresses marked so). Each target is then claimed (`sending`) by the attempt that holds
the run, sent, and recorded: `sent`, back to `pending` after a transient failure (retried by a later
attempt), or `failed`. A target whose sender was lost mid-send is never sent again: whether it arrived is
unknown, and a duplicate is worse than saying so. Its message id is stable per (run, target), so a
receiver can also drop a repeat.

`ledger_targets` lists a run's targets (its schedule's recipients and active channels, each with its
message id) and `Senders` holds a worker process's senders; `deliver_pending` runs one delivery pass
with them (`email` and the types that core/deliveries/channel_types.py registers, each keeping its
`Channel` contract); every email attempt is also a row in `email_log`, written by the statement that
records its outcome.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time

from psycopg2.extras import Json

from core.deliveries import channel_types
from core.deliveries.channel_types import Channel, Sent, shown_target
from core.deliveries.email import EmailChannel
from core.ops import db
from core.ops.sql import queries
from core.runs.run import Run

logger = logging.getLogger(__name__)


def message_id(run_id: str, channel: str, target: str, domain: str) -> str:
    """The stable id of one (run, target) message, the same on every attempt: an email's Message-ID
    (`domain` is the sender's), or a Standard Webhooks message id for every other channel."""
    if channel != "email":
        digest = hashlib.sha256(f"{run_id}:{channel}:{target}".encode()).hexdigest()[:32]
        return f"msg_{digest}"
    digest = hashlib.sha256(f"{channel}:{target.lower()}".encode()).hexdigest()[:20]
    return f"<run-{run_id}.{digest}@{domain}>"


def ledger_targets(settings, schedule: dict, run_id) -> list[tuple[str, str, str]]:
    """A run's targets: one per distinct recipient (email), then one per active channel of the
    schedule (`active_channels`, as core.runs.lifecycle.take reads them), each with its message id."""
    domain = EmailChannel.message_domain(settings)
    pairs = [("email", email) for email in dict.fromkeys(schedule["recipients"] or [])]
    pairs += [(channel["type"], channel["url"]) for channel in schedule["active_channels"] or []]
    return [(channel, target, message_id(run_id, channel, target, domain)) for channel, target in pairs]


class Senders(dict):
    """A worker process's senders by channel name, for `deliver_pending`: email through the process's
    MailerPool, every registered type with connections borrowed from `pool` (a db.ConnectionPool).
    Each is made the first time a target of its channel is sent, and kept: a run delivered by email
    alone makes no webhook sender. The senders keep no per-run state, so the runs of a process's
    threads share them (two threads making the same one at once keep either)."""

    def __init__(self, settings, mailers, pool):
        super().__init__()
        self._settings, self._mailers, self._pool = settings, mailers, pool

    def __missing__(self, channel: str):
        sender = (EmailChannel(self._settings, self._mailers) if channel == "email"
                  else channel_types.TYPES[channel].make(self._settings, self._pool))
        self[channel] = sender
        return sender


def is_empty(result) -> bool:
    """Whether the task said its result is empty, for deliver_when `not_empty` (core/runs/tasks.py's
    contract): `"empty": true` (a JSON boolean) in its object."""
    return isinstance(result, dict) and result.get("empty") is True


def content_hash(result) -> str:
    """The content hash deliver_when `changed` compares: SHA-256 (hex) of the result's `content_key`,
    or of the whole result without `empty`, as canonical JSON (sorted keys, no spaces)."""
    if isinstance(result, dict) and "content_key" in result:
        content = result["content_key"]
    elif isinstance(result, dict):
        content = {key: value for key, value in result.items() if key != "empty"}
    else:
        content = result
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def open_ledger(cur, run: Run, targets: list[tuple[str, str, str]], *, result: dict | None = None,
                deliver_when: str = "always", empty: bool = False):
    """Store `result` (the task's, when this attempt ran it) with its content hash, make the run's ledger
    from (channel, target, message id) triples unless it exists already, and claim its first target to
    send, in one statement. A new ledger is judged by `deliver_when` (`empty`: the task said its result
    is empty: `is_empty`): its targets are all `skipped` when there is no news. Returns its
    targets still to send, the claimed one first (`claimed` True: it is this attempt's to send now), or
    None when this attempt no longer holds the run (nothing was written)."""
    cur.execute(queries["open_deliveries"], {
        "run_id": run.id, "attempt": run.attempt, "account_id": run.account_id,
        "result": Json(result) if result is not None else None,
        "result_hash": content_hash(result) if result is not None else None,
        "deliver_when": deliver_when, "empty": empty,
        "channels": [t[0] for t in targets], "targets": [t[1] for t in targets],
        "message_ids": [t[2] for t in targets]})
    rows = cur.fetchall()
    if not rows[0]["held"]:
        return None
    return [{key: value for key, value in row.items() if key != "held"} for row in rows if row["id"] is not None]


def abandon_unknown(cur, run_id: str, *, through_attempt: int, resend: bool) -> int:
    """The targets that attempts up to `through_attempt` left `sending` (their sender died before it
    recorded the answer): back to pending, to be sent again with the same message id (`resend`), or
    failed with "outcome unknown". Returns how many."""
    cur.execute(queries["abandon_unknown_deliveries"],
                {"run_id": run_id, "through_attempt": through_attempt, "resend": resend})
    return cur.rowcount


def give_up_pending(cur, run_id: str, why: str) -> None:
    cur.execute(queries["give_up_pending_deliveries"], {"run_id": run_id, "why": why})


def summary(cur, run_id: str) -> dict:
    cur.execute(queries["delivery_summary"], {"run_id": run_id})
    return cur.fetchone()


def record(cur, target: dict, run: Run, status: str, sent: Sent) -> None:
    """The outcome of one send by the attempt that claimed the target (and an email's email_log row)."""
    email = sent.email
    cur.execute(queries["record_delivery"], {
        "delivery_id": target["id"], "attempt": run.attempt, "status": status, "error": sent.error,
        "account_id": run.account_id, "schedule_id": run.schedule_id, "run_id": run.id,
        "to": target["target"], "provider": email.provider if email else None,
        "subject": email.subject if email else None, "response_code": email.response_code if email else None})


def deliver_pending(pool, run: Run, schedule: dict, result: dict, channels: dict[str, Channel], *,
                    targets: list[tuple[str, str, str]] = (), save: bool = False, resend_unknown: bool = True) -> dict:
    """One delivery pass over the run's pending targets by the attempt that holds the run.

    The ledger is opened first (made from `targets` when the run has none yet, with `result` stored
    when `save`: `ledger_targets` gives the targets), and its first target is
    claimed by the same statement. Every other target is claimed by a statement of its own, and each
    claim commits before the target is sent and its outcome is recorded by another statement after.
    Every step is one statement on a connection borrowed from `pool` for it (none is held while a
    message is sent), committed on its own: a crash between two of them leaves nothing that a later
    attempt or the supervisor's or the lease's recovery does not finish. Recording an outcome is
    retried while PostgreSQL is unreachable (record_outcome): a message that went out is never left
    `sending` for a database blip. Returns how many were sent, failed and left for a retry in this
    pass; `lost` is True when the pass stopped because this attempt no longer holds the run. The
    caller concludes the run (core.runs.lifecycle.conclude_delivery).
    """
    counts = {"sent": 0, "failed": 0, "retry": 0, "lost": False}
    unreachable: set[str] = set()
    with pool.connection() as conn, db.service_statements(conn) as cur:
        if run.attempt > 1:
            # Targets an earlier attempt was sending when it was lost (if nobody handed them back yet).
            abandon_unknown(cur, run.id, through_attempt=run.attempt - 1, resend=resend_unknown)
        if run.attempt > 1 or run.trigger == "resend":
            # Who unsubscribed since the ledger was made (a resend's, when it was asked for) is not sent to.
            cur.execute(queries["suppress_pending_deliveries"], {"run_id": run.id})
        pending = open_ledger(cur, run, list(targets), result=result if save else None,
                              deliver_when=schedule.get("deliver_when") or "always", empty=is_empty(result))
        if pending is None:
            counts["lost"] = True
            return counts
        if pending and pending[0]["claimed"]:
            target = pending.pop(0)
        else:
            target = _claim_next(cur, pending, run, unreachable, counts)
    while target is not None:
        outcome = channels[target["channel"]].send(target, run, schedule, result)
        if outcome.ok:
            status, counts["sent"] = "sent", counts["sent"] + 1
        elif outcome.permanent:
            status, counts["failed"] = "failed", counts["failed"] + 1
        else:
            status, counts["retry"] = "pending", counts["retry"] + 1
            if outcome.unreachable:
                unreachable.add(target["channel"])
        done = target
        record_outcome(pool, done, run, status, outcome)
        with pool.connection() as conn, db.service_statements(conn) as cur:
            target = _claim_next(cur, pending, run, unreachable, counts)
        if not outcome.ok:
            logger.warning("Delivery of run %s to %s failed (%s): %s", run.id,
                           shown_target(done["channel"], done["target"]),
                           "gave up" if outcome.permanent else "will retry", outcome.error,
                           extra={"run_id": run.id, "schedule_id": schedule["id"]})
    return counts


# Waits between attempts to record a send's outcome while PostgreSQL is unreachable: about 3.5 minutes
# in all, longer than a server restart or a managed database's failover.
RECORD_RETRY_DELAYS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 30, 30, 30, 30, 30)


def record_outcome(pool, target: dict, run: Run, status: str, sent: Sent, *,
                   delays=RECORD_RETRY_DELAYS, sleep=time.sleep) -> None:
    """`record` on a connection of `pool`, tried again (on a new connection) while PostgreSQL is
    unreachable: the message went out (or was refused), and only the ledger can say so. If PostgreSQL
    stays away longer than `delays`, the error is raised and the row stays `sending`: the run's next
    attempt sends it again with the same message id (UNKNOWN_OUTCOME)."""
    for delay in (*delays, None):
        try:
            with pool.connection() as conn, db.service_statements(conn) as cur:
                record(cur, target, run, status, sent)
            return
        except db.CONNECTION_ERRORS as exc:
            if delay is None:
                raise
            logger.warning("Could not record the delivery of run %s to %s (%s: %s); retrying in %gs",
                           run.id, shown_target(target["channel"], target["target"]), type(exc).__name__,
                           str(exc).strip(), delay, extra={"run_id": run.id})
            sleep(delay)


def _claim_next(cur, pending: list, run: Run, unreachable: set, counts: dict):
    """Claim the next target of `pending` (consumed from the front) whose channel is reachable; None
    when there is none left, or when this attempt no longer holds the run (counts["lost"])."""
    while pending:
        target = pending.pop(0)
        if target["channel"] in unreachable:
            counts["retry"] += 1
            continue
        cur.execute(queries["claim_delivery"], {"delivery_id": target["id"], "attempt": run.attempt})
        if cur.fetchone() is None:
            counts["lost"] = True  # send nothing more
            return None
        return target
    return None
