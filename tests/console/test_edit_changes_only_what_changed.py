"""A console edit changes exactly the fields the person changed (issue 26: renaming a schedule in the
console deleted its channels and ended its pause). Each test compares the API's GET before and after.

The property test: for any schedule the API accepts, submitting its edit form unchanged is a no-op
(no history entry, no field changed)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import JWT_SECRET, bearer
from tests.console.conftest import login_link
from tests.console.formdata import form_fields

HOOK = "http://127.0.0.1:9/hooks/reports"
SLACK = "http://localhost:9/services/T000/B000/abcdwxyz"


@pytest.fixture
def app_config(database_url, redis_url):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
            "WEBHOOK_ALLOW_LOOPBACK": "true"}


@pytest.fixture
def console(app, account_id):
    client = app.test_client()
    assert client.get(login_link(account_id)).status_code == 302
    return client


def _get(client, headers, sid) -> dict:
    response = client.get(f"/v1/schedules/{sid}", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def _history(client, headers, sid) -> list:
    return client.get(f"/v1/schedules/{sid}/history", headers=headers).get_json()["history"]


def _submit_edit(console, sid, **changed):
    page = console.get(f"/console/schedules/{sid}/edit").get_data(as_text=True)
    data = form_fields(page, "schedule-form")
    data.update({name: [value] for name, value in changed.items()})
    return console.post(f"/console/schedules/{sid}/edit", data=data)


def _future(days: int) -> str:
    moment = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days, seconds=17)
    return moment.isoformat().replace("+00:00", "Z")


CADENCES = {
    "once": {"start_at": _future(40)},
    "hourly": {"send_minute": 7},
    "daily": {"send_hour": 6, "send_minute": 45},
    "weekly": {"weekly_dow": 3},
    "biweekly": {"weekly_dow": 5, "start_at": _future(2)},
    "monthly": {"monthly_dom": -1},
    "cron": {"cron_expression": "*/20 9-17 * * MON-FRI"},
    "interval": {"interval_seconds": 5400},
}


@pytest.mark.parametrize("cadence", list(CADENCES))
def test_renaming_in_the_console_keeps_channels_pause_windows_and_every_other_field(
        client, console, account_id, cadence):
    headers = bearer(account_id)
    body = {"name": "Before", "cadence": cadence, **CADENCES[cadence], "timezone": "Europe/Paris",
            "recipients": ["ann@example.com"], "tags": ["ops"], "window_seconds": 600, "catchup": "all",
            "catchup_window_seconds": 7200, "pause_after_failures": 3, "misfire_grace_seconds": 90,
            "overlap_policy": "buffer_one", "task_parameters": {"depth": 2}, "filters": {"min_price": 500000},
            "channels": [{"type": "webhook", "url": HOOK}, {"type": "slack", "url": SLACK}]}
    if cadence != "once":
        body["end_at"] = _future(400)
    created = client.post("/v1/schedules", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    sid = created.get_json()["id"]
    paused = client.post(f"/v1/schedules/{sid}/pause", json={"until": _future(20), "note": "audit"}, headers=headers)
    assert paused.status_code == 200
    before, versions = _get(client, headers, sid), len(_history(client, headers, sid))

    response = _submit_edit(console, sid, name="After")

    assert response.status_code == 302, response.get_data(as_text=True)
    after = _get(client, headers, sid)
    assert after["name"] == "After"
    unchanged = {k: v for k, v in before.items() if k not in ("name", "version", "updated_at")}
    assert {k: after[k] for k in unchanged} == unchanged
    assert len(after["channels"]) == 2 and after["paused_until"] is not None
    changes = _history(client, headers, sid)
    assert len(changes) == versions + 1
    assert changes[0]["changes"] == {"name": {"old": "Before", "new": "After"}}
    assert changes[0]["actor"] == "console"


def test_unticking_a_channel_removes_it_and_a_new_one_is_added(client, console, account_id):
    headers = bearer(account_id)
    sid = client.post("/v1/schedules", json={"name": "x", "cadence": "daily", "channels": [
        {"type": "webhook", "url": HOOK}, {"type": "slack", "url": SLACK}]}, headers=headers).get_json()["id"]
    page = console.get(f"/console/schedules/{sid}/edit").get_data(as_text=True)
    data = form_fields(page, "schedule-form")
    slack_id = next(c["id"] for c in _get(client, headers, sid)["channels"] if c["type"] == "slack")
    data["channel_keep"] = [slack_id]
    data["new_channel_type"], data["new_channel_url"] = ["webhook"], ["http://127.0.0.1:9/other"]
    assert console.post(f"/console/schedules/{sid}/edit", data=data).status_code == 302
    kept = _get(client, headers, sid)["channels"]
    assert [(c["type"], c["url"]) for c in kept] == [("slack", "http://localhost:9/…wxyz"),
                                                     ("webhook", "http://127.0.0.1:9/other")]


def test_the_error_box_lists_every_bad_field_the_cron_expressions_fields_included(client, console, account_id):
    headers = bearer(account_id)
    sid = client.post("/v1/schedules", json={"name": "x", "cadence": "daily"}, headers=headers).get_json()["id"]
    response = _submit_edit(console, sid, cadence="cron", cron_expression="61 25 * * MON-FRI#1",
                            recipients="not-an-address", window_seconds="0")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    box = page[page.index('id="form-errors"'):page.index("</div>", page.index('id="form-errors"'))]
    for text in ("cron expression", "minute field", "hour field", "day-of-week field", "recipients",
                 "window seconds"):
        assert text in box
    assert _get(client, headers, sid)["cadence"] == "daily"


# --- the property: an unchanged form is a no-op ---------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\r\t"), min_size=1,
                max_size=30)
_ZONES = st.sampled_from(["UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata", "Australia/Lord_Howe"])
_JSON = st.dictionaries(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
                        st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), _TEXT), max_size=3)
_TIMING = st.one_of(
    st.builds(lambda h, m: {"cadence": "daily", "send_hour": h, "send_minute": m},
              st.integers(0, 23), st.integers(0, 59)),
    st.builds(lambda d: {"cadence": "weekly", "weekly_dow": d}, st.integers(0, 6)),
    st.builds(lambda d: {"cadence": "biweekly", "weekly_dow": d}, st.integers(0, 6)),
    st.builds(lambda d: {"cadence": "monthly", "monthly_dom": d}, st.sampled_from([-1, 1, 15, 29, 31])),
    st.builds(lambda m: {"cadence": "hourly", "send_minute": m}, st.integers(0, 59)),
    st.builds(lambda e: {"cadence": "cron", "cron_expression": e},
              st.sampled_from(["*/15 * * * *", "30 2 * * *", "0 9 * * MON-FRI", "@daily", " 5 4 1 * * "])),
    st.builds(lambda s: {"cadence": "interval", "interval_seconds": s}, st.integers(60, 10**7)),
    st.builds(lambda s: {"cadence": "once", "start_at": _future(3 + s)}, st.integers(0, 300)),
)


@st.composite
def accepted_schedules(draw):
    body = {"name": draw(_TEXT), "timezone": draw(_ZONES), **draw(_TIMING)}
    optional = {
        "description": st.one_of(st.none(), _TEXT), "report_type": st.one_of(st.none(), _TEXT),
        "city": st.one_of(st.none(), _TEXT), "zip_codes": st.one_of(st.none(), st.lists(
            st.from_regex(r"\A[0-9]{5}\Z"), max_size=3)),
        "lookback_days": st.one_of(st.none(), st.integers(1, 3650)), "filters": _JSON, "task_parameters": _JSON,
        "recipients": st.lists(st.sampled_from(["ann@example.com", "bob@example.org", "c.d+x@sub.example.net"]),
                               max_size=3, unique=True),
        "include_attachment": st.booleans(), "active": st.booleans(),
        "tags": st.lists(st.from_regex(r"\A[a-z][a-z0-9-]{0,9}\Z"), max_size=3, unique=True),
        "misfire_grace_seconds": st.one_of(st.none(), st.integers(0, 10**6)),
        "overlap_policy": st.sampled_from(["skip", "buffer_one", "allow"]),
        "pause_after_failures": st.one_of(st.none(), st.integers(1, 1000)),
        "window_seconds": st.one_of(st.none(), st.integers(1, 86400)),
        "end_at": st.one_of(st.none(), st.integers(500, 5000).map(_future)),
        "channels": st.lists(st.sampled_from([{"type": "webhook", "url": HOOK}, {"type": "slack", "url": SLACK}]),
                             max_size=2),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            body[name] = draw(strategy)
    if draw(st.booleans()):
        body.update(catchup="all", catchup_window_seconds=draw(st.integers(60, 31 * 86400)))
    pause = draw(st.one_of(st.none(), st.fixed_dictionaries({"note": st.one_of(st.none(), _TEXT),
                                                             "until": st.one_of(st.none(), st.just(_future(9)))})))
    return body, pause


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(example=accepted_schedules())
def test_submitting_the_edit_form_unchanged_changes_nothing(client, console, account_id, example):
    body, pause = example
    headers = bearer(account_id)
    created = client.post("/v1/schedules", json=body, headers=headers)
    assert created.status_code == 201, (body, created.get_json())
    sid = created.get_json()["id"]
    if pause is not None and created.get_json()["active"]:
        assert client.post(f"/v1/schedules/{sid}/pause", json=pause, headers=headers).status_code == 200
    before, changes = _get(client, headers, sid), _history(client, headers, sid)

    response = _submit_edit(console, sid)

    assert response.status_code == 302, response.get_data(as_text=True)
    assert _get(client, headers, sid) == before
    assert _history(client, headers, sid) == changes


def test_a_new_time_zone_keeps_the_start_and_end_as_the_wall_times_the_form_shows(client, console, account_id):
    """start_at and end_at are typed as wall times in the schedule's zone: changing the zone alone keeps
    what the person sees (09:00) and moves the instants with it."""
    headers = bearer(account_id)
    body = {"name": "x", "cadence": "daily", "timezone": "America/New_York",
            "start_at": "2027-01-04T14:00:00Z", "end_at": "2027-06-01T13:00:00Z"}  # 09:00 EST, 09:00 EDT
    sid = client.post("/v1/schedules", json=body, headers=headers).get_json()["id"]
    assert _submit_edit(console, sid, timezone="Europe/Paris").status_code == 302
    after = _get(client, headers, sid)
    assert (after["start_at"], after["end_at"]) == ("2027-01-04T08:00:00Z", "2027-06-01T07:00:00Z")
    assert set(_history(client, headers, sid)[0]["changes"]) == {"timezone", "start_at", "end_at"}
