"""No input, however malformed, makes the API answer 500: random JSON (and bytes) at every body route.

Bodies are random JSON documents, and a valid schedule body with random fields overridden by random
or near-valid values (zone names, cron strings, extreme timestamps, huge numbers), so the examples
reach past the schema into the time engine and PostgreSQL. Strings are hostile as well: lone UTF-16
surrogates, NUL and other control characters, and very long values, in every string field of every
route (schedule bodies, query arguments, the unsubscribe link's JSON, form and query string).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.schedule.schedules import CLIENT_FIELDS
from tests.api.conftest import SEED_001_BODY

SERVER_FIELDS = ["id", "account_id", "next_run_at", "last_run_at", "run_count", "created_at", "force"]
NEAR_VALID = [
    "UTC", "America/New_York", "Europe/London", "Etc/GMT+14", "../etc/passwd", "", " ", "\u0000",
    "0 9 * * 1", "@daily", "@reboot", "*/0 * * * *", "0 0 30 2 *", "59-59 * * * *", "* * * * * *",
    "2030-01-01T00:00:00Z", "2000-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00", "2030-01-01", "2030-01-01T00:00:00", "a@b.co", "once", "weekly", "cron",
    "interval", "monthly", "biweekly",
]

# What PostgreSQL, encoders and terminals choke on: lone surrogates (a JSON "\ud800"), NUL, C0 and C1
# controls, line and paragraph separators, a BOM, non-characters.
NASTY_CHARS = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\x01", "\x1b", "\x7f", "\x85", "\u2028",
               "\ufeff", "\ufffe", "\U0010ffff", "\n", "\r", "\t", "'", '"', "\\", "%", "@", "*"]
any_char = st.characters(exclude_categories=[])  # surrogates included (hypothesis leaves them out by default)
nasty_char = st.sampled_from(["\ud800", "\udfff", "\x00"]) | st.sampled_from(NASTY_CHARS) | any_char
nasty_text = (st.tuples(st.text(max_size=6), st.lists(nasty_char, min_size=1, max_size=4).map("".join),
                        st.text(max_size=6)).map("".join)
              | st.tuples(st.sampled_from(["a", "0", "x@example.com", "0 9 * * *"]), st.integers(0, 5000),
                          st.sampled_from(NASTY_CHARS + [""])).map(lambda t: t[0] * t[1] + t[2])
              | st.sampled_from([199, 200, 201, 2000, 2001, 70_000]).map(lambda n: "a" * n))

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30) | nasty_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8) | nasty_text, children,
                                                                      max_size=4),
    max_leaves=12,
)
values = json_values | st.sampled_from(NEAR_VALID) | st.integers(-2, 100) | st.lists(st.sampled_from(NEAR_VALID))
names = st.sampled_from(list(CLIENT_FIELDS) + SERVER_FIELDS) | st.text(max_size=12)
overrides = st.dictionaries(names, values, max_size=6)
bodies = (json_values
          | overrides
          | overrides.map(lambda changes: {**SEED_001_BODY, **changes}))
raw = st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())

STRING_FIELDS = ["name", "description", "task", "report_type", "city", "cron_expression", "timezone", "cadence",
                 "overlap_policy", "start_at", "end_at", "tags", "zip_codes", "recipients", "task_parameters",
                 "filters"]
# A string where one is expected, in a list, as a JSON object's value and as its key.
string_shaped = (nasty_text | nasty_text | nasty_text.map(lambda t: [t]) | nasty_text.map(lambda t: {"k": t})
                 | nasty_text.map(lambda t: {t: "v"}))


def percent_encoded(text: str) -> str:
    """`text` as a query string value; lone surrogates go as the bytes Python would write for them."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


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
@given(field=st.sampled_from(STRING_FIELDS), value=string_shaped)
def test_hostile_strings_in_every_string_field_never_500(client, auth, schedule_id, field, value):
    body = {**SEED_001_BODY, field: value}
    _assert_handled(client.post("/v1/schedules", json=body, headers=auth))
    _assert_handled(client.patch(f"/v1/schedules/{schedule_id}", json={field: value}, headers=auth))
    _assert_handled(client.post("/v1/schedules/preview", json=body, headers=auth))


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
@given(name=st.sampled_from(["active_only", "cadence", "task", "tag", "page", "page_size", "limit", "status",
                             "count", "after"]), value=nasty_text)
def test_hostile_query_arguments_never_500(client, auth, schedule_id, name, value):
    query = f"{name}={percent_encoded(value)}"
    for path in ("/v1/schedules", "/v1/schedules/due", f"/v1/schedules/{schedule_id}/runs"):
        _assert_handled(client.get(f"{path}?{query}", headers=auth))
    _assert_handled(client.post(f"/v1/schedules/preview?{query}", json=SEED_001_BODY, headers=auth))


UNSUBSCRIBE_SECRET = "unsubscribe-secret-0123456789abcdef0123"
LINK_FIELDS = ["email", "account_id", "token", "reason"]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET}


def _signed_link(account_id, field: str, value) -> dict:
    """A link with `field` set to `value` whose token is right for its address, however hostile
    (hashed as the route hashes it), so the example reaches past the signature check."""
    link = {"email": "client@example.com", "account_id": str(account_id), "reason": "fuzz", field: value}
    if field != "token":
        message = f"{str(link['email']).strip()}:{link['account_id']}".encode("utf-8", "surrogatepass")
        link["token"] = hmac.new(UNSUBSCRIBE_SECRET.encode(), message, hashlib.sha256).hexdigest()
    return link


@FUZZ
@given(field=st.sampled_from(LINK_FIELDS), value=nasty_text | json_values)
def test_hostile_unsubscribe_links_never_500(client, account_id, field, value):
    link = _signed_link(account_id, field, value)
    response = client.post("/v1/email/unsubscribe", json=link)
    _assert_handled(response)
    text_link = {name: str(item) for name, item in link.items()}
    query = "&".join(f"{name}={percent_encoded(item)}" for name, item in text_link.items())
    for response in (client.get(f"/v1/email/unsubscribe?{query}"),
                     client.post(f"/v1/email/unsubscribe?{query}", data={"List-Unsubscribe": "One-Click"}),
                     client.post("/v1/email/unsubscribe", data=f"{query}&List-Unsubscribe=One-Click",
                                 content_type="application/x-www-form-urlencoded")):
        assert response.status_code < 500, response.get_data(as_text=True)
        assert response.content_type.startswith("text/html") or response.status_code == 413
    _assert_handled(client.get(f"/v1/email/unsubscribe/token?{query}"))


@FUZZ
@given(body=json_values | st.dictionaries(st.sampled_from(["email", "reason", "created_at"]),
                                          values | st.sampled_from(["a@example.com", "A@b.co\u0000"]), max_size=3),
       path_email=st.text(max_size=40) | st.sampled_from(["a\u0000@example.com", "%", "a/b", ".."]))
def test_suppression_routes_never_500(client, auth, body, path_email):
    _assert_handled(client.post("/v1/email/suppressions", json=body, headers=auth))
    response = client.delete(f"/v1/email/suppressions/{quote(path_email, safe='')}", headers=auth)
    assert response.status_code in (204, 404, 405), response.get_data(as_text=True)


@FUZZ
@given(field=st.sampled_from(["email", "reason"]), value=nasty_text, q=nasty_text, path_email=nasty_text)
def test_hostile_strings_at_the_suppression_routes_never_500(client, auth, field, value, q, path_email):
    body = {"email": "a@example.com", "reason": "by hand", field: value}
    _assert_handled(client.post("/v1/email/suppressions", json=body, headers=auth))
    _assert_handled(client.get(f"/v1/email/suppressions?q={percent_encoded(q)}", headers=auth))
    response = client.delete(f"/v1/email/suppressions/{percent_encoded(path_email)}", headers=auth)
    assert response.status_code in (204, 400, 404, 405, 413), response.get_data(as_text=True)
