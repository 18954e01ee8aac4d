"""The delivery ledger: one row per (run, channel target), each delivered at most once.

A run's ledger is made once, from the schedule's recipients and channels at its first delivery
(suppressed addresses marked so). Each target is then claimed (`sending`) by the attempt that holds
the run, sent, and recorded: `sent`, back to `pending` after a transient failure (retried by a later
attempt), or `failed`. A target whose sender was lost mid-send is never sent again: whether it arrived is
unknown, and a duplicate is worse than saying so. Its message id is stable per (run, target), so a
receiver can also drop a repeat.

`deliver_pending` runs one delivery pass with the channels it is given (`email`, `webhook`, `slack`:
core/deliveries/channels.py builds the targets and the senders); every email attempt is also a row in
`email_log`.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import urlsplit

from core.ops import db
from core.ops.sql import queries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """The outcome of sending to one target."""

    ok: bool
    error: str | None = None
    permanent: bool = False     # retrying cannot help (a 5xx refusal): the target fails now
    unreachable: bool = False   # the channel itself is down: stop this pass, retry them all later
    log: Callable | None = None  # log(cursor): the channel's own record of the send (email_log), written
                                 # in the transaction that records the outcome


class Channel(Protocol):
    def send(self, target: dict, run: dict, schedule: dict, result: dict) -> Sent: ...


def shown_target(channel: str, target: str) -> str:
    """A target as the API and the logs show it: a Slack incoming-webhook URL is a credential, so only
    its host and last 4 characters (delivery_summary's SQL masks it the same way)."""
    if channel != "slack":
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}/…{target[-4:]}"


def message_id(run_id: str, channel: str, target: str, domain: str) -> str:
    """The stable id of one (run, target) message: the same on every attempt."""
    digest = hashlib.sha256(f"{channel}:{target.lower()}".encode()).hexdigest()[:20]
    return f"<run-{run_id}.{digest}@{domain}>"


def open_ledger(cur, run: dict, targets: list[tuple[str, str, str]]) -> list[dict]:
    """Make the run's ledger from (channel, target, message id) triples, unless it exists already;
    returns its targets still to send, in the order they were made."""
    cur.execute(queries["open_deliveries"], {
        "run_id": run["id"], "account_id": run["account_id"],
        "channels": [t[0] for t in targets], "targets": [t[1] for t in targets],
        "message_ids": [t[2] for t in targets]})
    return list(cur.fetchall())


def abandon_unknown(cur, run_id: str, *, through_attempt: int) -> int:
    """Mark failed (outcome unknown) the targets that attempts up to `through_attempt` left `sending`."""
    cur.execute(queries["abandon_unknown_deliveries"], {"run_id": run_id, "through_attempt": through_attempt})
    return cur.rowcount


def give_up_pending(cur, run_id: str, why: str) -> None:
    cur.execute(queries["give_up_pending_deliveries"], {"run_id": run_id, "why": why})


def summary(cur, run_id: str) -> dict:
    cur.execute(queries["delivery_summary"], {"run_id": run_id})
    return cur.fetchone()


def log_email(cur, *, account_id, schedule_id, run_id, provider: str, to: str, subject: str,
              response_code: int | None, error: str | None) -> None:
    cur.execute(queries["log_email"], {
        "account_id": account_id, "schedule_id": schedule_id, "run_id": run_id, "provider": provider,
        "to_emails": [to], "subject": subject, "response_code": response_code, "error": error})


def deliver_pending(conn, run: dict, schedule: dict, result: dict, channels: dict[str, Channel], *,
                    before: Callable | None = None, after: Callable | None = None) -> dict:
    """One delivery pass over the run's pending targets by the attempt that holds the run.

    Each target is claimed in a transaction that commits before it is sent, and its outcome recorded
    in another after, so a crash between the two leaves it `sending` (never sent twice). To spend few
    commits per run, the claim of the next target shares the transaction that records the previous
    one, the first claim shares the one that opens the ledger (with the targets `before(cursor)`
    returns, when the run has no ledger yet; None from it stops the pass: the attempt no longer holds
    the run), and `after(cursor)` (the run's conclusion) shares the last. Returns how many were sent,
    failed and left for a retry in this pass; `lost` is True when the pass stopped because this attempt
    no longer holds the run (`after` was not called).
    """
    counts = {"sent": 0, "failed": 0, "retry": 0, "lost": False}
    unreachable: set[str] = set()
    with db.service_transaction(conn) as cur:
        targets = before(cur) if before is not None else []
        if targets is None:
            counts["lost"] = True
            return counts
        if run["attempt"] > 1:  # a ledger an earlier attempt made: who unsubscribed since is not sent to
            cur.execute(queries["suppress_pending_deliveries"], {"run_id": run["id"]})
        pending = open_ledger(cur, run, targets)
        target = _claim_next(cur, pending, run, unreachable, counts)
        if target is None and not counts["lost"] and after is not None:
            after(cur)
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
        with db.service_transaction(conn) as cur:
            if outcome.log is not None:
                outcome.log(cur)
            cur.execute(queries["record_delivery"], {"delivery_id": done["id"], "attempt": run["attempt"],
                                                     "status": status, "error": outcome.error})
            target = _claim_next(cur, pending, run, unreachable, counts)
            if target is None and not counts["lost"] and after is not None:
                after(cur)
        if not outcome.ok:
            logger.warning("Delivery of run %s to %s failed (%s): %s", run["id"],
                           shown_target(done["channel"], done["target"]),
                           "gave up" if outcome.permanent else "will retry", outcome.error,
                           extra={"run_id": run["id"], "schedule_id": schedule["id"]})
    return counts


def _claim_next(cur, pending: list, run: dict, unreachable: set, counts: dict):
    """Claim the next target of `pending` (consumed from the front) whose channel is reachable; None
    when there is none left, or when this attempt no longer holds the run (counts["lost"])."""
    while pending:
        target = pending.pop(0)
        if target["channel"] in unreachable:
            counts["retry"] += 1
            continue
        cur.execute(queries["claim_delivery"], {"delivery_id": target["id"], "attempt": run["attempt"]})
        if cur.fetchone() is None:
            counts["lost"] = True  # send nothing more
            return None
        return target
    return None
