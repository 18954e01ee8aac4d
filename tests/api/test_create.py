"""POST /v1/schedules: seed 001's body, defaults, next_run_at, and every kind of bad input as a 400."""
from __future__ import annotations

import pytest
from freezegun import freeze_time

from api import create_app
from tests.api.conftest import SEED_001_BODY, bearer

SEED_000_CURL_BODY = {  # seed 000's curl example, verbatim
    "name": "Test Schedule",
    "report_type": "market_snapshot",
    "city": "Houston",
    "cadence": "weekly",
    "weekly_dow": 1,
    "send_hour": 9,
    "send_minute": 0,
    "recipients": ["test@example.com"],
    "active": True,
}


@freeze_time("2025-11-14 15:00:00")  # a Friday afternoon, UTC
def test_seed_001_body_is_created_with_next_monday_9am_utc(client, account_id):
    response = client.post("/v1/schedules", json=SEED_001_BODY, headers=bearer(account_id))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["next_run_at"] == "2025-11-17T09:00:00Z"
    for name, value in SEED_001_BODY.items():
        assert body[name] == value
    assert body["account_id"] == str(account_id)
    assert body["task"] == "generate_report"
    assert body["timezone"] == "UTC"
    assert body["created_at"] == "2025-11-14T15:00:00Z"
    assert body["run_count"] == 0 and body["last_run_at"] is None
    assert response.headers["Location"] == f"/v1/schedules/{body['id']}"


def test_seed_000_curl_example_gets_a_201(client, auth):
    response = client.post("/v1/schedules", json=SEED_000_CURL_BODY, headers=auth)
    assert response.status_code == 201, response.get_json()


def test_defaults_fill_what_the_body_leaves_out(client, auth):
    body = client.post("/v1/schedules", json={"name": "n", "cadence": "daily"}, headers=auth).get_json()
    assert body["send_hour"] == 9 and body["send_minute"] == 0
    assert body["task_parameters"] == {} and body["filters"] == {}
    assert body["recipients"] == [] and body["tags"] == []
    assert body["lookback_days"] == 30 and body["include_attachment"] is False and body["active"] is True


def test_every_client_field_round_trips(client, auth):
    full = {
        "name": "Full", "description": "all fields", "task": "generate_report",
        "task_parameters": {"depth": 2, "nested": {"a": [1, "b", None]}}, "report_type": "market_snapshot",
        "city": "San Diego", "zip_codes": ["92101", "92103"], "lookback_days": 14, "filters": {"beds": 3},
        "recipients": ["a@example.com", "b@example.org"], "include_attachment": True, "cadence": "cron",
        "cron_expression": "30 2 * * 1-5", "timezone": "America/New_York",
        "start_at": "2030-01-01T00:00:00-05:00", "end_at": "2031-01-01T00:00:00Z",
        "misfire_grace_seconds": 300, "active": True, "tags": ["ops", "weekly"],
    }
    body = client.post("/v1/schedules", json=full, headers=auth).get_json()
    assert body["start_at"] == "2030-01-01T05:00:00Z"
    assert body["next_run_at"] == "2030-01-01T07:30:00Z"  # 02:30 EST on the first weekday
    for name, value in full.items():
        if name != "start_at":
            assert body[name] == value, name


@freeze_time("2025-11-14 15:00:00")
def test_start_at_with_offset_and_hourly_next_run(client, account_id):
    body = client.post("/v1/schedules", json={"name": "h", "cadence": "hourly", "send_minute": 30},
                       headers=bearer(account_id)).get_json()
    assert body["next_run_at"] == "2025-11-14T15:30:00Z"


def _fields(response):
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"] == "validation_error" and body["message"] == "Invalid input"
    return body["fields"]


@pytest.mark.parametrize("override, field", [
    ({"weekly_dow": None}, "weekly_dow"),                      # missing for weekly: the seed's error
    ({"weekly_dow": "monday"}, "weekly_dow"),                  # wrong type
    ({"weekly_dow": 1.5}, "weekly_dow"),
    ({"weekly_dow": 7}, "weekly_dow"),                         # out of range
    ({"send_hour": 24}, "send_hour"),
    ({"send_minute": -1}, "send_minute"),
    ({"send_hour": True}, "send_hour"),
    ({"lookback_days": 10**12}, "lookback_days"),
    ({"cadence": "fortnightly"}, "cadence"),
    ({"cadence": "monthly"}, "monthly_dom"),
    ({"cadence": "monthly", "monthly_dom": 0}, "monthly_dom"),
    ({"cadence": "cron"}, "cron_expression"),
    ({"cadence": "cron", "cron_expression": "61 * * * *"}, "cron_expression"),
    ({"cadence": "cron", "cron_expression": "not cron"}, "cron_expression"),
    ({"cadence": "interval"}, "interval_seconds"),
    ({"cadence": "interval", "interval_seconds": 59}, "interval_seconds"),
    ({"cadence": "once"}, "start_at"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"recipients": ["not-an-email"]}, "recipients"),
    ({"recipients": "client@example.com"}, "recipients"),
    ({"recipients": [f"r{i}@example.com" for i in range(51)]}, "recipients"),
    ({"start_at": "2030-01-01T00:00:00"}, "start_at"),        # no offset
    ({"start_at": "yesterday"}, "start_at"),
    ({"start_at": "2031-01-01T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}, "end_at"),
    ({"end_at": "2000-01-01T00:00:00Z"}, "end_at"),            # past: would never run
    ({"cadence": "once", "start_at": "2000-01-01T00:00:00Z"}, "start_at"),  # past once
    ({"task": "os.system"}, "task"),
    ({"task_parameters": [1, 2]}, "task_parameters"),
    ({"task_parameters": {"x": "a\u0000b"}}, "task_parameters"),
    ({"filters": "beds=3"}, "filters"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "nul\u0000name"}, "name"),
    ({"name": None}, "name"),
    ({"tags": ["x" * 51]}, "tags"),
    ({"active": "maybe"}, "active"),
    ({"misfire_grace_seconds": -1}, "misfire_grace_seconds"),
    ({"colour": "blue"}, "colour"),                            # unknown field
    ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),    # server field
    ({"next_run_at": "2030-01-01T00:00:00Z"}, "next_run_at"),
    ({"run_count": 5}, "run_count"),
])
def test_bad_field_is_a_400_naming_it(client, auth, override, field):
    response = client.post("/v1/schedules", json={**SEED_001_BODY, **override}, headers=auth)
    fields = _fields(response)
    assert field in fields, fields
    assert all(isinstance(messages, (list, dict)) for messages in fields.values())


def test_missing_weekly_dow_gives_the_seeds_message(client, auth):
    body = {name: value for name, value in SEED_001_BODY.items() if name != "weekly_dow"}
    fields = _fields(client.post("/v1/schedules", json=body, headers=auth))
    assert fields == {"weekly_dow": ["weekly_dow required for weekly cadence"]}


def test_required_fields_are_named(client, auth):
    fields = _fields(client.post("/v1/schedules", json={}, headers=auth))
    assert set(fields) == {"name", "cadence"}


def test_several_bad_fields_are_all_named(client, auth):
    fields = _fields(client.post("/v1/schedules", json={**SEED_001_BODY, "send_hour": 99, "colour": 1,
                                                        "recipients": ["x"]}, headers=auth))
    assert {"send_hour", "colour", "recipients"} <= set(fields)


@pytest.mark.parametrize("data", [b"{not json", b'{"name": NaN}', b'{"lookback_days": 1e999}',
                                  b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"n": ' + b"9" * 5000 + b"}"])
def test_malformed_json_is_a_400(client, auth, data):
    response = client.post("/v1/schedules", data=data, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation_error"
    assert "body" in response.get_json()["fields"]


@pytest.mark.parametrize("document", [[SEED_001_BODY], "a string", 42, None])
def test_a_body_that_is_not_an_object_is_a_400(client, auth, document):
    response = client.post("/v1/schedules", json=document, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation_error"


def test_a_body_over_the_size_limit_is_a_413(client, auth):
    huge = {**SEED_001_BODY, "description": "x" * (70 * 1024)}
    response = client.post("/v1/schedules", json=huge, headers=auth)
    assert response.status_code == 413
    assert response.get_json() == {"error": "payload_too_large",
                                   "message": "request body is larger than 65536 bytes"}


def test_the_recipient_cap_is_a_setting(app_config, account_id):
    app = create_app({**app_config, "MAX_RECIPIENTS": "2"})
    try:
        client = app.test_client()
        three = {**SEED_001_BODY, "recipients": ["a@example.com", "b@example.com", "c@example.com"]}
        fields = _fields(client.post("/v1/schedules", json=three, headers=bearer(account_id)))
        assert fields == {"recipients": ["At most 2 recipients, got 3."]}
        two = {**three, "recipients": three["recipients"][:2]}
        assert client.post("/v1/schedules", json=two, headers=bearer(account_id)).status_code == 201
    finally:
        app.extensions["db_pool"].close()
