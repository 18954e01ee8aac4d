"""The console's schedule form offers the nth-weekday monthly rule and a business calendar."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from core.ops import db
from tests.console.conftest import csrf_of

FORM = {"name": "Board pack", "cadence": "monthly", "send_hour": "9", "send_minute": "0",
        "timezone": "America/New_York", "recipients": "ann@example.com", "active": "on",
        "task": "generate_report", "overlap_policy": "skip"}


def test_the_form_offers_the_new_fields(signed_in):
    page = signed_in.get("/console/schedules/new").get_data(as_text=True)
    for name in ("monthly_week", "monthly_dow", "calendar_id", "on_holiday"):
        assert f'name="{name}"' in page, name
    assert '<option value="next_business_day">Move to the next business day</option>' in page


def test_create_the_first_monday_following_a_calendar(signed_in, conn, account_id):
    calendar_id = uuid.uuid4()
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("INSERT INTO calendars (id, account_id, name, country, created_at, updated_at)"
                    " VALUES (%s, %s, 'US', 'US', now(), now())", (calendar_id, account_id))
    data = {**FORM, "monthly_week": "1", "monthly_dow": "1", "calendar_id": str(calendar_id),
            "on_holiday": "next_business_day", "csrf_token": csrf_of(signed_in)}
    response = signed_in.post("/console/schedules/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT * FROM schedules")
        [row] = cur.fetchall()
    assert (row["monthly_week"], row["monthly_dow"], row["monthly_dom"]) == (1, 1, None)
    assert (row["calendar_id"], row["on_holiday"]) == (calendar_id, "next_business_day")
    page = signed_in.get(f"/console/schedules/{row['id']}").get_data(as_text=True)
    assert "Monthly on the 1st Monday at 09:00" in page
    assert row["next_run_at"] > datetime.now(timezone.utc)


def test_both_monthly_ways_at_once_is_an_error_beside_the_field(signed_in):
    data = {**FORM, "monthly_dom": "15", "monthly_week": "1", "monthly_dow": "1", "csrf_token": csrf_of(signed_in)}
    page = signed_in.post("/console/schedules/new", data=data).get_data(as_text=True)
    assert 'data-field-error="monthly_week"' in page and "cannot both be set" in page
