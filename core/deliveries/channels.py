"""Where a schedule's runs are delivered: its email `recipients` and its `channels` (of the types that
core/deliveries/channel_types.py registers: webhook, Slack).

The API shape: `channels` is a list of `{"type": "<a registered type>", "url": "https://..."}`. In an
edit, an entry may instead be `{"id": "<channel id>"}` to keep an existing channel as it is (a Slack
URL is a secret the API only shows masked, so a client cannot send it back). An edit that leaves
`channels` out keeps them all; one that gives a list replaces them with it.

Each channel is read back with its `id`, `type`, `url` (a Slack URL masked), `status` (`active`, or
`disabled` after its receiver answered 410 Gone, with `disabled_at` and `disabled_reason`).

What a run's delivery does with them is core/deliveries/delivery.py's.
"""
from __future__ import annotations

from core.deliveries import channel_types
from core.ops.sql import queries

MAX_CHANNELS = 10


class UnknownChannel(LookupError):
    """An edit named a channel id that is not one of this schedule's; `index` is its place in the list."""

    def __init__(self, index: int):
        super().__init__(f"channels[{index}]")
        self.index = index


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
