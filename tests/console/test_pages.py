"""The console's pages through Flask's test client: sign-in, every page and action, tenancy, CSRF,
and the security headers. The same flows in a real browser are in test_browser.py."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from api import create_app
from core.ops import db
from core.schedule import history, pauses, schedules
from tests.console.conftest import csrf_of, login_link, make_schedule, suppress


def _page(response) -> str:
    return response.get_data(as_text=True)


# --- sign-in -----------------------------------------------------------------------------------

def test_a_link_signs_in_with_an_httponly_lax_session_cookie(client, account_id):
    response = client.get(login_link(account_id))
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    cookie = response.headers["Set-Cookie"]
    assert "schedules_console=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development: plain http on localhost
    assert "Tenant A" in _page(client.get("/console/"))


def test_the_cookie_is_secure_in_production(app_config, account_id):
    app = create_app({**app_config, "ENVIRONMENT": "production"})
    try:
        response = app.test_client().get(login_link(account_id))
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        app.extensions["db_pool"].close()


def test_a_link_works_once(app, account_id):
    link = login_link(account_id)
    assert app.test_client().get(link).status_code == 302
    second = app.test_client().get(link)
    assert second.status_code == 403
    assert "used already" in _page(second)
    assert "schedules_console=" not in second.headers.get("Set-Cookie", "") or "Expires=Thu, 01 Jan 1970" in second.headers["Set-Cookie"]


def test_an_expired_or_forged_link_is_refused(client, account_id):
    expired = client.get(login_link(account_id, now=datetime.now(timezone.utc) - timedelta(minutes=6)))
    assert expired.status_code == 403 and "expired" in _page(expired)
    forged = client.get(login_link(account_id, secret="not-the-secret-of-this-service-at-all"))
    assert forged.status_code == 403 and "not valid" in _page(forged)
    assert client.get("/console/").status_code == 302  # still signed out


def test_a_link_for_an_account_that_does_not_exist_is_refused(client):
    response = client.get(login_link(uuid.uuid4()))
    assert response.status_code == 403 and "does not exist" in _page(response)


def test_console_secret_signs_links_when_set(app_config, account_id):
    app = create_app({**app_config, "CONSOLE_SECRET": "console-only-secret-0123456789abcdef"})
    try:
        assert app.test_client().get(login_link(account_id)).status_code == 403  # JWT_SECRET's link
        link = login_link(account_id, secret="console-only-secret-0123456789abcdef")
        assert app.test_client().get(link).status_code == 302
    finally:
        app.extensions["db_pool"].close()


def test_pages_need_a_session(client):
    response = client.get("/console/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/signed-out")
    assert "sign-in link" in _page(client.get("/console/signed-out"))


def test_sign_out_ends_the_session(signed_in):
    response = signed_in.post("/console/logout", data={"csrf_token": csrf_of(signed_in)})
    assert response.status_code == 302
    assert signed_in.get("/console/").status_code == 302


def test_root_leads_to_the_console(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")


# --- CSRF and headers --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/console/logout", "/console/schedules/{id}/toggle", "/console/schedules/{id}/run",
                                  "/console/schedules/{id}/delete", "/console/schedules/new",
                                  "/console/schedules/{id}/edit", "/console/suppressions/resubscribe",
                                  "/console/preview"])
def test_every_post_without_its_csrf_token_is_refused(signed_in, conn, account_id, path):
    schedule = make_schedule(conn, account_id)
    url = path.format(id=schedule["id"])
    for token in (None, "wrong"):
        data = {"to": "off", "name": "x", "cadence": "daily"} | ({"csrf_token": token} if token else {})
        response = signed_in.post(url, data=data)
        assert response.status_code == 400, url
        assert "CSRF" in _page(response)
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT active, name FROM schedules WHERE id = %s", (schedule["id"],))
        assert cur.fetchone() == {"active": True, "name": schedule["name"]}
        cur.execute("SELECT count(*) AS n FROM schedule_runs")
        assert cur.fetchone()["n"] == 0


def test_pages_send_a_csp_without_inline_scripts(signed_in):
    response = signed_in.get("/console/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in _page(response) and "http://" not in _page(response).replace("http://localhost/", "")
    assert "script-src 'self'" in signed_in.get("/docs").headers["Content-Security-Policy"]


def test_frame_ancestors_come_from_the_setting(app_config, account_id):
    app = create_app({**app_config, "CONSOLE_FRAME_ANCESTORS": "'self' https://app.example.com"})
    try:
        response = app.test_client().get("/console/signed-out")
        assert "frame-ancestors 'self' https://app.example.com" in response.headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in response.headers
    finally:
        app.extensions["db_pool"].close()


def test_static_assets_are_served_by_the_app(client):
    assert client.get("/console/static/console.js").status_code == 200
    assert client.get("/console/static/console.css").status_code == 200


# --- the list ----------------------------------------------------------------------------------

def test_the_list_shows_cadence_in_words_next_run_and_last_status(signed_in, conn, account_id):
    make_schedule(conn, account_id)
    page = _page(signed_in.get("/console/"))
    assert "Weekly Market Snapshot" in page
    assert "Every Monday at 09:00, America/New_York" in page
    assert re.search(r"Mon \d{4}-\d\d-\d\d 09:00 E[SD]T", page)
    assert "never run" in page and 'role="switch"' in page


def test_the_list_searches_filters_and_pages(signed_in, conn, account_id):
    for index in range(22):
        make_schedule(conn, account_id, name=f"Report {index:02d}", tags=["even" if index % 2 == 0 else "odd"],
                      active=index != 3)
    make_schedule(conn, account_id, name="Quarterly board pack", tags=["board"])
    assert "Quarterly board pack" in _page(signed_in.get("/console/?q=BOARD"))
    assert "Report 01" not in _page(signed_in.get("/console/?q=BOARD"))
    odd = _page(signed_in.get("/console/?tag=odd"))
    assert "11 schedules" in odd and "Report 02" not in odd
    off = _page(signed_in.get("/console/?state=disabled"))
    assert "1 schedule " in off and "Report 03" in off
    with db.tenant_transaction(conn, account_id) as cur:  # the API's pause, as POST .../pause makes it
        row = schedules.list_page(cur, account_id, name="Report 05").rows[0]
        pauses.pause(cur, account_id, row["id"], datetime.now(timezone.utc), actor="ann", note="audit")
    paused = _page(signed_in.get("/console/?state=paused"))
    assert "1 schedule " in paused and "Report 05" in paused and "paused until resumed" in paused
    on = _page(signed_in.get("/console/?state=active&cadence=weekly"))
    assert "21 schedules" in on and "Report 03" not in on and "Report 05" not in on
    assert "0 schedules" in _page(signed_in.get("/console/?cadence=daily"))
    first, second = _page(signed_in.get("/console/")), _page(signed_in.get("/console/?page=2"))
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count('class="name"') == 20 and second.count('class="name"') == 3
    assert signed_in.get("/console/?page=abc").status_code == 200
    refused = signed_in.get("/console/?state=on")  # the console's old word: refused, not taken as all
    assert refused.status_code == 400 and "state must be one of: all, active, paused, disabled" in _page(refused)
    assert signed_in.get("/console/?cadence=fortnightly").status_code == 400


def test_a_search_past_the_count_limit_says_or_more_and_pages_on(signed_in, conn, account_id, monkeypatch):
    from core import model

    monkeypatch.setattr(model, "SEARCH_COUNT_LIMIT", 25)
    for index in range(45):
        make_schedule(conn, account_id, name=f"Report {index:02d}")
    first = _page(signed_in.get("/console/?q=report"))
    assert "25 or more schedules match the filters" in first and "Page 1 of 2 or more" in first
    assert 'rel="next"' in first and first.count('class="name"') == 20
    second = _page(signed_in.get("/console/?q=report&page=2"))
    assert "Page 2 of 2 or more" in second and 'rel="next"' in second
    third = _page(signed_in.get("/console/?q=report&page=3"))
    assert "45 schedules match" in third and "Page 3 of 3" in third and "or more" not in third
    assert 'rel="next"' not in third and third.count('class="name"') == 5


def test_the_list_shows_only_this_tenants_schedules(signed_in, conn, other_account_id):
    make_schedule(conn, other_account_id, name="Their secret schedule")
    assert "Their secret schedule" not in _page(signed_in.get("/console/"))


# --- create and edit ---------------------------------------------------------------------------

FORM = {"name": "Nightly import", "cadence": "daily", "send_hour": "2", "send_minute": "30",
        "timezone": "America/New_York", "recipients": "ann@example.com\nbob@example.com", "tags": "ops, night",
        "active": "on", "lookback_days": "30", "task": "generate_report", "overlap_policy": "skip"}


def test_create_writes_the_schedule_as_the_api_would(signed_in, conn, account_id):
    response = signed_in.post("/console/schedules/new", data={**FORM, "csrf_token": csrf_of(signed_in),
                                                               "filters": '{"min_price": 5}'})
    assert response.status_code == 302
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT * FROM schedules")
        [row] = cur.fetchall()
    assert response.headers["Location"].endswith(f"/console/schedules/{row['id']}")
    assert (row["cadence"], row["send_hour"], row["send_minute"], row["timezone"]) == ("daily", 2, 30, "America/New_York")
    assert row["recipients"] == ["ann@example.com", "bob@example.com"] and row["tags"] == ["ops", "night"]
    assert row["filters"] == {"min_price": 5} and row["next_run_at"] is not None and row["active"] is True


def test_create_shows_the_apis_errors_beside_each_field(signed_in, conn, account_id):
    data = {**FORM, "name": "", "cadence": "weekly", "timezone": "Mars/Olympus", "recipients": "nope",
            "send_hour": "25", "filters": "{not json", "csrf_token": csrf_of(signed_in)}
    response = signed_in.post("/console/schedules/new", data=data)
    assert response.status_code == 400
    page = _page(response)
    errors = dict(re.findall(r'data-field-error="([a-z_]+)">([^<]+)<', page))
    assert errors["name"] == "Missing data for required field."
    assert "Unknown time zone" in errors["timezone"]
    assert "Not a valid email address." in errors["recipients"]
    assert errors["send_hour"] == "Must be greater than or equal to 0 and less than or equal to 23."
    assert "Not valid JSON" in errors["filters"]
    assert 'aria-invalid="true"' in page and 'value="Mars/Olympus"' in page  # what was typed stays
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 0


def test_timing_errors_are_shown_beside_their_field(signed_in):
    data = {**FORM, "cadence": "weekly", "csrf_token": csrf_of(signed_in)}
    page = _page(signed_in.post("/console/schedules/new", data=data))
    assert 'data-field-error="weekly_dow">weekly_dow required for weekly cadence<' in page


def test_start_and_end_are_wall_times_in_the_schedules_zone(signed_in, conn, account_id):
    data = {**FORM, "cadence": "once", "start_at": "2030-03-10T09:15", "csrf_token": csrf_of(signed_in)}
    assert signed_in.post("/console/schedules/new", data=data).status_code == 302
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT start_at, next_run_at FROM schedules")
        row = cur.fetchone()
    assert row["start_at"] == row["next_run_at"] == datetime(2030, 3, 10, 13, 15, tzinfo=timezone.utc)


def test_edit_shows_the_stored_values_and_saves_changes(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    page = _page(signed_in.get(f"/console/schedules/{schedule['id']}/edit"))
    assert 'value="Weekly Market Snapshot"' in page and '<option value="1" selected>Monday</option>' in page
    data = {**FORM, "name": "Renamed", "cadence": "weekly", "weekly_dow": "1", "send_hour": "9", "send_minute": "0",
            "csrf_token": csrf_of(signed_in)}
    response = signed_in.post(f"/console/schedules/{schedule['id']}/edit", data=data)
    assert response.status_code == 302
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT name, next_run_at FROM schedules")
        row = cur.fetchone()
    assert row["name"] == "Renamed"
    assert row["next_run_at"] == schedule["next_run_at"]  # no timing change: next run untouched


def test_preview_marks_the_runs_daylight_saving_moved(signed_in):
    data = {**FORM, "preview_from": "2026-03-06"}
    answer = signed_in.post("/console/preview", data=data, headers={"X-CSRF-Token": csrf_of(signed_in)}).get_json()
    assert answer["errors"] == {}
    notes = {run["at"]: run["note"] for run in answer["runs"]}
    assert notes["2026-03-08T07:00:00Z"] == "02:30 does not exist on 8 March (clocks go forward); runs at 03:00 EDT"
    assert notes["2026-03-07T07:30:00Z"] is None


def test_preview_names_the_bad_timing_field(signed_in):
    answer = signed_in.post("/console/preview", data={"cadence": "cron", "cron_expression": "61 * * * *"},
                            headers={"X-CSRF-Token": csrf_of(signed_in)}).get_json()
    assert answer["runs"] == [] and list(answer["errors"]) == ["cron_expression"]


# --- the schedule page and its actions ---------------------------------------------------------

def _add_run_with_deliveries(conn, schedule, account_id):
    with db.service_transaction(conn) as cur:
        cur.execute("""INSERT INTO schedule_runs (schedule_id, account_id, status, trigger, scheduled_for, finished_at)
                       VALUES (%s, %s, 'delivery_failed', 'schedule', now(), now()) RETURNING id""",
                    (schedule["id"], account_id))
        run_id = cur.fetchone()["id"]
        for target, status, error in (("ann@example.com", "sent", None), ("bob@example.com", "failed", "550 no such user"),
                                      ("carol@example.com", "suppressed", None)):
            cur.execute("""INSERT INTO deliveries (run_id, account_id, target, status, attempts, last_error, message_id)
                           VALUES (%s, %s, %s, %s, 1, %s, %s)""", (run_id, account_id, target, status, error, f"<{target}>"))
    return run_id


def test_the_schedule_page_shows_details_upcoming_runs_and_history_with_deliveries(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id, name="Daily DST", cadence="daily", send_hour=2, send_minute=30)
    _add_run_with_deliveries(conn, schedule, account_id)
    page = _page(signed_in.get(f"/console/schedules/{schedule['id']}"))
    assert "Every day at 02:30, America/New_York" in page
    assert page.count("<li") >= 5  # upcoming runs
    assert "delivery failed" in page
    assert re.search(r"ann@example.com</td>\s*<td[^>]*><span class=\"status status-sent\">sent", page)
    assert "550 no such user" in page
    assert re.search(r"carol@example.com</td>\s*<td[^>]*><span class=\"status status-suppressed\">", page)
    assert "unsubscribed: not sent" in page


def test_run_now_records_a_pending_manual_run(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    response = signed_in.post(f"/console/schedules/{schedule['id']}/run", data={"csrf_token": csrf_of(signed_in)})
    assert response.status_code == 302
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT status, trigger FROM schedule_runs")
        assert cur.fetchall() == [{"status": "pending", "trigger": "manual"}]
    history = _page(signed_in.get(f"/console/schedules/{schedule['id']}/history"))
    assert "pending" in history and "data-unfinished" in history


def test_toggle_pauses_and_resumes_as_the_api_does_and_history_names_the_console_user(app, conn, account_id):
    client = app.test_client()
    assert client.get(login_link(account_id, subject="ann@example.com")).status_code == 302
    schedule = make_schedule(conn, account_id)
    token = csrf_of(client)
    client.post(f"/console/schedules/{schedule['id']}/toggle", data={"csrf_token": token, "to": "off"})
    with db.tenant_transaction(conn, account_id) as cur:
        row = schedules.get(cur, account_id, schedule["id"])
        assert row["active"] is False and row["paused_at"] is not None and row["paused_by"] == "console:ann@example.com"
    client.post(f"/console/schedules/{schedule['id']}/toggle", data={"csrf_token": token, "to": "on",
                                                                     "next": "/console/?state=active"})
    with db.tenant_transaction(conn, account_id) as cur:
        assert schedules_active(cur) is True
        changes = history.list_changes(cur, account_id, schedule["id"], limit=10)
    assert [(c["action"], c["actor"]) for c in changes] == [
        ("resume", "console:ann@example.com"), ("pause", "console:ann@example.com"), ("create", "api")]


def test_pause_with_until_and_note_disable_and_enable_from_the_schedule_page(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)  # Mondays 09:00 New York
    token, page = csrf_of(signed_in), f"/console/schedules/{schedule['id']}"
    until = (datetime.now(timezone.utc) + timedelta(days=9)).astimezone(ZoneInfo("America/New_York"))
    signed_in.post(f"{page}/pause", data={"csrf_token": token, "until": until.strftime("%Y-%m-%dT%H:%M"),
                                          "note": "audit week"})
    shown = _page(signed_in.get(page))
    assert 'data-state="paused"' in shown and "audit week" in shown and 'id="paused-by">console<' in shown
    assert until.strftime("%Y-%m-%d %H:%M") in shown
    assert signed_in.post(f"{page}/pause", data={"csrf_token": token, "until": "2001-01-01T00:00"}
                          ).status_code == 302
    assert "until must be in the future" in _page(signed_in.get(page))
    signed_in.post(f"{page}/disable", data={"csrf_token": token})
    assert 'data-state="disabled"' in _page(signed_in.get(page))
    signed_in.post(f"{page}/enable", data={"csrf_token": token})
    with db.tenant_transaction(conn, account_id) as cur:
        row = schedules.get(cur, account_id, schedule["id"])
    assert row["active"] is True and row["paused_at"] is None


def test_toggle_never_redirects_off_site(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    response = signed_in.post(f"/console/schedules/{schedule['id']}/toggle",
                              data={"csrf_token": csrf_of(signed_in), "to": "off", "next": "//evil.example/"})
    assert response.headers["Location"].endswith(f"/console/schedules/{schedule['id']}")


def schedules_active(cur):
    cur.execute("SELECT active FROM schedules")
    return cur.fetchone()["active"]


def test_delete_asks_first_then_deletes(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    confirm = signed_in.get(f"/console/schedules/{schedule['id']}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in _page(confirm)
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 1
    signed_in.post(f"/console/schedules/{schedule['id']}/delete", data={"csrf_token": csrf_of(signed_in)})
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 0


@pytest.mark.parametrize("method, path", [
    ("get", ""), ("get", "/edit"), ("get", "/history"), ("get", "/delete"),
    ("post", "/edit"), ("post", "/toggle"), ("post", "/run"), ("post", "/delete"),
])
def test_another_tenants_schedule_is_a_404(signed_in, conn, other_account_id, method, path):
    theirs = make_schedule(conn, other_account_id, name="Theirs")
    data = {**FORM, "csrf_token": csrf_of(signed_in), "to": "off"}
    url = f"/console/schedules/{theirs['id']}{path}"
    response = signed_in.get(url) if method == "get" else signed_in.post(url, data=data)
    assert response.status_code == 404
    assert "Theirs" not in _page(response) and "Not found" in _page(response)
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT name, active, (SELECT count(*) FROM schedule_runs) AS runs FROM schedules")
        assert cur.fetchone() == {"name": "Theirs", "active": True, "runs": 0}


# --- suppressions ------------------------------------------------------------------------------

def test_suppressions_are_listed_searched_and_resubscribed(signed_in, conn, account_id, other_account_id):
    suppress(conn, account_id, "carol@example.com")
    suppress(conn, account_id, "dave@example.org", "api")
    suppress(conn, other_account_id, "eve@example.com")
    page = _page(signed_in.get("/console/suppressions"))
    assert "carol@example.com" in page and "dave@example.org" in page and "eve@example.com" not in page
    assert "dave@example.org" not in _page(signed_in.get("/console/suppressions?q=example.com"))
    response = signed_in.post("/console/suppressions/resubscribe",
                              data={"csrf_token": csrf_of(signed_in), "email": "carol@example.com"})
    assert response.status_code == 302
    page = _page(signed_in.get(response.headers["Location"]))
    assert "carol@example.com is subscribed again" in page and "Resubscribe carol@example.com" not in page
    # Another tenant's address cannot be resubscribed from here.
    signed_in.post("/console/suppressions/resubscribe", data={"csrf_token": csrf_of(signed_in), "email": "eve@example.com"})
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT email FROM email_suppressions ORDER BY email")
        assert [row["email"] for row in cur.fetchall()] == ["dave@example.org", "eve@example.com"]
