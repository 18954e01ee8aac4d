"""One request answers every invalid field: a bad recipient and a bad cron expression are both named,
and each bad field of the expression too (issue 26: they used to come one at a time)."""
from __future__ import annotations

from tests.api.conftest import SEED_001_BODY


def _fields(response) -> dict:
    assert response.status_code == 400, response.get_json()
    return response.get_json()["fields"]


def test_a_bad_recipient_and_every_bad_cron_field_are_named_in_one_answer(client, auth):
    body = {**SEED_001_BODY, "cadence": "cron", "cron_expression": "61 25 * * MON-FRI#1",
            "recipients": ["not-an-address"]}
    fields = _fields(client.post("/v1/schedules", json=body, headers=auth))
    assert set(fields) == {"recipients", "cron_expression"}
    cron = " ".join(fields["cron_expression"])
    assert len(fields["cron_expression"]) == 3
    for named in ("minute field '61'", "hour field '25'", "day-of-week field 'MON-FRI#1'"):
        assert named in cron


def test_field_errors_and_timing_errors_of_other_fields_come_together(client, auth):
    body = {**SEED_001_BODY, "cadence": "weekly", "weekly_dow": None, "timezone": "Mars/Olympus",
            "send_hour": 24, "catchup": "all"}
    fields = _fields(client.post("/v1/schedules", json=body, headers=auth))
    assert set(fields) == {"weekly_dow", "timezone", "send_hour", "catchup_window_seconds"}


def test_a_field_refused_by_its_own_check_is_not_also_called_missing(client, auth):
    fields = _fields(client.post("/v1/schedules", json={**SEED_001_BODY, "weekly_dow": "Monday"}, headers=auth))
    assert list(fields) == ["weekly_dow"]
    assert "required" not in " ".join(fields["weekly_dow"])


def test_the_preview_names_every_bad_cron_field_too(client, auth):
    body = {"cadence": "cron", "cron_expression": "99 * * 13 *"}
    fields = _fields(client.post("/v1/schedules/preview", json=body, headers=auth))
    assert len(fields["cron_expression"]) == 2


def test_an_edit_names_a_bad_recipient_and_every_bad_cron_field_at_once(client, auth, create):
    sid = create(cadence="cron", cron_expression="0 9 * * *")["id"]
    body = {"cron_expression": "61 25 * * MON-FRI#1", "recipients": ["not-an-address"]}
    fields = _fields(client.patch(f"/v1/schedules/{sid}", json=body, headers=auth))
    assert set(fields) == {"recipients", "cron_expression"} and len(fields["cron_expression"]) == 3
