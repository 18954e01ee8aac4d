"""Business calendars in a real browser: a person signs in, opens Calendars, creates a US calendar with
an own day off, reads its days off of the coming 12 months (Christmas Day and the own day among them),
then picks it in a schedule's form and saves; a bad date is shown beside its field first. Screenshots of the list and the calendar's page go to
$CONSOLE_SCREENSHOTS (default: the test's tmp_path), at 1280 px and at 375 px."""
from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

from core.ops import db
from tests.console.conftest import login_link, make_schedule
from tests.console.test_browser import browser, live  # noqa: F401 (the same fixtures)
from tests.console.test_browser import _csp_violations, _fill, _wait, _wait_for_text


def _shoot(browser, tmp_path, name):
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    width = browser.execute_script("return window.innerWidth")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500})
    browser.save_screenshot(str(folder / f"{name}.png"))


def _at_width(browser, width):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500})


def test_create_a_us_calendar_read_its_days_off_and_pick_it_in_a_schedule(browser, live, conn, account_id, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    today = datetime.now(timezone.utc).date()
    own = date(today.year + 1, 3, 2)
    christmas = date(today.year if today < date(today.year, 12, 25) else today.year + 1, 12, 25)
    schedule = make_schedule(conn, account_id, name="Board pack")
    browser.get(live.url + login_link(account_id))
    _wait_for_text(browser, "Board pack")

    browser.find_element(By.LINK_TEXT, "Calendars").click()
    _wait_for_text(browser, "No calendar yet")
    _fill(browser, "f-name", "New York office")
    Select(browser.find_element("id", "f-country")).select_by_value("US")
    _fill(browser, "f-subdivision", "NY")
    weekend = [box.get_attribute("value") for box in browser.find_elements(By.CSS_SELECTOR, "input[name=weekend]")
               if box.is_selected()]
    assert weekend == ["6", "7"]
    _fill(browser, "f-add_dates", f"{own.isoformat()}\n2027-02-30")
    browser.find_element(By.XPATH, "//button[normalize-space()='Create calendar']").click()
    _wait_for_text(browser, "“2027-02-30” is not a date: write YYYY-MM-DD.")
    assert "is not a date" in browser.find_element("id", "add_dates-error").text
    assert browser.find_element("id", "f-name").get_attribute("value") == "New York office"
    _shoot(browser, tmp_path, "calendars-list-error")
    _at_width(browser, 1280)
    _fill(browser, "f-add_dates", own.isoformat())
    browser.find_element(By.XPATH, "//button[normalize-space()='Create calendar']").click()
    _wait_for_text(browser, "Created the calendar “New York office”.")

    days = {row.find_element(By.CSS_SELECTOR, "td[data-label=Date]").text: row.text
            for row in browser.find_elements(By.CSS_SELECTOR, "#days-off tbody tr")}
    assert "Christmas Day" in days[christmas.isoformat()] and f"{christmas:%A}" in days[christmas.isoformat()]
    assert "own day off" in days[own.isoformat()]
    assert "The weekend days (Saturday, Sunday) are days off too" in browser.find_element("id", "days-off-span").text
    calendar_url = browser.current_url
    _shoot(browser, tmp_path, "calendar-page")
    _at_width(browser, 375)
    browser.get(calendar_url)
    _wait_for_text(browser, "Christmas Day")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 375
    _shoot(browser, tmp_path, "calendar-page-375")
    _at_width(browser, 1280)

    browser.find_element(By.LINK_TEXT, "← All calendars").click()
    _wait_for_text(browser, "1 calendar")
    row = browser.find_element(By.CSS_SELECTOR, "table.calendars tbody tr")
    assert [cell.text for cell in row.find_elements(By.TAG_NAME, "td")] == [
        "New York office", "US-NY", "Saturday, Sunday", "1", "0", "0"]
    _shoot(browser, tmp_path, "calendars-list")
    _at_width(browser, 375)
    browser.get(live.url + "/console/calendars")
    _wait_for_text(browser, "1 calendar")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 375
    _shoot(browser, tmp_path, "calendars-list-375")
    _at_width(browser, 1280)

    # Pick it in the schedule's form: the select offers it by name, next to "Manage calendars".
    browser.get(f"{live.url}/console/schedules/{schedule['id']}/edit")
    choice = Select(browser.find_element("id", "f-calendar_id"))
    assert [option.text for option in choice.options] == ["None", "New York office"]
    assert choice.first_selected_option.text == "None"
    assert browser.find_element("id", "manage-calendars").get_attribute("href") == live.url + "/console/calendars"
    choice.select_by_visible_text("New York office")
    Select(browser.find_element("id", "f-on_holiday")).select_by_value("next_business_day")
    _shoot(browser, tmp_path, "schedule-form-calendar")
    browser.find_element(By.CSS_SELECTOR, "#schedule-form button[type=submit]").click()
    _wait_for_text(browser, "Saved “Board pack”.")
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT s.on_holiday, c.name FROM schedules s JOIN calendars c ON c.id = s.calendar_id"
                    " WHERE s.id = %s", (schedule["id"],))
        assert cur.fetchone() == {"on_holiday": "next_business_day", "name": "New York office"}

    # The calendar's page now names the schedule that follows it.
    browser.get(calendar_url)
    _wait(browser, lambda b: "Board pack" in b.find_element("id", "followers").text, "the follower never showed")
    assert _csp_violations(browser) == []
