"""The console's Business calendars pages (api/console/calendars.py) through Flask's test client on a
real database: create, edit, a form submitted unchanged changes nothing, delete refused while schedules
follow the calendar and done when none does, bad input a 400 beside its field, another tenant's
calendar a 404, a POST without its CSRF token refused."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timezone

import pytest

from core.calendars import calendars
from core.ops import db
from tests.console.conftest import csrf_of, make_schedule
from tests.console.formdata import form_fields

NEW = {"name": "New York office", "country": "US", "subdivision": "NY", "weekend": ["6", "7"],
       "add_dates": "2027-12-24\n2027-12-31", "remove_dates": ""}


def _create(conn, account_id, **values) -> dict:
    with db.tenant_transaction(conn, account_id) as cur:
        return calendars.create(cur, account_id, {"name": "Office", "country": "US", "weekend": [6, 7],
                                                  "add_dates": [], "remove_dates": [], **values},
                                datetime.now(timezone.utc))


def _row(conn, account_id, calendar_id) -> dict | None:
    with db.tenant_transaction(conn, account_id) as cur:
        return calendars.get(cur, account_id, calendar_id)


def _field_error(page: str, field: str) -> str:
    """The message the page shows beside `field`."""
    match = re.search(rf'<p class="error" id="{field}-error" data-field-error="{field}">([^<]*)</p>', page)
    assert match, f"no error beside {field}"
    return match.group(1)


def test_the_list_shows_the_form_with_the_countries_and_a_saturday_sunday_weekend(signed_in):
    page = signed_in.get("/console/calendars").get_data(as_text=True)
    assert '<a href="/console/calendars" aria-current="page">Calendars</a>' in page
    assert '<option value="US">United States (US)</option>' in page
    assert '<option value="GB">United Kingdom (GB)</option>' in page
    checked = re.findall(r'id="weekend-(\d)" name="weekend" value="\d"( checked)?', page)
    assert [day for day, on in checked if on] == ["6", "7"] and len(checked) == 7
    assert "No calendar yet" in page


def test_create_then_the_list_and_the_page_show_it(signed_in, conn, account_id):
    response = signed_in.post("/console/calendars", data={**NEW, "csrf_token": csrf_of(signed_in)})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with db.tenant_transaction(conn, account_id) as cur:
        [row] = calendars.list_all(cur, account_id)
    assert response.headers["Location"].endswith(f"/console/calendars/{row['id']}")
    assert "Created the calendar “New York office”." in signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert (row["name"], row["country"], row["subdivision"], row["weekend"]) == ("New York office", "US", "NY", [6, 7])
    assert row["add_dates"] == [date(2027, 12, 24), date(2027, 12, 31)] and row["remove_dates"] == []
    make_schedule(conn, account_id, name="Board pack", calendar_id=row["id"], on_holiday="skip")

    listing = signed_in.get("/console/calendars").get_data(as_text=True)
    cells = re.search(rf'<tr data-calendar="{row["id"]}">(.*?)</tr>', listing, re.S).group(1)
    assert f'href="/console/calendars/{row["id"]}">New York office</a>' in cells
    assert re.findall(r'<td data-label="[^"]+"[^>]*>([^<]*)<', cells)[1:] == ["US-NY", "Saturday, Sunday", "2", "0", "1"]

    page = signed_in.get(f"/console/calendars/{row['id']}").get_data(as_text=True)
    assert 'value="New York office"' in page and '<option value="US" selected>' in page
    assert "2027-12-24\n2027-12-31</textarea>" in page
    assert re.search(r'href="/console/schedules/[0-9a-f-]+">Board pack</a>', page)


def test_the_page_lists_the_days_off_of_the_next_12_months_with_their_reasons(signed_in, conn, account_id):
    today = datetime.now(timezone.utc).date()
    own = date(today.year + 1, 2, 3)
    christmas = date(today.year if today < date(today.year, 12, 25) else today.year + 1, 12, 25)
    worked = date(today.year + 1, 1, 1)
    row = _create(conn, account_id, add_dates=[own.isoformat()], remove_dates=[worked.isoformat()],
                  weekend=[5, 6])
    page = signed_in.get(f"/console/calendars/{row['id']}").get_data(as_text=True)
    days = re.findall(r'<time datetime="([0-9-]+)">[0-9-]+</time></td>\s*<td data-label="Day">(\w+)</td>\s*'
                      r'<td data-label="Why">([^<]+)</td>', page)
    assert (own.isoformat(), f"{own:%A}", "own day off") in days
    assert (christmas.isoformat(), f"{christmas:%A}", "Christmas Day") in days
    assert worked.isoformat() not in [day for day, _, _ in days]
    assert all(today.isoformat() <= day <= date(today.year + 1, today.month, today.day).isoformat() for day, _, _ in days)
    assert "The weekend days (Friday, Saturday) are days off too" in page
    assert re.search(rf"{worked.isoformat()}</time> {worked:%A}: New Year&#39;s Day", page)


def test_an_edit_saves_the_changed_fields_and_recomputes_the_followers(signed_in, conn, account_id):
    row = _create(conn, account_id, add_dates=["2027-07-05"])
    schedule = make_schedule(conn, account_id, calendar_id=row["id"], on_holiday="next_business_day")
    assert schedule["next_run_at"] is not None
    form = form_fields(signed_in.get(f"/console/calendars/{row['id']}").get_data(as_text=True), "calendar-form")
    data = {**form, "name": "Office (GB)", "country": "GB", "subdivision": "sct", "weekend": ["5", "6", "7"],
            "remove_dates": "2027-12-27"}
    response = signed_in.post(f"/console/calendars/{row['id']}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    after = _row(conn, account_id, row["id"])
    assert (after["name"], after["country"], after["subdivision"], after["weekend"]) == ("Office (GB)", "GB", "SCT", [5, 6, 7])
    assert after["add_dates"] == [date(2027, 7, 5)] and after["remove_dates"] == [date(2027, 12, 27)]
    assert after["updated_at"] > row["updated_at"]
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT next_run_at FROM schedules WHERE id = %s", (schedule["id"],))
        assert cur.fetchone()["next_run_at"] is None  # the ticker computes it again
    assert "Saved “Office (GB)”" in signed_in.get(response.headers["Location"]).get_data(as_text=True)


def test_a_form_submitted_unchanged_changes_nothing(signed_in, conn, account_id):
    row = _create(conn, account_id, subdivision="CA", weekend=[7], add_dates=["2027-12-24", "2027-03-01"],
                  remove_dates=["2027-07-05"])
    schedule = make_schedule(conn, account_id, calendar_id=row["id"], on_holiday="skip")
    page = signed_in.get(f"/console/calendars/{row['id']}").get_data(as_text=True)
    response = signed_in.post(f"/console/calendars/{row['id']}", data=form_fields(page, "calendar-form"))
    assert response.status_code == 302
    assert "Nothing changed in “Office”." in signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert _row(conn, account_id, row["id"]) == row
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT next_run_at FROM schedules WHERE id = %s", (schedule["id"],))
        assert cur.fetchone()["next_run_at"] == schedule["next_run_at"]
    # The same dates in another order, comma-separated, are no change either.
    data = {**form_fields(page, "calendar-form"), "weekend": "7", "add_dates": "2027-12-24, 2027-03-01"}
    assert signed_in.post(f"/console/calendars/{row['id']}", data=data).status_code == 302
    assert _row(conn, account_id, row["id"]) == row


def test_delete_is_refused_while_schedules_follow_the_calendar(signed_in, conn, account_id):
    row = _create(conn, account_id)
    make_schedule(conn, account_id, name="Payroll run", calendar_id=row["id"], on_holiday="skip")
    make_schedule(conn, account_id, name="Board pack", calendar_id=row["id"], on_holiday="skip")
    response = signed_in.post(f"/console/calendars/{row['id']}/delete", data={"csrf_token": csrf_of(signed_in)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/console/calendars/{row['id']}")
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert ("“Office” was not deleted: 2 schedules follow it (“Board pack”, “Payroll run”). "
            "Give them another calendar or none first.") in page
    assert _row(conn, account_id, row["id"]) == row


def test_delete_works_when_no_schedule_follows_it(signed_in, conn, account_id):
    row = _create(conn, account_id)
    response = signed_in.post(f"/console/calendars/{row['id']}/delete", data={"csrf_token": csrf_of(signed_in)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/calendars")
    assert "Deleted the calendar “Office”." in signed_in.get("/console/calendars").get_data(as_text=True)
    assert _row(conn, account_id, row["id"]) is None


@pytest.mark.parametrize("change, field, message", [
    ({"country": "ZZ"}, "country", "unknown country &#39;ZZ&#39;"),
    ({"country": ""}, "country", "Choose a country."),
    ({"subdivision": "XX"}, "subdivision", "unknown subdivision &#39;XX&#39; of US"),
    ({"add_dates": "2027-12-24\n2027-13-01"}, "add_dates", "“2027-13-01” is not a date: write YYYY-MM-DD."),
    ({"add_dates": "2027-12-24", "remove_dates": "2027-12-24"}, "remove_dates",
     "2027-12-24 is in both add_dates and remove_dates"),
    ({"weekend": [str(day) for day in range(1, 8)]}, "weekend", "Leave at least one working day in the week."),
    ({"name": ""}, "name", "Length must be between 1 and 200."),
])
def test_bad_input_is_a_400_with_the_message_beside_the_field(signed_in, conn, account_id, change, field, message):
    token = csrf_of(signed_in)
    response = signed_in.post("/console/calendars", data={**NEW, **change, "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in _field_error(page, field)
    assert 'value="New York office"' in page or change.get("name") == ""  # the form keeps what was typed
    row = _create(conn, account_id)
    response = signed_in.post(f"/console/calendars/{row['id']}", data={**NEW, **change, "csrf_token": token})
    assert response.status_code == 400 and message in _field_error(response.get_data(as_text=True), field)
    assert _row(conn, account_id, row["id"]) == row
    with db.tenant_transaction(conn, account_id) as cur:
        assert len(calendars.list_all(cur, account_id)) == 1


def test_an_edit_meeting_the_stored_dates_is_a_400_beside_the_field(signed_in, conn, account_id):
    row = _create(conn, account_id, remove_dates=["2027-12-24"])
    page = signed_in.get(f"/console/calendars/{row['id']}").get_data(as_text=True)
    data = {**form_fields(page, "calendar-form"), "add_dates": "2027-12-24"}
    response = signed_in.post(f"/console/calendars/{row['id']}", data=data)
    assert response.status_code == 400
    assert "2027-12-24 is in both" in _field_error(response.get_data(as_text=True), "remove_dates")


def test_another_tenants_calendar_is_a_404(signed_in, conn, account_id, other_account_id):
    theirs = _create(conn, other_account_id, name="Theirs")
    token = csrf_of(signed_in)
    response = signed_in.get(f"/console/calendars/{theirs['id']}")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True) and "Theirs" not in response.get_data(as_text=True)
    assert signed_in.get(f"/console/calendars/{uuid.uuid4()}").status_code == 404
    assert signed_in.post(f"/console/calendars/{theirs['id']}", data={**NEW, "csrf_token": token}).status_code == 404
    assert signed_in.post(f"/console/calendars/{theirs['id']}/delete", data={"csrf_token": token}).status_code == 404
    assert _row(conn, other_account_id, theirs["id"]) == theirs
    assert "Theirs" not in signed_in.get("/console/calendars").get_data(as_text=True)


def test_a_post_without_its_csrf_token_is_refused(signed_in, conn, account_id):
    row = _create(conn, account_id)
    assert signed_in.post("/console/calendars", data=NEW).status_code == 400
    assert signed_in.post(f"/console/calendars/{row['id']}", data={**NEW, "name": "Renamed"}).status_code == 400
    assert signed_in.post(f"/console/calendars/{row['id']}/delete", data={"csrf_token": "forged"}).status_code == 400
    with db.tenant_transaction(conn, account_id) as cur:
        assert calendars.list_all(cur, account_id) == [row]
