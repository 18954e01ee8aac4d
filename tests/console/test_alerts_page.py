"""The console's Alerts page and a schedule's alert switch: settings saved through the form (validated by
the API's schema, every error at once), the incidents with their messages and each message's deliveries
as the worker left them, the switch on the schedule's page; in a real browser, with screenshots kept
under /tmp (SCREENSHOTS_DIR) to look at; and never another tenant's."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.alerts import ledger
from core.deliveries.delivery import Senders
from core.deliveries.email import MailerPool
from core.ops import db
from core.ops.settings import load_settings
from tests.api.conftest import JWT_SECRET, bearer
from tests.console.conftest import csrf_of, login_link, make_schedule
from tests.console.test_browser import browser, live  # noqa: F401 (the same fixtures)
from tests.console.test_browser import _csp_violations, _fill, _wait_for_text
from tests.receivers import Receiver

SHOTS = Path(os.environ.get("SCREENSHOTS_DIR", "/tmp/console-screenshots"))


@pytest.fixture
def app_config(database_url, redis_url):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
            "WEBHOOK_ALLOW_LOOPBACK": "true"}


def end_run(conn, schedule_id, status, error=None):
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt)"
                    " VALUES (%s, 'running', 'manual', now(), 1) RETURNING id", (schedule_id,))
        cur.execute("UPDATE schedule_runs SET status = %s, error = %s, finished_at = now() WHERE id = %s",
                    (status, error, cur.fetchone()["id"]))


def deliver_all(conn, database_url, tmp_path):
    """What the worker's alert jobs do: every alert message's due rows, sent (emails to the outbox)."""
    settings = load_settings({"DATABASE_URL": database_url, "OUTBOX_DIR": str(tmp_path / "outbox"),
                              "UNSUBSCRIBE_SECRET": "u" * 32, "WEBHOOK_ALLOW_LOOPBACK": "true",
                              "PUBLIC_BASE_URL": "https://schedules.example.com"})
    pool, mailers = db.ConnectionPool(database_url, 2), MailerPool(settings, 1)
    senders = Senders(settings, mailers, pool)
    try:
        for row in db_rows(conn, "SELECT id::text FROM alert_messages ORDER BY created_at"):
            ledger.deliver(pool, senders, settings, row["id"])
    finally:
        mailers.close()
        pool.close()


def db_rows(conn, sql, *params):
    with db.service_transaction(conn) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _scroll_to(browser, element_id):
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element("id", element_id))


def test_settings_form_saves_and_refuses_bad_input_naming_each_field(signed_in, client, account_id):
    token = csrf_of(signed_in)
    bad = signed_in.post("/console/alerts/settings", data={
        "csrf_token": token, "emails": "owner@example.com\nnot an address", "events": ["failed", "sometimes"],
        "new_type": "webhook", "new_url": "https://10.0.0.1/hook"})
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert 'data-field-error="emails"' in page and 'data-field-error="events"' in page
    assert 'data-field-error="channels"' in page and "not an address" in page  # what was typed stays
    good = signed_in.post("/console/alerts/settings", data={
        "csrf_token": token, "emails": "owner@example.com", "events": ["failed", "missed"],
        "new_type": "webhook", "new_url": "http://127.0.0.1:9/alerts"})
    assert good.status_code == 302
    saved = client.get("/v1/alerts/settings", headers=bearer(account_id)).get_json()
    assert saved["emails"] == ["owner@example.com"] and saved["events"] == ["failed", "missed"]
    assert [c["url"] for c in saved["channels"]] == ["http://127.0.0.1:9/alerts"]
    # Unticking the channel removes it; no CSRF token: refused.
    assert signed_in.post("/console/alerts/settings", data={"emails": "x@example.com"}).status_code == 400
    signed_in.post("/console/alerts/settings", data={"csrf_token": token, "emails": "owner@example.com",
                                                     "events": ["failed"]})
    assert client.get("/v1/alerts/settings", headers=bearer(account_id)).get_json()["channels"] == []


def test_the_switch_is_the_schedules_own_and_another_tenant_gets_a_404(
        conn, signed_in, client, account_id, other_account_id):
    mine = make_schedule(conn, account_id)
    theirs = make_schedule(conn, other_account_id, name="Theirs")
    token = csrf_of(signed_in)
    assert signed_in.post(f"/console/schedules/{theirs['id']}/alerts",
                          data={"csrf_token": token, "to": "off"}).status_code == 404
    assert client.get(f"/v1/schedules/{theirs['id']}/alerts", headers=bearer(other_account_id)).get_json()["enabled"]
    signed_in.post(f"/console/schedules/{mine['id']}/alerts", data={"csrf_token": token, "to": "off"})
    assert client.get(f"/v1/schedules/{mine['id']}/alerts", headers=bearer(account_id)).get_json()["enabled"] is False
    end_run(conn, theirs["id"], "failed", "boom")
    page = signed_in.get("/console/alerts").get_data(as_text=True)
    assert "Theirs" not in page and "No alert yet" in page


def test_in_a_browser_settings_alerts_and_the_switch(browser, live, conn, client, account_id, database_url,
                                                      tmp_path):
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    receiver = Receiver().start()
    try:
        browser.get(live.url + login_link(account_id))
        browser.get(live.url + "/console/alerts")
        _fill(browser, "f-emails", "owner@example.com\nops@example.com")
        _fill(browser, "f-new_url", receiver.url("/alerts"))
        browser.find_element(By.ID, "event-stale").click()  # untick: no alert when a schedule goes stale
        browser.find_element(By.CSS_SELECTOR, ".alert-settings button[type=submit]").click()
        _wait_for_text(browser, "Alert settings saved.")
        _scroll_to(browser, "f-events")
        browser.save_screenshot(str(SHOTS / "alerts-settings.png"))
        saved = client.get("/v1/alerts/settings", headers=bearer(account_id)).get_json()
        assert saved["emails"] == ["owner@example.com", "ops@example.com"] and "stale" not in saved["events"]

        schedule = make_schedule(conn, account_id, name="Weekly Market Snapshot")
        for _ in range(3):
            end_run(conn, schedule["id"], "failed", "ValueError: the report source is down")
        end_run(conn, schedule["id"], "succeeded")
        other = make_schedule(conn, account_id, name="Daily Listings")
        end_run(conn, other["id"], "delivery_failed", "1 of 2 deliveries failed; last: bob@example.com: refused")
        deliver_all(conn, database_url, tmp_path)
        assert len(receiver.requests) == 3  # opened + recovered, and the other's opened: each once

        browser.get(live.url + "/console/alerts")
        text = browser.find_element(By.ID, "alerts").text
        assert "Weekly Market Snapshot" in text and "back to normal" in text and "3 failed or missed runs" in text
        assert "Daily Listings" in text and "open" in text
        rows = browser.find_elements(By.CSS_SELECTOR, "#alerts tr.delivery-sent")
        assert len(rows) == 9  # three messages, each to two addresses and the webhook
        _scroll_to(browser, "alerts")
        browser.save_screenshot(str(SHOTS / "alerts-list.png"))

        browser.get(f"{live.url}/console/schedules/{other['id']}")
        assert "an alert is open" in browser.find_element(By.ID, "alerts-switch").text
        browser.find_element(By.CSS_SELECTOR, "#alerts-switch button").click()
        _wait_for_text(browser, "Alerts of “Daily Listings” are off.")
        assert "this schedule never alerts" in browser.find_element(By.ID, "alerts-switch").text
        _scroll_to(browser, "alerts-switch")
        browser.save_screenshot(str(SHOTS / "schedule-alerts-off.png"))
        assert client.get(f"/v1/schedules/{other['id']}/alerts",
                          headers=bearer(account_id)).get_json()["enabled"] is False
        assert _csp_violations(browser) == []
    finally:
        receiver.stop()
