"""Where a schedule's runs are delivered: its email `recipients` and its `channels` (of the types that
core/deliveries/channel_types.py registers: webhook, Slack).

The API shape: `channels` is a list of `{"type": "<a registered type>", "url": "https://..."}`. In an
edit, an entry may instead be `{"id": "<channel id>"}` to keep an existing channel as it is (a Slack
URL is a secret the API only shows masked, so a client cannot send it back). An edit that leaves
`channels` out keeps them all; one that gives a list replaces them with it.

Each channel is read back with its `id`, `type`, `url` (a Slack URL masked), `status` (`active`, or
`disabled` after its receiver answered 410 Gone, with `disabled_at` and `disabled_reason`).

For the worker (one small entry point, so worker/jobs.py stays small): `ledger_targets` gives the
(channel, target, message id) triples of a run's ledger, `Senders` the senders by channel.
"""
from __future__ import annotations

import hashlib

from core.deliveries import channel_types, delivery
from core.deliveries.email import EmailChannel
from core.ops.sql import queries

MAX_CHANNELS = 10


class UnknownChannel(LookupError):
    """An edit named a channel id that is not one of this schedule's; `index` is its place in the list."""

    def __init__(self, index: int):
        super().__init__(f"channels[{index}]")
        self.index = index


def webhook_id(run_id, channel: str, url: str) -> str:
    """The Standard Webhooks message id of one (run, endpoint): the same on every attempt."""
    digest = hashlib.sha256(f"{run_id}:{channel}:{url}".encode()).hexdigest()[:32]
    return f"msg_{digest}"


def public(row: dict) -> dict:
    return {"id": row["id"], "type": row["type"], "url": channel_types.shown_target(row["type"], row["url"]),
            "status": "disabled" if row["disabled_at"] else "active",
            "disabled_at": row["disabled_at"], "disabled_reason": row["disabled_reason"]}


def attach(cur, account_id, rows):
    """Give each schedule row (one, a list, or None) its `channels`, as the API shows them."""
    many = isinstance(rows, list)
    items = [r for r in (rows if many else [rows]) if r is not None]
    if items:
        cur.execute(queries["list_schedule_channels"],
                    {"account_id": account_id, "schedule_ids": [str(r["id"]) for r in items]})
        by_schedule: dict[str, list] = {}
        for channel in cur.fetchall():
            by_schedule.setdefault(str(channel["schedule_id"]), []).append(public(channel))
        for row in items:
            row["channels"] = by_schedule.get(str(row["id"]), [])
    return rows


def save(cur, account_id, schedule_id, entries: list[dict]) -> None:
    """Make the schedule's channels exactly `entries` (each {type, url} or {id}); UnknownChannel if an
    id is not this schedule's."""
    keep_ids, keep_types, keep_urls = [], [], []
    for position, entry in enumerate(entries):
        params = {"schedule_id": schedule_id, "account_id": account_id, "position": position}
        if entry.get("id") is not None:
            cur.execute(queries["keep_schedule_channel"], {**params, "id": entry["id"]})
            if cur.fetchone() is None:
                raise UnknownChannel(position)
            keep_ids.append(str(entry["id"]))
        else:
            cur.execute(queries["insert_schedule_channel"], {**params, "type": entry["type"], "url": entry["url"]})
            keep_types.append(entry["type"])
            keep_urls.append(entry["url"])
    cur.execute(queries["delete_other_schedule_channels"], {
        "schedule_id": schedule_id, "account_id": account_id, "keep_ids": keep_ids,
        "keep_types": keep_types, "keep_urls": keep_urls})


def enable(cur, account_id, schedule_id, channel_id):
    """Send to a disabled channel again; returns it as the API shows it, or None if it is not this schedule's."""
    cur.execute(queries["enable_schedule_channel"],
                {"id": channel_id, "schedule_id": schedule_id, "account_id": account_id})
    row = cur.fetchone()
    return public(row) if row else None


def ledger_targets(settings, schedule: dict, run_id) -> list[tuple[str, str, str]]:
    """A run's targets: one per distinct recipient (email), then one per active channel of the
    schedule (`active_channels`, as core.runs.lifecycle.take reads them)."""
    domain = EmailChannel.message_domain(settings)
    targets = [("email", email, delivery.message_id(run_id, "email", email, domain))
               for email in dict.fromkeys(schedule["recipients"] or [])]
    targets += [(channel["type"], channel["url"], webhook_id(run_id, channel["type"], channel["url"]))
                for channel in schedule["active_channels"] or []]
    return targets


class Senders(dict):
    """A worker process's senders by channel name, for core.deliveries.delivery.deliver_pending: email
    through the process's MailerPool, every registered type with connections borrowed from `pool` (a
    db.ConnectionPool). Each is made the first time a target of its channel is sent, and kept: a run
    delivered by email alone makes no webhook sender. The senders keep no per-run state, so the runs
    of a process's threads share them (two threads making the same one at once keep either)."""

    def __init__(self, settings, mailers, pool):
        super().__init__()
        self._settings, self._mailers, self._pool = settings, mailers, pool

    def __missing__(self, channel: str):
        sender = (EmailChannel(self._settings, self._mailers) if channel == "email"
                  else channel_types.TYPES[channel].make(self._settings, self._pool))
        self[channel] = sender
        return sender
