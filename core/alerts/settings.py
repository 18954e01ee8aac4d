"""Where an account's alerts go and which events it wants (alert_settings, migration 0019).

Destinations: `emails` (addresses; an address that unsubscribed gets no alert: its ledger row is
`suppressed`) and `channels` (`{"type", "url"}`, of a type core/deliveries/channel_types.py registers,
each with an `id`; a Slack URL is a credential and is only ever shown masked, so an edit keeps a
channel by sending `{"id"}`).
`events`: any of core.alerts.EVENTS. An account that never saved settings wants every event and has
no destination: its incidents are listed, nothing is sent.
"""
from __future__ import annotations

import uuid

from psycopg2.extras import Json

from core.alerts import EVENTS
from core.deliveries.channel_types import shown_target
from core.ops.sql import queries


class UnknownChannel(LookupError):
    """An edit kept a channel id that is not one of the settings' channels; `index` is its place."""

    def __init__(self, index: int):
        super().__init__(f"channels[{index}]")
        self.index = index


def _stored(cur, account_id) -> dict:
    cur.execute(queries["get_alert_settings"], {"account_id": account_id})
    row = cur.fetchone()
    return dict(row) if row else {"emails": [], "channels": [], "events": list(EVENTS), "updated_at": None}


def get(cur, account_id) -> dict:
    """The settings as the API shows them (Slack URLs masked)."""
    return public(_stored(cur, account_id))


def public(row: dict) -> dict:
    return {"emails": list(row["emails"]), "events": [e for e in EVENTS if e in row["events"]],
            "channels": [{"id": c["id"], "type": c["type"], "url": shown_target(c["type"], c["url"])}
                         for c in row["channels"]],
            "updated_at": row["updated_at"]}


def save(cur, account_id, *, emails: list[str], channels: list[dict], events: list[str]) -> dict:
    """Replace the settings; a channel entry `{"id"}` keeps that channel (UnknownChannel if it is not one)."""
    existing = {c["id"]: c for c in _stored(cur, account_id)["channels"]}
    kept = []
    for index, entry in enumerate(channels):
        if entry.get("id") is not None:
            channel = existing.get(str(entry["id"]))
            if channel is None:
                raise UnknownChannel(index)
            kept.append(channel)
        else:
            kept.append({"id": str(uuid.uuid4()), "type": entry["type"], "url": entry["url"]})
    cur.execute(queries["save_alert_settings"], {
        "account_id": account_id, "emails": list(dict.fromkeys(e.strip() for e in emails)),
        "channels": Json(kept), "events": [e for e in EVENTS if e in events]})
    return public(cur.fetchone())
