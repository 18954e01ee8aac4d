"""No input, however malformed, makes the API answer 500: random JSON (and bytes) at every body route.

Bodies are random JSON documents, and seed 001's valid body with random fields overridden by random
or near-valid values (zone names, cron strings, extreme timestamps, huge numbers), so the examples
reach past the schema into the time engine and PostgreSQL.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.schedules import CLIENT_FIELDS
from tests.api.conftest import SEED_001_BODY

SERVER_FIELDS = ["id", "account_id", "next_run_at", "last_run_at", "run_count", "created_at", "force"]
NEAR_VALID = [
    "UTC", "America/New_York", "Europe/London", "Etc/GMT+14", "../etc/passwd", "", " ", "\u0000",
    "0 9 * * 1", "@daily", "@reboot", "*/0 * * * *", "0 0 30 2 *", "59-59 * * * *", "* * * * * *",
    "2030-01-01T00:00:00Z", "2000-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00", "2030-01-01", "2030-01-01T00:00:00", "a@b.co", "once", "weekly", "cron",
    "interval", "monthly", "biweekly",
]

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
values = json_values | st.sampled_from(NEAR_VALID) | st.integers(-2, 100) | st.lists(st.sampled_from(NEAR_VALID))
names = st.sampled_from(list(CLIENT_FIELDS) + SERVER_FIELDS) | st.text(max_size=12)
overrides = st.dictionaries(names, values, max_size=6)
bodies = (json_values
          | overrides
          | overrides.map(lambda changes: {**SEED_001_BODY, **changes}))
raw = st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _assert_handled(response):
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert set(response.get_json()) >= {"error", "message"}


@pytest.fixture
def schedule_id(create):
    return create()["id"]


@FUZZ
@given(body=bodies)
def test_post_schedules_never_500s(client, auth, body):
    _assert_handled(client.post("/v1/schedules", json=body, headers=auth))


@FUZZ
@given(body=bodies)
def test_patch_schedule_never_500s(client, auth, schedule_id, body):
    _assert_handled(client.patch(f"/v1/schedules/{schedule_id}", json=body, headers=auth))


@FUZZ
@given(body=bodies, count=st.text(max_size=5), after=st.sampled_from(NEAR_VALID))
def test_preview_never_500s(client, auth, body, count, after):
    response = client.post("/v1/schedules/preview", json=body, headers=auth,
                           query_string={"count": count, "after": after})
    _assert_handled(response)


@FUZZ
@given(data=raw, path=st.sampled_from(["/v1/schedules", "/v1/schedules/preview", "patch", "run",
                                     "/v1/email/suppressions"]))
def test_raw_bytes_never_500(client, auth, schedule_id, data, path):
    headers = {**auth, "Content-Type": "application/json"}
    if path == "patch":
        response = client.patch(f"/v1/schedules/{schedule_id}", data=data, headers=headers)
    elif path == "run":
        response = client.post(f"/v1/schedules/{schedule_id}/run", data=data, headers=headers)
    else:
        response = client.post(path, data=data, headers=headers)
    _assert_handled(response)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["active_only", "cadence", "task", "tag", "page", "page_size",
                                              "limit", "status", "q"]), st.text(max_size=12), max_size=4))
def test_query_arguments_never_500(client, auth, schedule_id, query):
    for path in ("/v1/schedules", "/v1/schedules/due", f"/v1/schedules/{schedule_id}/runs", "/v1/email/suppressions"):
        _assert_handled(client.get(path, query_string=query, headers=auth))


@FUZZ
@given(body=json_values | st.dictionaries(st.sampled_from(["email", "reason", "created_at"]),
                                          values | st.sampled_from(["a@example.com", "A@b.co\u0000"]), max_size=3),
       path_email=st.text(max_size=40) | st.sampled_from(["a\u0000@example.com", "%", "a/b", ".."]))
def test_suppression_routes_never_500(client, auth, body, path_email):
    _assert_handled(client.post("/v1/email/suppressions", json=body, headers=auth))
    response = client.delete(f"/v1/email/suppressions/{quote(path_email, safe='')}", headers=auth)
    assert response.status_code in (204, 404, 405), response.get_data(as_text=True)
