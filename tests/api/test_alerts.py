"""/v1/alerts: settings (validated, Slack masked and kept by id), incidents listed with their messages
and deliveries, a schedule's switch; what opens an alert (a failed, delivery_failed or missed run, a
pause after failures, a channel disabled by its receiver) and what does not (a schedule whose alerts
are off, an event the account does not want); one tenant never sees another's."""
from __future__ import annotations

import pytest

from core.ops import db
from tests.api.conftest import JWT_SECRET, bearer

SLACK = "http://127.0.0.1:9/services/T000/B000/XXXXXXXXXXXXXXXXabcd"


@pytest.fixture
def app_config(database_url, redis_url):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
            "WEBHOOK_ALLOW_LOOPBACK": "true"}


def end_run(conn, schedule_id, status, error=None, *, missed=False):
    """A run of the schedule ends `status` as the worker ends it (running -> final, one UPDATE)."""
    with db.service_transaction(conn) as cur:
        if missed:
            cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, error)"
                        " VALUES (%s, 'missed', 'schedule', now(), 'missed: 3600s late, beyond the misfire grace"
                        " of 60s') RETURNING id::text", (schedule_id,))
            return cur.fetchone()["id"]
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt)"
                    " VALUES (%s, 'running', 'manual', now(), 1) RETURNING id::text", (schedule_id,))
        run_id = cur.fetchone()["id"]
        cur.execute("UPDATE schedule_runs SET status = %s, error = %s, finished_at = now() WHERE id = %s",
                    (status, error, run_id))
        return run_id


def put_settings(client, auth, **body):
    return client.put("/v1/alerts/settings", json={"emails": ["owner@example.com"], **body}, headers=auth)


def test_settings_default_then_saved_and_read_back_with_slack_masked(client, auth):
    assert client.get("/v1/alerts/settings", headers=auth).get_json() == {
        "emails": [], "channels": [], "events": ["failed", "delivery_failed", "missed", "paused",
                                                  "channel_disabled", "stale"], "updated_at": None}
    saved = put_settings(client, auth, channels=[{"type": "slack", "url": SLACK}], events=["failed", "missed"])
    assert saved.status_code == 200
    body = saved.get_json()
    assert body["emails"] == ["owner@example.com"] and body["events"] == ["failed", "missed"]
    [slack] = body["channels"]
    assert slack["type"] == "slack" and slack["url"] == "http://127.0.0.1:9/…abcd" and slack["id"]
    # Kept by id, without sending the secret URL again.
    again = put_settings(client, auth, channels=[{"id": slack["id"]}]).get_json()
    assert again["channels"] == [slack]
    assert client.get("/v1/alerts/settings", headers=auth).get_json()["channels"] == [slack]


def test_bad_settings_are_a_400_naming_every_field(client, auth):
    response = client.put("/v1/alerts/settings", headers=auth, json={
        "emails": ["not-an-address"], "events": ["sometimes"],
        "channels": [{"type": "webhook", "url": "https://10.0.0.1/hook"},
                     {"id": "7d0f4b7e-4a53-4c2e-9d55-6c1d3f0a1b2c"}]})
    assert response.status_code == 400
    fields = response.get_json()["fields"]
    assert set(fields) == {"emails", "events", "channels"}
    assert "0" in fields["channels"] and "url" in fields["channels"]["0"]
    unknown = client.put("/v1/alerts/settings", headers=auth,
                         json={"emails": [], "channels": [{"id": "7d0f4b7e-4a53-4c2e-9d55-6c1d3f0a1b2c"}]})
    assert unknown.status_code == 400
    assert unknown.get_json()["fields"] == {"channels": {"0": {"id": ["no alert channel has this id"]}}}
    missing = client.put("/v1/alerts/settings", headers=auth)  # a PUT replaces them all: emails are required
    assert missing.status_code == 400 and "emails" in missing.get_json()["fields"]
    assert client.put("/v1/schedules/7d0f4b7e-4a53-4c2e-9d55-6c1d3f0a1b2c/alerts", headers=auth,
                      json={"enabled": "no"}).get_json()["fields"] == {"enabled": ["Not a valid boolean."]}


def test_failures_open_one_alert_listed_with_its_message_and_deliveries(conn, client, auth, create):
    put_settings(client, auth, emails=["owner@example.com", "gone@example.com"])
    client.post("/v1/email/suppressions", json={"email": "gone@example.com"}, headers=auth)
    schedule = create()
    first = end_run(conn, schedule["id"], "failed", "ValueError: the report source is down")
    end_run(conn, schedule["id"], "delivery_failed", "1 of 1 deliveries failed")
    missed = end_run(conn, schedule["id"], None, missed=True)
    body = client.get("/v1/alerts", headers=auth).get_json()
    assert body["count"] == 1 and body["next_before"] is None
    [alert] = body["alerts"]
    assert alert["status"] == "open" and alert["failures"] == 3 and alert["opened_by"] == "failed"
    assert alert["schedule_id"] == schedule["id"] and alert["schedule_name"] == "Weekly Market Snapshot"
    assert alert["first_run_id"] == first and alert["last_run_id"] == missed
    [message] = alert["messages"]
    assert message["event"] == "opened" and message["cause"] == "failed" and message["run_id"] == first
    assert {(d["target"], d["status"]) for d in message["deliveries"]} == {
        ("owner@example.com", "pending"), ("gone@example.com", "suppressed")}  # unsubscribed: not sent

    ok = end_run(conn, schedule["id"], "succeeded")
    closed = client.get(f"/v1/alerts/{alert['id']}", headers=auth).get_json()
    assert closed["status"] == "closed" and closed["closed_run_id"] == ok and closed["closed_at"]
    assert [m["event"] for m in closed["messages"]] == ["opened", "recovered"]
    assert client.get("/v1/alerts?status=open", headers=auth).get_json()["count"] == 0
    assert client.get(f"/v1/alerts?schedule_id={schedule['id']}&status=closed", headers=auth).get_json()["count"] == 1


def test_a_schedule_with_alerts_off_and_unwanted_events_open_none(conn, client, auth, create):
    put_settings(client, auth, events=["failed"])
    quiet, other = create(name="Quiet"), create(name="Other")
    switch = client.put(f"/v1/schedules/{quiet['id']}/alerts", json={"enabled": False}, headers=auth)
    assert switch.status_code == 200 and switch.get_json() == {"schedule_id": quiet["id"], "enabled": False}
    assert client.get(f"/v1/schedules/{quiet['id']}/alerts", headers=auth).get_json()["enabled"] is False
    end_run(conn, quiet["id"], "failed", "boom")
    end_run(conn, other["id"], None, missed=True)  # the account does not want missed
    assert client.get("/v1/alerts", headers=auth).get_json()["count"] == 0
    end_run(conn, other["id"], "failed", "boom")
    assert client.get("/v1/alerts", headers=auth).get_json()["count"] == 1
    client.put(f"/v1/schedules/{quiet['id']}/alerts", json={"enabled": True}, headers=auth)
    end_run(conn, quiet["id"], "failed", "boom")
    assert client.get("/v1/alerts", headers=auth).get_json()["count"] == 2


def test_pause_after_failures_and_a_disabled_channel_add_one_message_each(conn, client, auth, create):
    schedule = create(channels=[{"type": "webhook", "url": "http://127.0.0.1:9/hook"}])
    end_run(conn, schedule["id"], "failed", "boom")
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET paused_at = now(), paused_by = 'system', active = false,"
                    " pause_note = 'paused after 1 consecutive failed runs; last error: boom' WHERE id = %s",
                    (schedule["id"],))
        cur.execute("UPDATE schedule_channels SET disabled_at = now(), disabled_reason = 'the receiver answered"
                    " 410 Gone' WHERE schedule_id = %s", (schedule["id"],))
        cur.execute("UPDATE schedule_channels SET disabled_reason = 'again' WHERE schedule_id = %s",
                    (schedule["id"],))  # no second message for the same disabling
    [alert] = client.get("/v1/alerts", headers=auth).get_json()["alerts"]
    assert [(m["event"], m["cause"]) for m in alert["messages"]] == [
        ("opened", "failed"), ("paused", "paused"), ("channel_disabled", "channel_disabled")]
    assert "paused after 1 consecutive failed runs" in alert["messages"][1]["detail"]


def test_one_tenant_never_sees_or_switches_anothers(conn, client, auth, other_account_id, create):
    schedule = create()
    end_run(conn, schedule["id"], "failed", "boom")
    [alert] = client.get("/v1/alerts", headers=auth).get_json()["alerts"]
    other = bearer(other_account_id)
    assert client.get("/v1/alerts", headers=other).get_json()["count"] == 0
    assert client.get(f"/v1/alerts/{alert['id']}", headers=other).status_code == 404
    assert client.get(f"/v1/schedules/{schedule['id']}/alerts", headers=other).status_code == 404
    assert client.put(f"/v1/schedules/{schedule['id']}/alerts", json={"enabled": False},
                      headers=other).status_code == 404
    assert client.get(f"/v1/schedules/{schedule['id']}/alerts", headers=auth).get_json()["enabled"] is True
    put_settings(client, other, emails=["b@example.com"])
    assert client.get("/v1/alerts/settings", headers=auth).get_json()["emails"] == []
