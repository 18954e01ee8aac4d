"""The console's schedule form offers the nth-weekday monthly rule and a business calendar."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from core.ops import db
from tests.console.conftest import csrf_of, make_schedule
from tests.console.formdata import form_fields

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


def _calendar(conn, account_id, name):
    calendar_id = uuid.uuid4()
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("INSERT INTO calendars (id, account_id, name, country, created_at, updated_at)"
                    " VALUES (%s, %s, %s, 'US', now(), now())", (calendar_id, account_id, name))
    return calendar_id


def test_the_calendar_is_a_select_of_the_accounts_calendars_by_name(signed_in, conn, account_id, other_account_id):
    ours, theirs = _calendar(conn, account_id, "New York office"), _calendar(conn, other_account_id, "Theirs")
    page = signed_in.get("/console/schedules/new").get_data(as_text=True)
    select = re.search(r'<select id="f-calendar_id" name="calendar_id"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select) == [
        ("", " selected", "None"), (str(ours), "", "New York office")]
    assert str(theirs) not in page
    assert '<a href="/console/calendars" id="manage-calendars">Manage calendars</a>' in page


def test_editing_a_schedule_that_follows_a_calendar_shows_it_chosen_and_an_unchanged_save_changes_nothing(
        signed_in, conn, account_id):
    calendar_id = _calendar(conn, account_id, "Office")
    schedule = make_schedule(conn, account_id, calendar_id=calendar_id, on_holiday="skip")
    page = signed_in.get(f"/console/schedules/{schedule['id']}/edit").get_data(as_text=True)
    assert f'<option value="{calendar_id}" selected>Office</option>' in page
    response = signed_in.post(f"/console/schedules/{schedule['id']}/edit", data=form_fields(page, "schedule-form"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert "Nothing changed" in signed_in.get(response.headers["Location"]).get_data(as_text=True)
    data = {**form_fields(page, "schedule-form"), "calendar_id": "", "on_holiday": "run"}
    assert signed_in.post(f"/console/schedules/{schedule['id']}/edit", data=data).status_code == 302
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT calendar_id FROM schedules WHERE id = %s", (schedule["id"],))
        assert cur.fetchone()["calendar_id"] is None


def test_a_calendar_of_another_account_is_refused_beside_the_select(signed_in, conn, other_account_id):
    theirs = _calendar(conn, other_account_id, "Theirs")
    data = {**FORM, "monthly_dom": "1", "calendar_id": str(theirs), "on_holiday": "skip", "csrf_token": csrf_of(signed_in)}
    response = signed_in.post("/console/schedules/new", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'data-field-error="calendar_id"' in page
    assert f'<option value="{theirs}" selected>{theirs} (not a calendar of this account)</option>' in page
    assert "Theirs" not in page
