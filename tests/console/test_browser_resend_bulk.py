"""Resend, "only when there is news" and bulk changes in a real browser: a person resends a run to the
recipient that was refused (the resend's row appears under the run with who asked, the unsubscribed
address is not offered a second chance to be mailed), sees why a run with no news delivered nothing,
and pauses the schedules tagged `holiday` by ticking them, reviewing, confirming, never touching
another account's. Screenshots go to $CONSOLE_SCREENSHOTS (default: the test's tmp_path)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.ops import db
from tests.console.conftest import login_link, make_schedule, suppress
from tests.console.test_browser import browser, live  # noqa: F401 (the same fixtures)
from tests.console.test_browser import _csp_violations, _fill, _wait_for_text


def _shoot(browser, tmp_path, name):
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(folder / f"{name}.png"))


def _delivered_run(conn, account_id, schedule_id):
    """A run that reached ann and carol, whose mail server refused bob, with its stored result; and a
    later run that had no news (deliver_when not_empty), its rows skipped."""
    with db.service_transaction(conn) as cur:
        cur.execute("""INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt, started_at,
                                                  finished_at, error, result)
                       VALUES (%s, 'delivery_failed', 'schedule', now() - interval '2 days', 1, now(), now(),
                               '1 of 3 deliveries failed', '{"report_url": "https://r.example.com/1"}')
                       RETURNING id""", (schedule_id,))
        run_id = cur.fetchone()["id"]
        for target, status, error in (("ann@example.com", "sent", None),
                                      ("bob@example.com", "failed", "550 5.1.1 mailbox full"),
                                      ("carol@example.com", "sent", None)):
            cur.execute("""INSERT INTO deliveries (run_id, account_id, target, status, attempts, last_error,
                                                   message_id, sent_at)
                           VALUES (%s, %s, %s, %s, 1, %s, %s, CASE WHEN %s = 'sent' THEN now() END)""",
                        (run_id, account_id, target, status, error, f"<{run_id}.{target}>", status))
        reason = "the task said its result is empty (deliver_when: not_empty)"
        cur.execute("""INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt, started_at,
                                                  finished_at, result, skip_reason)
                       VALUES (%s, 'succeeded', 'schedule', now() - interval '1 day', 1, now(), now(),
                               '{"empty": true}', %s) RETURNING id""", (schedule_id, reason))
        quiet = cur.fetchone()["id"]
        for target in ("ann@example.com", "bob@example.com"):
            cur.execute("""INSERT INTO deliveries (run_id, account_id, target, status, message_id, skip_reason)
                           VALUES (%s, %s, %s, 'skipped', %s, %s)""",
                        (quiet, account_id, target, f"<{quiet}.{target}>", reason))
    return str(run_id)


def test_resend_the_refused_recipient_and_see_a_run_without_news(browser, live, conn, account_id, tmp_path):
    from selenium.webdriver.common.by import By

    schedule = make_schedule(conn, account_id, recipients=["ann@example.com", "bob@example.com",
                                                           "carol@example.com"], deliver_when="not_empty")
    run_id = _delivered_run(conn, account_id, schedule["id"])
    suppress(conn, account_id, "carol@example.com")
    browser.get(live.url + login_link(account_id, subject="alice"))
    browser.get(f"{live.url}/console/schedules/{schedule['id']}")
    _wait_for_text(browser, "Nothing delivered: the task said its result is empty (deliver_when: not_empty).")
    _wait_for_text(browser, "only when the report is not empty")
    failed_run = browser.find_element(By.CSS_SELECTOR, f'li.run[data-run="{run_id}"] details')
    if not failed_run.get_attribute("open"):
        failed_run.find_element(By.TAG_NAME, "summary").click()
    failed_run.find_element(By.CSS_SELECTOR, 'input[aria-label="Resend to bob@example.com"]').click()
    _shoot(browser, tmp_path, "resend-before")
    failed_run.find_element(By.CSS_SELECTOR, 'button[data-resend="selected"]').click()
    _wait_for_text(browser, "Resending to bob@example.com.")
    _wait_for_text(browser, "resent by console:alice")
    resent = browser.find_element(By.CSS_SELECTOR, "tr.resent")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", resent)
    assert "bob@example.com resent by console:alice" in resent.text and "pending" in resent.text
    _shoot(browser, tmp_path, "resend-after")

    # Everyone: carol unsubscribed, so she stays suppressed.
    failed_run = browser.find_element(By.CSS_SELECTOR, f'li.run[data-run="{run_id}"] details')
    if not failed_run.get_attribute("open"):
        failed_run.find_element(By.TAG_NAME, "summary").click()
    failed_run.find_element(By.CSS_SELECTOR, 'button[data-resend="all"]').click()
    _wait_for_text(browser, "Resending to ann@example.com, bob@example.com; carol@example.com unsubscribed: not sent.")
    with db.service_transaction(conn) as cur:
        cur.execute("""SELECT r.requested_by, d.target, d.status FROM schedule_runs r JOIN deliveries d ON d.run_id = r.id
                        WHERE r.resend_of = %s ORDER BY r.created_at, d.target""", (run_id,))
        rows = [(row["requested_by"], row["target"], row["status"]) for row in cur.fetchall()]
    assert rows == [("console:alice", "bob@example.com", "pending"),
                    ("console:alice", "ann@example.com", "pending"), ("console:alice", "bob@example.com", "pending"),
                    ("console:alice", "carol@example.com", "suppressed")]
    assert _csp_violations(browser) == []


def test_bulk_pause_of_the_ticked_schedules_with_review(browser, live, conn, account_id, other_account_id, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    mine = [make_schedule(conn, account_id, name=f"Acme {n}", tags=["holiday"]) for n in range(3)]
    make_schedule(conn, account_id, name="Internal", tags=["internal"])
    theirs = make_schedule(conn, other_account_id, name="Their holiday", tags=["holiday"])
    browser.get(live.url + login_link(account_id, subject="alice"))
    browser.get(live.url + "/console/?tag=holiday")
    _wait_for_text(browser, "3 schedules match the filters")
    browser.find_element(By.CSS_SELECTOR, "[data-bulk-all]").click()  # every schedule on the page
    assert all(box.is_selected() for box in browser.find_elements(By.CSS_SELECTOR, "[data-bulk-pick]"))
    Select(browser.find_element(By.ID, "bulk-action")).select_by_value("pause")
    _fill(browser, "bulk-note", "holidays")
    _shoot(browser, tmp_path, "bulk-list")
    browser.find_element(By.CSS_SELECTOR, "[data-bulk-review]").click()
    _wait_for_text(browser, "3 of 3 selected schedules would change, with the note “holidays”. Nothing is changed")
    assert len(browser.find_elements(By.CSS_SELECTOR, 'tr[data-outcome="would_change"]')) == 3
    _shoot(browser, tmp_path, "bulk-review")
    with db.service_transaction(conn) as cur:  # the review changed nothing
        cur.execute("SELECT count(*) AS n FROM schedules WHERE paused_at IS NOT NULL")
        assert cur.fetchone()["n"] == 0
    browser.find_element(By.CSS_SELECTOR, ".bulk-confirm button[type=submit]").click()
    _wait_for_text(browser, "Pause: 3 schedule(s) changed.")
    _shoot(browser, tmp_path, "bulk-done")
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT name, paused_by, pause_note FROM schedules WHERE paused_at IS NOT NULL ORDER BY name")
        assert [tuple(row.values()) for row in cur.fetchall()] == [
            (s["name"], "console:alice", "holidays") for s in mine]
        cur.execute("SELECT action, actor, note FROM schedule_changes WHERE schedule_id = %s ORDER BY version DESC"
                    " LIMIT 1", (mine[0]["id"],))
        assert tuple(cur.fetchone().values()) == ("pause", "console:alice", "holidays")
        cur.execute("SELECT active FROM schedules WHERE id = %s", (theirs["id"],))
        assert cur.fetchone()["active"] is True
    assert _csp_violations(browser) == []


@pytest.mark.parametrize("width", [375])
def test_the_bulk_bar_and_the_resend_buttons_fit_a_phone(browser, live, conn, account_id, tmp_path, width):
    schedule = make_schedule(conn, account_id, recipients=["ann@example.com", "bob@example.com",
                                                           "carol@example.com"])
    _delivered_run(conn, account_id, schedule["id"])
    browser.set_window_size(width, 900)
    browser.get(live.url + login_link(account_id))
    for path, name in (("/console/", "phone-list"), (f"/console/schedules/{schedule['id']}", "phone-schedule")):
        browser.get(live.url + path)
        _wait_for_text(browser, "Sign out")
        _shoot(browser, tmp_path, name)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
