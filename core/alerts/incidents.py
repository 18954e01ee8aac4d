"""Alert incidents as the API and the console list them, a schedule's alert switch, and the ticker's
pass over stale schedules.

An incident (`alerts`) is opened by a schedule's first bad event (a run `failed` or `delivery_failed`,
a `missed` run, a pause after failures, a channel disabled by its receiver, or the schedule going
stale), counts the failed and missed runs that follow (`failures`), and is closed by the schedule's
next succeeded run. Its news are its `messages` (opened, paused, channel_disabled, recovered), each
with its delivery ledger rows (a secret URL masked). Migration 0019's triggers write all of this in the
transaction of the event; this module only reads it, and finds the stale schedules, where no statement
happens.
"""
from __future__ import annotations

from datetime import datetime

from core import model
from core.deliveries.channel_types import shown_target
from core.ops.sql import queries

MAX_LIMIT = 200


def list_alerts(cur, account_id, *, status: str | None = None, schedule_id=None, before=None,
                alert_id=None, limit: int = 50) -> list[dict]:
    """The account's incidents, newest first, each with its messages and their deliveries."""
    cur.execute(queries["list_alerts"], {"account_id": account_id, "status": status, "schedule_id": schedule_id,
                                         "before": before, "alert_id": alert_id, "limit": limit})
    alerts = [dict(row) for row in cur.fetchall()]
    for alert in alerts:
        alert["messages"] = []
    if alerts:
        by_id = {str(a["id"]): a for a in alerts}
        cur.execute(queries["alert_messages_of"], {"account_id": account_id, "alert_ids": list(by_id)})
        for message in cur.fetchall():
            message = dict(message)
            for row in message["deliveries"]:  # json_agg writes instants as text
                row["target"] = shown_target(row["channel"], row["target"])
                for name in ("sent_at", "not_before"):
                    row[name] = datetime.fromisoformat(row[name]) if row[name] else None
            by_id[str(message.pop("alert_id"))]["messages"].append(message)
    return alerts


def get_alert(cur, account_id, alert_id) -> dict | None:
    """One incident of the account with its messages, or None."""
    found = list_alerts(cur, account_id, alert_id=alert_id, limit=1)
    return found[0] if found else None


def schedule_alerts(cur, account_id, schedule_id) -> dict | None:
    """{"schedule_id", "enabled"}, or None when the account has no such schedule."""
    cur.execute(queries["schedule_alerts_enabled"], {"account_id": account_id, "schedule_id": schedule_id})
    row = cur.fetchone()
    return dict(row) if row else None


def set_schedule_alerts(cur, account_id, schedule_id, enabled: bool) -> dict | None:
    if schedule_alerts(cur, account_id, schedule_id) is None:
        return None
    params = {"account_id": account_id, "schedule_id": schedule_id}
    cur.execute(queries["turn_schedule_alerts_on" if enabled else "turn_schedule_alerts_off"], params)
    return schedule_alerts(cur, account_id, schedule_id)


def open_stale(cur, now: datetime, *, limit: int) -> list[dict]:
    """Open an incident for each active schedule that stopped running and has none open (the ticker)."""
    cur.execute(queries["open_stale_alerts"], {"now": now, "limit": limit,
                                               "stale_after_days": model.health_parameters()["stale_after_days"]})
    return cur.fetchall()
