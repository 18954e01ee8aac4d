"""Delivery channels through the API: `channels` beside `recipients`, validated (a 400 naming the
field), non-public URLs refused at save in production, Slack URLs and signing secrets never shown
whole, a disabled channel shown and enabled again, the signing secret read masked and rotated."""
from __future__ import annotations

import pytest

from api import create_app
from core.ops import db
from tests.api.conftest import SEED_001_BODY, as_read, bearer

SLACK = "https://hooks.slack.com/services/T000/B000/abcdefghijklmnopqrstwxyz"


@pytest.fixture
def app_config(database_url, redis_url):
    from tests.api.conftest import JWT_SECRET
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
            "WEBHOOK_ALLOW_LOOPBACK": "true"}


@pytest.fixture
def production_client(database_url, redis_url):
    from tests.api.conftest import JWT_SECRET
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
                      "ENVIRONMENT": "production", "UNSUBSCRIBE_SECRET": "u" * 32})
    yield app.test_client()
    app.extensions["db_pool"].close()


def test_seed_001_body_is_unchanged_and_has_no_channels(create):
    schedule = create()
    assert schedule["recipients"] == ["client@example.com"] and schedule["channels"] == []


def test_channels_are_saved_in_order_and_a_slack_url_is_read_back_masked(client, auth, create):
    schedule = create(channels=[{"type": "webhook", "url": "http://127.0.0.1:9/hooks/reports?x=1"},
                                {"type": "slack", "url": "http://localhost:9/services/T000/B000/abcdwxyz"}])
    webhook, slack = schedule["channels"]
    assert {k: webhook[k] for k in ("type", "url", "status", "disabled_at")} == {
        "type": "webhook", "url": "http://127.0.0.1:9/hooks/reports?x=1", "status": "active", "disabled_at": None}
    assert slack["type"] == "slack" and slack["url"] == "http://localhost:9/…wxyz"
    read = client.get(f"/v1/schedules/{schedule['id']}", headers=auth).get_json()
    assert read == as_read(schedule)
    listed = client.get("/v1/schedules", headers=auth).get_json()["schedules"]
    assert listed[0]["channels"] == schedule["channels"]
    assert "abcdwxyz" not in client.get("/v1/schedules", headers=auth).get_data(as_text=True)


@pytest.mark.parametrize("channels, field, message", [
    ([{"type": "email", "url": "https://example.com/"}], "type", "Must be one of"),
    ([{"type": "webhook"}], "url", "Missing data"),
    ([{"url": "http://127.0.0.1/"}], "type", "Missing data"),
    ([{"type": "webhook", "url": "ftp://127.0.0.1/x"}], "url", "absolute https:// URL"),
    ([{"type": "webhook", "url": "http://user:pw@127.0.0.1/x"}], "url", "user name or password"),
    ([{"type": "webhook", "url": "http://10.0.0.7/x"}], "url", "10.0.0.7, a private address"),
    ([{"type": "webhook", "url": 5}], "url", "Not a valid string"),
])
def test_a_bad_channel_is_a_400_naming_the_field(client, auth, channels, field, message):
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "channels": channels}, headers=auth)
    assert response.status_code == 400
    problems = response.get_json()["fields"]["channels"]["0"]
    assert message in " ".join(problems[field] if field in problems else problems["_schema"])


def test_a_nul_in_a_channel_url_is_a_400_naming_it(client, auth):
    response = client.post("/v1/schedules", headers=auth, json={
        **SEED_001_BODY, "channels": [{"type": "webhook", "url": "http://127.0.0.1/x\x00"}]})
    assert response.status_code == 400
    assert response.get_json()["fields"] == {"channels": ["Must not contain NUL characters (at channels[0].url)."]}


def test_too_many_channels_or_not_a_list_is_a_400(client, auth):
    many = [{"type": "webhook", "url": f"http://127.0.0.1:9/{i}"} for i in range(11)]
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "channels": many}, headers=auth)
    assert response.status_code == 400 and "At most 10" in response.get_json()["fields"]["channels"][0]
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "channels": "http://x"}, headers=auth)
    assert response.status_code == 400 and "channels" in response.get_json()["fields"]


@pytest.mark.parametrize("url, why", [
    ("https://localhost/hook", "a loopback address"),
    ("https://127.0.0.1/hook", "a loopback address"),
    ("https://10.1.2.3/hook", "a private address"),
    ("https://192.168.1.10/hook", "a private address"),
    ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
    ("https://[::ffff:10.0.0.1]/hook", "a private address"),
    ("https://[fe80::1]/hook", "a link-local address"),
    ("http://127.0.0.1:8080/hook", "must be an https:// URL"),
])
def test_in_production_a_url_to_a_non_public_address_is_refused_at_save(production_client, account_id, url, why):
    response = production_client.post("/v1/schedules", headers=bearer(account_id),
                                      json={**SEED_001_BODY, "channels": [{"type": "webhook", "url": url}]})
    assert response.status_code == 400
    assert why in response.get_json()["fields"]["channels"]["0"]["url"][0]


def test_an_edit_replaces_the_list_keeps_a_channel_named_by_id_and_refuses_an_unknown_id(
        client, auth, other_auth, create):
    schedule = create(channels=[{"type": "slack", "url": "http://127.0.0.1:9/services/secret1"},
                                {"type": "webhook", "url": "http://127.0.0.1:9/a"}])
    slack, _ = schedule["channels"]
    path = f"/v1/schedules/{schedule['id']}"

    response = client.patch(path, json={"name": "renamed"}, headers=auth)  # channels left out: kept
    assert response.get_json()["channels"] == schedule["channels"]

    response = client.patch(path, json={"channels": [{"type": "webhook", "url": "http://127.0.0.1:9/b"},
                                                     {"id": slack["id"]}]}, headers=auth)
    assert response.status_code == 200
    webhook_b, kept = response.get_json()["channels"]
    assert webhook_b["url"] == "http://127.0.0.1:9/b" and kept == slack

    other = client.post("/v1/schedules", json={**SEED_001_BODY, "channels": [
        {"type": "webhook", "url": "http://127.0.0.1:9/theirs"}]}, headers=other_auth).get_json()
    for unknown in (other["channels"][0]["id"], "7d3c1a52-0000-4000-8000-000000000000"):
        response = client.patch(path, json={"channels": [{"id": unknown}]}, headers=auth)
        assert response.status_code == 400
        assert response.get_json()["fields"] == {"channels": {"0": {"id": ["no channel of this schedule has this id"]}}}
    response = client.patch(path, json={"channels": [{"id": slack["id"], "url": "http://127.0.0.1:9/x"}]}, headers=auth)
    assert response.status_code == 400 and "not both" in response.get_json()["fields"]["channels"]["0"]["_schema"][0]

    response = client.patch(path, json={"channels": []}, headers=auth)
    assert response.get_json()["channels"] == []


def test_a_channel_disabled_by_a_410_is_shown_and_enabled_again(client, auth, other_auth, create, conn):
    schedule = create(channels=[{"type": "webhook", "url": "http://127.0.0.1:9/gone"}])
    channel_id = schedule["channels"][0]["id"]
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedule_channels SET disabled_at = now(), disabled_reason = 'the receiver answered"
                    " 410 Gone on 2026-11-29 21:00 UTC' WHERE id = %s", (channel_id,))
    [shown] = client.get(f"/v1/schedules/{schedule['id']}", headers=auth).get_json()["channels"]
    assert shown["status"] == "disabled" and shown["disabled_at"] and "410 Gone" in shown["disabled_reason"]

    path = f"/v1/schedules/{schedule['id']}/channels/{channel_id}/enable"
    assert client.post(path, headers=other_auth).status_code == 404  # another tenant's channel
    response = client.post(path, headers=auth)
    assert response.status_code == 200
    assert response.get_json()["status"] == "active" and response.get_json()["disabled_at"] is None
    assert client.get(f"/v1/schedules/{schedule['id']}", headers=auth).get_json()["channels"][0]["status"] == "active"


def test_a_run_detail_shows_a_slack_delivery_masked(client, auth, create, conn, account_id):
    schedule = create(channels=[{"type": "slack", "url": "http://127.0.0.1:9/services/T/B/topsecretXYZW"}])
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger) VALUES (%s, 'running', 'manual')"
                    " RETURNING id", (schedule["id"],))
        run_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO deliveries (run_id, account_id, channel, target, message_id) VALUES"
                    " (%s, %s, 'slack', 'http://127.0.0.1:9/services/T/B/topsecretXYZW', 'msg_1')",
                    (run_id, account_id))
    response = client.get(f"/v1/schedules/{schedule['id']}/runs/{run_id}", headers=auth)
    assert response.get_json()["deliveries"][0]["target"] == "http://127.0.0.1:9/…XYZW"
    assert "topsecret" not in response.get_data(as_text=True)


def test_the_signing_secret_is_read_masked_and_rotated_with_a_grace_period(client, auth, other_auth):
    assert client.get("/v1/webhooks/secret", headers=auth).get_json() == {"current": None, "previous": []}

    first = client.post("/v1/webhooks/secret/rotate", headers=auth)
    assert first.status_code == 201
    secret = first.get_json()["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    read = client.get("/v1/webhooks/secret", headers=auth).get_json()
    assert read["current"]["secret"] == f"whsec_…{secret[-4:]}" and read["previous"] == []
    assert secret not in client.get("/v1/webhooks/secret", headers=auth).get_data(as_text=True)

    second = client.post("/v1/webhooks/secret/rotate", json={"grace_seconds": 600}, headers=auth).get_json()
    assert second["secret"] != secret
    read = client.get("/v1/webhooks/secret", headers=auth).get_json()
    assert read["current"]["secret"] == f"whsec_…{second['secret'][-4:]}"
    [previous] = read["previous"]
    assert previous["secret"] == f"whsec_…{secret[-4:]}" and previous["expires_at"]

    # No grace: the previous one stops signing at once.
    client.post("/v1/webhooks/secret/rotate", json={"grace_seconds": 0}, headers=auth)
    assert len(client.get("/v1/webhooks/secret", headers=auth).get_json()["previous"]) == 1

    # Another tenant sees none of it.
    assert client.get("/v1/webhooks/secret", headers=other_auth).get_json() == {"current": None, "previous": []}


@pytest.mark.parametrize("body", [{"grace_seconds": -1}, {"grace_seconds": "60"}, {"grace_seconds": 10**9},
                                  {"other": 1}])
def test_a_bad_rotation_body_is_a_400_naming_the_field(client, auth, body):
    response = client.post("/v1/webhooks/secret/rotate", json=body, headers=auth)
    assert response.status_code == 400 and list(response.get_json()["fields"]) == list(body)
