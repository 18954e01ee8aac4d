"""The delivery ledger: one row per (run, channel target), each delivered at most once.

A run's ledger is made once, from the schedule's recipients and channels at its first delivery
(suppressed addresses marked so). Each target is then claimed (`sending`) by the attempt that holds
the run, sent, and recorded: `sent`, back to `pending` after a transient failure (retried by a later
attempt), or `failed`. A target whose sender was lost mid-send is never sent again: whether it arrived is
unknown, and a duplicate is worse than saying so. Its message id is stable per (run, target), so a
receiver can also drop a repeat.

`deliver_pending` runs one delivery pass with the channels it is given (`email`, `webhook`, `slack`:
core/channels.py builds the targets and the senders); every email attempt is also a row in `email_log`.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from core import db
from core.sql import queries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """The outcome of sending to one target."""

    ok: bool
    error: str | None = None
    permanent: bool = False     # retrying cannot help (a 5xx refusal): the target fails now
    unreachable: bool = False   # the channel itself is down: stop this pass, retry them all later


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


def create_ledger(cur, run: dict, targets: list[tuple[str, str, str]]) -> None:
    """Make the run's ledger from (channel, target, message id) triples, unless it exists already."""
    cur.execute(queries["create_deliveries"], {
        "run_id": run["id"], "account_id": run["account_id"],
        "channels": [t[0] for t in targets], "targets": [t[1] for t in targets],
        "message_ids": [t[2] for t in targets]})


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


def deliver_pending(conn, run: dict, schedule: dict, result: dict, channels: dict[str, Channel]) -> dict:
    """One delivery pass over the run's pending targets by the attempt that holds the run.

    Each target is claimed in its own transaction before it is sent and recorded in another after,
    so a crash between the two leaves it `sending` (never sent twice). Returns how many were sent,
    failed and left for a retry in this pass.
    """
    counts = {"sent": 0, "failed": 0, "retry": 0}
    with db.service_transaction(conn) as cur:
        cur.execute(queries["suppress_pending_deliveries"], {"run_id": run["id"]})
        cur.execute(queries["pending_deliveries"], {"run_id": run["id"]})
        pending = cur.fetchall()
    unreachable = set()
    for target in pending:
        if target["channel"] in unreachable:
            counts["retry"] += 1
            continue
        with db.service_transaction(conn) as cur:
            cur.execute(queries["claim_delivery"], {"delivery_id": target["id"], "attempt": run["attempt"]})
            if cur.fetchone() is None:
                return counts  # this attempt no longer holds the run: send nothing more
        outcome = channels[target["channel"]].send(target, run, schedule, result)
        if outcome.ok:
            status, counts["sent"] = "sent", counts["sent"] + 1
        elif outcome.permanent:
            status, counts["failed"] = "failed", counts["failed"] + 1
        else:
            status, counts["retry"] = "pending", counts["retry"] + 1
            if outcome.unreachable:
                unreachable.add(target["channel"])
        with db.service_transaction(conn) as cur:
            cur.execute(queries["record_delivery"], {"delivery_id": target["id"], "attempt": run["attempt"],
                                                     "status": status, "error": outcome.error})
        if not outcome.ok:
            logger.warning("Delivery of run %s to %s failed (%s): %s", run["id"],
                           shown_target(target["channel"], target["target"]),
                           "gave up" if outcome.permanent else "will retry", outcome.error,
                           extra={"run_id": run["id"], "schedule_id": schedule["id"]})
    return counts
