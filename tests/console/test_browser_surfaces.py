"""One truth on every surface, in a real browser (issue 26): /docs renders the OpenAPI 3.1 document
and lists every operation; a console edit that changes only the name leaves channels, pause, windows
and every other field as the API's GET showed them, for each cadence; a pause with an end made from
the console and one made through the API show the same state on both surfaces."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.api.conftest import JWT_SECRET, bearer
from tests.console.conftest import login_link
from tests.console.test_browser import browser, live  # noqa: F401 (the same fixtures)
from tests.console.test_browser import _csp_violations, _fill, _wait, _wait_for_text
from tests.console.test_edit_changes_only_what_changed import CADENCES, HOOK, SLACK, _future

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture
def app_config(database_url, redis_url):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
            "WEBHOOK_ALLOW_LOOPBACK": "true"}


def _not_found_requests(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if "404" in entry["message"]]


def test_docs_renders_the_openapi_31_document_and_lists_every_operation(browser, live, client):
    from selenium.webdriver.common.by import By

    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    operations = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method in HTTP_METHODS}
    browser.get(live.url + "/docs")
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(operations),
          "Swagger UI never listed the operations")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Unable to render" not in body and "Could not render" not in body
    shown = {(block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.strip(),
              block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"))
             for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")}
    assert shown == operations
    back = browser.find_element(By.ID, "to-console")
    assert back.get_attribute("href") == live.url + "/console/"
    assert _csp_violations(browser) == []
    assert _not_found_requests(browser) == []


def _api_state(client, headers, sid) -> dict:
    return client.get(f"/v1/schedules/{sid}", headers=headers).get_json()


@pytest.mark.parametrize("cadence", list(CADENCES))
def test_renaming_in_the_browser_keeps_every_other_field(browser, live, client, account_id, cadence):
    from selenium.webdriver.common.by import By

    headers = bearer(account_id)
    body = {"name": "Before", "cadence": cadence, **CADENCES[cadence], "timezone": "America/New_York",
            "recipients": ["ann@example.com", "bob@example.com"], "tags": ["ops", "nightly"],
            "window_seconds": 300, "catchup": "all", "catchup_window_seconds": 3600, "pause_after_failures": 5,
            "misfire_grace_seconds": 120, "overlap_policy": "allow", "filters": {"beds": [2, 3]},
            "description": "line one\nline two", "include_attachment": True,
            "channels": [{"type": "webhook", "url": HOOK}, {"type": "slack", "url": SLACK}]}
    sid = client.post("/v1/schedules", json=body, headers=headers).get_json()["id"]
    assert client.post(f"/v1/schedules/{sid}/pause", json={"until": _future(30), "note": "freeze"},
                       headers=headers).status_code == 200
    before = _api_state(client, headers, sid)

    browser.get(live.url + login_link(account_id))
    browser.get(f"{live.url}/console/schedules/{sid}/edit")
    _fill(browser, "f-name", "After")
    browser.find_element(By.CSS_SELECTOR, "#schedule-form button[type=submit]").click()
    _wait_for_text(browser, "Saved “After”.")

    after = _api_state(client, headers, sid)
    assert after["name"] == "After"
    assert {k: v for k, v in after.items() if k not in ("name", "version", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("name", "version", "updated_at")}
    assert _csp_violations(browser) == []


def test_a_pause_with_an_end_looks_the_same_made_from_the_console_or_the_api(browser, live, client, account_id):
    from selenium.webdriver.common.by import By

    headers = bearer(account_id)
    weekly = {"cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "timezone": "America/New_York",
              "recipients": ["ann@example.com"]}
    by_console = client.post("/v1/schedules", json={"name": "By console", **weekly}, headers=headers).get_json()["id"]
    by_api = client.post("/v1/schedules", json={"name": "By API", **weekly}, headers=headers).get_json()["id"]
    zone = ZoneInfo("America/New_York")
    until = (datetime.now(timezone.utc) + timedelta(days=12)).astimezone(zone).replace(second=0, microsecond=0)

    browser.get(live.url + login_link(account_id, subject="ann"))
    browser.get(f"{live.url}/console/schedules/{by_console}")
    browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, "f-until"),
                           until.strftime("%Y-%m-%dT%H:%M"))
    _fill(browser, "f-note", "inventory week")
    browser.find_element(By.ID, "pause").click()
    _wait_for_text(browser, "is paused until")
    assert client.post(f"/v1/schedules/{by_api}/pause", headers=headers, json={
        "until": until.astimezone(timezone.utc).isoformat(), "note": "inventory week"}).status_code == 200

    # The API: the same pause, told the same way (next_run_at: the first run after it), by whom.
    states = [_api_state(client, headers, sid) for sid in (by_console, by_api)]
    same = ("active", "paused", "paused_until", "pause_note", "next_run_at")
    assert [{k: s[k] for k in same} for s in states][0] == [{k: s[k] for k in same} for s in states][1]
    assert states[0]["paused"] is True and states[0]["next_run_at"] is not None
    assert (states[0]["paused_by"], states[1]["paused_by"]) == ("console:ann", "api")
    preview = client.get(f"/v1/schedules/{by_api}/preview?count=1", headers=headers).get_json()
    assert preview["runs"][0]["dispatch_at"] == states[1]["next_run_at"]

    # The console: the same words on both pages but for who paused it, and the list agrees.
    shown = []
    for sid, who in ((by_console, "console:ann"), (by_api, "api")):
        browser.get(f"{live.url}/console/schedules/{sid}")
        text = browser.find_element(By.ID, "state").text
        assert f"by {who}" in text and "inventory week" in text and until.strftime("%Y-%m-%d %H:%M") in text
        shown.append(text.replace(f"by {who}", "by _"))
        upcoming = browser.find_element(By.ID, "upcoming-h").find_element(By.XPATH, "..").text
        assert "Paused" not in upcoming  # it lists the runs after the pause, as the preview does
    assert shown[0].split(" on ")[0] == shown[1].split(" on ")[0]
    browser.get(f"{live.url}/console/?state=paused")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.schedules tbody tr")
    assert len(rows) == 2 and all("after the pause" in row.text for row in rows)
    assert _csp_violations(browser) == []


_CLIPPED = """
return Array.from(document.querySelectorAll('.deliveries td, .deliveries td *'))
  .filter(el => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > window.innerWidth)
  .map(el => el.textContent.trim().slice(0, 60));
"""
_BROKEN_COMMANDS = """
return Array.from(document.querySelectorAll('code, pre.command'))
  .filter(el => el.tagName === 'CODE' ? el.getClientRects().length > 1 : el.scrollHeight > el.clientHeight + 30)
  .map(el => el.textContent);
"""


def test_at_375_px_the_deliveries_fit_commands_stay_whole_and_no_page_asks_for_a_missing_file(
        browser, live, client, conn, account_id):
    from core.ops import db

    headers = bearer(account_id)
    sid = client.post("/v1/schedules", json={"name": "Hooks", "cadence": "daily"}, headers=headers).get_json()["id"]
    long_url = "https://hooks.example.com/services/T0000000/B0000000/" + "averyveryverylongtoken" * 3
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, account_id, status, trigger, scheduled_for)"
                    " VALUES (%s, %s, 'delivery_failed', 'schedule', now()) RETURNING id", (sid, account_id))
        run_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO deliveries (run_id, account_id, channel, target, status, attempts, last_error,"
                    " message_id) VALUES (%s, %s, 'webhook', %s, 'failed', 3, 'answered 500', 'msg_1')",
                    (run_id, account_id, long_url))
    browser.get(live.url + login_link(account_id))
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    browser.get(f"{live.url}/console/schedules/{sid}")
    _wait_for_text(browser, "answered 500")
    assert browser.execute_script(_CLIPPED) == []
    assert "averyveryverylongtoken" * 3 in browser.find_element("css selector", ".deliveries").text.replace("\n", "")
    browser.get(f"{live.url}/console/signed-out")
    _wait_for_text(browser, "make login-link")
    assert browser.execute_script(_BROKEN_COMMANDS) == []
    assert _not_found_requests(browser) == []
