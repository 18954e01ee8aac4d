"""Business calendars as tenants manage them: create, read, list, edit, delete (refused while a
schedule follows one). No Flask here: each function takes a cursor of core.ops.db.tenant_transaction.

A calendar's fields are checked by core.engine.business_days (a CalendarError names the bad one).
An edit sets the next_run_at of the active schedules that follow it to NULL, so the ticker computes
them again from the changed days (as it does for a new row) instead of keeping a run the calendar
no longer allows.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from core.engine.business_days import BusinessCalendar, CalendarError, from_mapping
from core.ops.sql import queries

FIELDS = ("name", "country", "subdivision", "weekend", "add_dates", "remove_dates")


class CalendarInUse(Exception):
    """A calendar some schedules follow; `schedules` lists them [{id, name}]."""

    def __init__(self, schedules: list[dict]):
        super().__init__("calendar in use")
        self.schedules = schedules


def checked(values: dict) -> tuple[dict, BusinessCalendar]:
    """The values spelled as stored (country and subdivision as the holidays package spells them,
    dates sorted), and the calendar they make; CalendarError naming a bad field."""
    calendar = from_mapping(values)
    return {**values, "country": calendar.country, "subdivision": calendar.subdivision,
            "weekend": sorted(calendar.weekend), "add_dates": sorted(d.isoformat() for d in calendar.add_dates),
            "remove_dates": sorted(d.isoformat() for d in calendar.remove_dates)}, calendar


def create(cur, account_id, values: dict, now: datetime) -> dict:
    stored, _ = checked(values)
    cur.execute(queries["insert_calendar"], {**{name: stored.get(name) for name in FIELDS},
                                            "id": uuid.uuid4(), "account_id": account_id, "now": now})
    return cur.fetchone()


def list_all(cur, account_id) -> list[dict]:
    cur.execute(queries["list_calendars"], {"account_id": account_id})
    return cur.fetchall()


def get(cur, account_id, calendar_id) -> dict | None:
    cur.execute(queries["get_calendar"], {"id": calendar_id, "account_id": account_id})
    return cur.fetchone()


def patch(cur, account_id, calendar_id, changes: dict, now: datetime) -> dict | None:
    row = get(cur, account_id, calendar_id)
    if row is None:
        return None
    merged = {name: row[name] for name in FIELDS}
    merged.update(changes)
    stored, _ = checked(merged)
    cur.execute(queries["update_calendar"], {**{name: stored[name] for name in FIELDS}, "id": calendar_id,
                                            "account_id": account_id, "now": now})
    written = cur.fetchone()
    cur.execute(queries["reset_calendar_users"], {"id": calendar_id, "account_id": account_id})
    return written


def delete(cur, account_id, calendar_id) -> bool:
    """True when deleted, False when there is no such calendar; CalendarInUse while schedules follow it."""
    params = {"id": calendar_id, "account_id": account_id}
    cur.execute(queries["calendar_users"], params)
    users = cur.fetchall()
    if users:
        raise CalendarInUse([{"id": u["id"], "name": u["name"]} for u in users])
    cur.execute(queries["delete_calendar"], params)
    return cur.fetchone() is not None


def followers(cur, account_id, calendar_id) -> list[dict]:
    """The schedules that follow a calendar [{id, name}], by name (no lock: for showing them)."""
    cur.execute(queries["calendar_followers"], {"id": calendar_id, "account_id": account_id})
    return cur.fetchall()


def follower_counts(cur, account_id) -> dict:
    """{calendar id: how many schedules follow it}; a calendar none follows is absent."""
    cur.execute(queries["calendar_follower_counts"], {"account_id": account_id})
    return {row["calendar_id"]: row["schedules"] for row in cur.fetchall()}


def business_calendar(cur, account_id, calendar_id) -> BusinessCalendar:
    """The calendar a schedule names, for the time engine; CalendarError on calendar_id when this
    account has no such calendar."""
    row = get(cur, account_id, calendar_id)
    if row is None:
        raise CalendarError("calendar_id", f"no calendar {calendar_id} in this account")
    return from_mapping(row)
