"""The console in a real browser (Debian's chromium through Selenium, see browser.py): a person signs
in with a link, creates a schedule at a daylight-saving-affected time and sees the preview mark it,
toggles it, runs it now and watches the run and its deliveries appear, resubscribes an address and
signs out; refused links, another tenant's schedule and a form without its CSRF token; labels,
keyboard and the 375 px layout on every page.

The worker is being rewritten elsewhere, so the test plays its part: it moves the run the console
created to `succeeded` and writes the delivery ledger rows the worker would.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.ops import db
from tests.console.browser import LiveServer, require_browser, start_chrome
from tests.console.conftest import login_link, make_schedule, suppress

WAIT = 15  # seconds; every wait ends as soon as its condition holds


@pytest.fixture
def live(app):
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def browser():
    require_browser()
    driver = start_chrome()
    yield driver
    driver.quit()


def _wait(browser, condition, message):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A page being replaced (a form posted, the history refreshed) makes elements stale: look again.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, WAIT, poll_frequency=0.1, ignored_exceptions=ignored).until(condition, message)


def _text(browser) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException

    try:
        return browser.find_element("tag name", "body").text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""  # the page is being replaced
    except WebDriverException as error:
        # Chromium's way of saying the same when the body is swapped between finding and reading it.
        if "does not belong to the document" in str(error):
            return ""
        raise


def _wait_for_text(browser, text):
    from selenium.common.exceptions import TimeoutException

    try:
        _wait(browser, lambda b: text in _text(b), "")
    except TimeoutException:
        pytest.fail(f"page never showed {text!r}; it shows:\n{_text(browser)}")


def _fill(browser, field_id, value):
    element = browser.find_element("id", field_id)
    element.clear()
    element.send_keys(value)


def _csp_violations(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


def _play_the_worker(conn, account_id):
    """What the worker does with the manual run: run it and record one ledger row per recipient."""
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT id FROM schedule_runs WHERE trigger = 'manual' AND status = 'pending'")
        [run] = cur.fetchall()
        cur.execute("""UPDATE schedule_runs SET status = 'delivery_failed', started_at = now(), finished_at = now(),
                       error = '1 delivery failed' WHERE id = %s""", (run["id"],))
        for target, status, error in (("ann@example.com", "sent", None),
                                      ("bob@example.com", "failed", "550 5.1.1 mailbox unavailable"),
                                      ("carol@example.com", "suppressed", None)):
            cur.execute("""INSERT INTO deliveries (run_id, account_id, target, status, attempts, last_error,
                                                   message_id, sent_at)
                           VALUES (%s, %s, %s, %s, 1, %s, %s, CASE WHEN %s = 'sent' THEN now() END)""",
                        (run["id"], account_id, target, status, error, f"<{run['id']}.{target}>", status))


def test_a_person_signs_in_creates_a_dst_schedule_toggles_it_runs_it_and_signs_out(
        browser, live, conn, account_id):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    suppress(conn, account_id, "carol@example.com")
    browser.get(live.url + login_link(account_id))
    _wait_for_text(browser, "No schedules yet")
    assert browser.current_url == live.url + "/console/"

    # Create: daily at 02:30 New York time; the preview marks 8 March 2026, when 02:30 does not exist.
    browser.find_element(By.LINK_TEXT, "New schedule").click()
    _fill(browser, "f-name", "Nightly import check")
    Select(browser.find_element("id", "f-cadence")).select_by_value("daily")
    _fill(browser, "f-send_hour", "2")
    _fill(browser, "f-send_minute", "30")
    _fill(browser, "f-timezone", "America/New_York")
    _fill(browser, "f-recipients", "ann@example.com\nbob@example.com\ncarol@example.com")
    browser.execute_script(  # a date input's typing order depends on the locale; set its value instead
        "arguments[0].value = '2026-03-06'; arguments[0].dispatchEvent(new Event('change', {bubbles: true}))",
        browser.find_element("id", "f-preview_from"))
    _wait(browser, lambda b: "02:30 does not exist on 8 March" in b.find_element("id", "preview-body").text,
          "the live preview never marked 8 March")
    marked = browser.find_element(By.CSS_SELECTOR, "#preview-runs li.dst")
    assert "Sun 2026-03-08 03:00 EDT" in marked.text and "runs at 03:00 EDT" in marked.text
    browser.find_element(By.CSS_SELECTOR, "#schedule-form button[type=submit]").click()
    _wait_for_text(browser, "Created “Nightly import check”.")
    assert "Every day at 02:30, America/New_York" in _text(browser)

    # Toggle: pause, then resume.
    browser.find_element(By.CSS_SELECTOR, "button[role=switch]").click()
    _wait_for_text(browser, "is paused")
    assert browser.find_element(By.CSS_SELECTOR, "button[role=switch]").get_attribute("aria-checked") == "false"
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT active FROM schedules")
        assert cur.fetchone()["active"] is False
    browser.find_element(By.CSS_SELECTOR, "button[role=switch]").click()
    _wait_for_text(browser, "is on.")
    assert browser.find_element(By.CSS_SELECTOR, "button[role=switch]").get_attribute("aria-checked") == "true"

    # Run now: the run appears, then (the page refreshing its history by itself) its deliveries.
    browser.find_element(By.XPATH, "//button[normalize-space()='Run now']").click()
    _wait_for_text(browser, "Run started")
    assert "pending" in browser.find_element("id", "history-body").text
    _play_the_worker(conn, account_id)
    _wait(browser, lambda b: "550 5.1.1 mailbox unavailable" in b.find_element("id", "history-body").text,
          "the run's deliveries never appeared without a reload")
    history = browser.find_element("id", "history-body").text
    assert "delivery failed" in history and "1 sent" in history and "1 suppressed" in history
    rows = {row.find_element(By.CSS_SELECTOR, "td").text: row.text
            for row in browser.find_elements(By.CSS_SELECTOR, "tr.delivery")}
    assert "sent" in rows["ann@example.com"]
    assert "unsubscribed: not sent" in rows["carol@example.com"]
    assert "550 5.1.1 mailbox unavailable" in rows["bob@example.com"]

    # Resubscribe the suppressed address.
    browser.find_element(By.LINK_TEXT, "Suppressions").click()
    _wait_for_text(browser, "carol@example.com")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Resubscribe carol@example.com']").click()
    _wait_for_text(browser, "carol@example.com is subscribed again")
    assert "Nobody has unsubscribed." in _text(browser)
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT count(*) AS n FROM email_suppressions")
        assert cur.fetchone()["n"] == 0

    # Sign out: the console is closed until the next link.
    browser.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
    _wait_for_text(browser, "You are signed out")
    browser.get(live.url + "/console/")
    _wait_for_text(browser, "Sign in to the console")
    assert _csp_violations(browser) == []


def test_a_link_used_twice_or_expired_is_refused(browser, live, account_id):
    link = live.url + login_link(account_id)
    browser.get(link)
    _wait_for_text(browser, "Schedules")
    browser.delete_all_cookies()
    browser.get(link)
    _wait_for_text(browser, "Sign-in refused")
    assert "used already" in _text(browser)
    browser.get(live.url + login_link(account_id, now=datetime.now(timezone.utc) - timedelta(minutes=10)))
    _wait_for_text(browser, "has expired")
    browser.get(live.url + "/console/")
    _wait_for_text(browser, "Sign in to the console")


def test_another_tenants_schedule_url_is_a_404(browser, live, conn, account_id, other_account_id):
    theirs = make_schedule(conn, other_account_id, name="Their private schedule")
    browser.get(live.url + login_link(account_id))
    _wait_for_text(browser, "Schedules")
    for path in ("", "/edit", "/delete"):
        browser.get(f"{live.url}/console/schedules/{theirs['id']}{path}")
        _wait_for_text(browser, "Not found")
        assert "Their private schedule" not in browser.page_source


def test_a_form_posted_without_its_csrf_token_is_refused(browser, live, conn, account_id):
    from selenium.webdriver.common.by import By

    mine = make_schedule(conn, account_id)
    browser.get(live.url + login_link(account_id))
    browser.get(f"{live.url}/console/schedules/{mine['id']}")
    _wait_for_text(browser, "Weekly Market Snapshot")
    run_now = browser.find_element(By.XPATH, "//button[normalize-space()='Run now']")
    browser.execute_script("arguments[0].form.querySelector('[name=csrf_token]').remove()", run_now)
    run_now.click()
    _wait_for_text(browser, "Request refused")
    assert "CSRF" in _text(browser)
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT count(*) AS n FROM schedule_runs")
        assert cur.fetchone()["n"] == 0


# Every control has a label (a <label for>, or aria-label), and nothing needs a mouse.
_UNLABELLED = """
return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map(el => el.outerHTML.slice(0, 120));
"""
_FOCUSABLE = """
return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))
  .filter(el => el.offsetParent !== null).length;
"""


def _pages(live, conn, account_id):
    from core.calendars import calendars

    mine = make_schedule(conn, account_id, tags=["reports", "weekly"])
    suppress(conn, account_id, "carol@example.com")
    with db.tenant_transaction(conn, account_id) as cur:
        calendar = calendars.create(cur, account_id, {"name": "London office", "country": "GB", "subdivision": "ENG",
                                                      "add_dates": ["2027-08-02"], "remove_dates": ["2027-12-28"]},
                                    datetime.now(timezone.utc))
    return ["/console/", "/console/schedules/new", f"/console/schedules/{mine['id']}",
            f"/console/schedules/{mine['id']}/edit", f"/console/schedules/{mine['id']}/delete",
            "/console/suppressions", "/console/calendars", f"/console/calendars/{calendar['id']}"]


def test_every_control_is_labelled_and_reachable_by_keyboard(browser, live, conn, account_id):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    pages = _pages(live, conn, account_id)
    browser.get(live.url + login_link(account_id))
    for path in pages:
        browser.get(live.url + path)
        _wait(browser, lambda b: b.execute_script("return document.readyState") == "complete", path)
        assert browser.execute_script(_UNLABELLED) == [], path
        # Press Tab enough times (date and time inputs take one Tab per part): every visible control
        # takes the focus in turn.
        focusable = browser.execute_script(_FOCUSABLE)
        browser.execute_script("window.reached = new Set(); document.addEventListener('focusin', "
                               "e => window.reached.add(e.target))")
        ActionChains(browser).send_keys(Keys.TAB * (2 * focusable + 10)).perform()
        reached = browser.execute_script("return window.reached.size")
        assert reached >= focusable, f"{path}: {reached} of {focusable} controls reached by Tab"


@pytest.mark.parametrize("width", [375, 1280])
def test_pages_fit_the_width_without_sideways_scrolling(browser, live, conn, account_id, width):
    pages = _pages(live, conn, account_id) + ["/console/signed-out"]
    browser.get(live.url + login_link(account_id))
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 500})
    for path in pages:
        browser.get(live.url + path)
        _wait(browser, lambda b: b.execute_script("return document.readyState") == "complete", path)
        scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{path} is {scroll_width}px wide at {width}px"
    assert _csp_violations(browser) == []
