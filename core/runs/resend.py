"""Resend: a run's stored result delivered again, to all of its recipients and channels or a subset,
without running its task again.

A resend is a run of its own (trigger `resend`, `resend_of` the run it resends, `requested_by` who
asked) holding a copy of the original's result, and its delivery ledger is made here, when it is asked
for: one `pending` row per target (an address that unsubscribed is `suppressed`, and stays so). The
ticker pushes it like a run-now and the worker delivers it like any run (core/deliveries/delivery.py):
each row sent at most once, retried, recovered. It has new message ids (a receiver must not drop it
as a repeat of the first). It is not counted: no plan usage, no schedule counters, no overlap with the
schedule's own runs, never judged by deliver_when (a person asked). The run it resends lists its rows
among its deliveries, with who asked.

The subset names the original ledger's targets: `recipients` (addresses, any case) and `channels`
(ids of the schedule's channels); both left out is every target of the original ledger. Resending a
resend resends its original.
"""
from __future__ import annotations

from datetime import datetime

from core.deliveries import channel_types, delivery
from core.deliveries.email import EmailChannel
from core.ops.sql import queries
from core.runs.run import resend_run


class ResendRefused(Exception):
    """The run cannot be resent as asked: `status` 409 (no stored result) or 400 (`fields` names the
    bad entries of the subset)."""

    def __init__(self, status: int, message: str, fields: dict | None = None, reason: str | None = None):
        super().__init__(message)
        self.status, self.message, self.fields, self.reason = status, message, fields, reason


def resend(cur, settings, account_id, schedule_id, run_id, *, recipients: list[str] | None = None,
           channel_ids: list | None = None, requested_by: str, now: datetime):
    """Record a resend of `run_id` (of this schedule and tenant) to the subset asked for; returns the
    resend's run with its `deliveries`, or None when there is no such run. ResendRefused when the run
    has no stored result or the subset names a target its ledger does not have."""
    params = {"account_id": account_id, "schedule_id": str(schedule_id), "run_id": str(run_id)}
    cur.execute(queries["resend_source"], params)
    source = cur.fetchone()
    if source is None:
        return None
    if not source["has_result"]:
        raise ResendRefused(409, f"run {source['id']} has no stored result to resend (it is {source['status']}: "
                                 "its task did not run to the end)", reason="no_result")
    cur.execute(queries["resend_targets"], {**params, "run_id": source["id"]})
    ledger = list({(row["channel"], row["target"]): row for row in cur.fetchall()}.values())
    chosen = _choose(ledger, recipients, channel_ids)
    run = resend_run(cur, account_id, params["schedule_id"], source, requested_by=requested_by, now=now)
    domain = EmailChannel.message_domain(settings)
    ids = [delivery.message_id(run["id"], channel, target, domain) for channel, target in chosen]
    cur.execute(queries["insert_resend_deliveries"], {
        "run_id": run["id"], "account_id": account_id, "channels": [c for c, _ in chosen],
        "targets": [t for _, t in chosen], "message_ids": ids})
    rows = cur.fetchall()
    run["deliveries"] = [{**row, "target": channel_types.shown_target(row["channel"], row["target"])} for row in rows]
    return run


def _choose(ledger: list[dict], recipients, channel_ids) -> list[tuple[str, str]]:
    """The (channel, target) pairs of `ledger` the subset names (all when both are None); every entry
    that names no target of the ledger is a 400 naming it."""
    if recipients is None and channel_ids is None:
        chosen = [(row["channel"], row["target"]) for row in ledger]
        if not chosen:
            raise ResendRefused(409, "the run delivered to nobody: there is nothing to resend", reason="no_targets")
        return chosen
    problems: dict = {}
    by_address = {row["target"].lower(): row for row in ledger if row["channel"] == "email"}
    by_channel = {row["channel_id"]: row for row in ledger if row["channel_id"] is not None}
    chosen: dict[tuple[str, str], None] = {}
    for index, address in enumerate(recipients or []):
        row = by_address.get(address.lower())
        if row is None:
            problems.setdefault("recipients", {})[str(index)] = ["not a recipient of this run"]
        else:
            chosen[(row["channel"], row["target"])] = None
    for index, channel_id in enumerate(channel_ids or []):
        row = by_channel.get(str(channel_id))
        if row is None:
            problems.setdefault("channels", {})[str(index)] = ["not a channel of this schedule this run went to"]
        else:
            chosen[(row["channel"], row["target"])] = None
    if problems:
        raise ResendRefused(400, "Invalid input", fields=problems)
    if not chosen:
        raise ResendRefused(400, "Invalid input", fields={
            "recipients": ["name at least one recipient or channel (or leave both out: everyone)"]})
    return list(chosen)
