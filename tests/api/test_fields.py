"""Text PostgreSQL cannot store (NUL, a lone UTF-16 surrogate) is a 400 naming the field, in every
string of every schedule body (POST, PATCH, preview) and query argument, never a 500."""
from __future__ import annotations

import pytest

from tests.api.conftest import SEED_001_BODY

BAD = ["\ud800", "\udfff", "\x00", "ok\ud83dtail", "a\x00"]
TEXT_FIELDS = ["name", "description", "city", "report_type", "cron_expression", "timezone", "task", "cadence",
               "overlap_policy", "start_at"]
LIST_FIELDS = ["tags", "zip_codes", "recipients"]
OBJECT_FIELDS = ["task_parameters", "filters"]


def _bodies(bad: str):
    for field in TEXT_FIELDS:
        yield field, {field: bad}
    for field in LIST_FIELDS:
        yield field, {field: ["fine", bad]}
    for field in OBJECT_FIELDS:
        yield field, {field: {"key": {"deeper": [bad]}}}
        yield field, {field: {bad: 1}}


@pytest.mark.parametrize("bad", BAD)
def test_unstorable_text_in_any_field_of_a_create_is_a_400_naming_it(client, auth, bad):
    for field, change in _bodies(bad):
        response = client.post("/v1/schedules", json={**SEED_001_BODY, **change}, headers=auth)
        assert response.status_code == 400, (field, response.get_json())
        assert list(response.get_json()["fields"]) == [field], response.get_json()


@pytest.mark.parametrize("bad", BAD)
def test_unstorable_text_in_any_field_of_an_edit_or_preview_is_a_400_naming_it(client, auth, create, bad):
    schedule_id = create()["id"]
    for field, change in _bodies(bad):
        for response in (client.patch(f"/v1/schedules/{schedule_id}", json=change, headers=auth),
                         client.post("/v1/schedules/preview", json={**SEED_001_BODY, **change}, headers=auth)):
            assert response.status_code == 400, (field, response.get_json())
            assert list(response.get_json()["fields"]) == [field], response.get_json()


def test_the_message_says_what_and_where(client, auth):
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "task_parameters": {"a": ["x", "\ud800"]}},
                           headers=auth)
    assert response.get_json()["fields"] == {
        "task_parameters": ["Must not contain a lone UTF-16 surrogate (U+D800) (at task_parameters.a[1])."]}
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "name": "a\x00"}, headers=auth)
    assert response.get_json()["fields"] == {"name": ["Must not contain NUL characters."]}


def test_a_nul_in_a_query_argument_is_a_400_naming_it(client, auth):
    for name in ("tag", "task"):
        response = client.get(f"/v1/schedules?{name}=a%00b", headers=auth)
        assert response.status_code == 400 and list(response.get_json()["fields"]) == [name]


def test_control_characters_are_stored_as_given(client, auth):
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "description": "tab\there\x1b[31m\x7f"},
                           headers=auth)
    assert response.status_code == 201
    assert response.get_json()["description"] == "tab\there\x1b[31m\x7f"


def test_an_offset_beyond_what_postgresql_stores_is_kept_in_utc(client, auth):
    """RFC 3339 allows -20:21; PostgreSQL refuses offsets past +-15:59: the API stores the instant in UTC."""
    body = {"name": "far offset", "cadence": "interval", "interval_seconds": 3600,
            "start_at": "2999-08-18T03:42:34-20:21"}
    response = client.post("/v1/schedules", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["start_at"] == "2999-08-19T00:03:34Z"
