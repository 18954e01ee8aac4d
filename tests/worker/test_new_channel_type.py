"""A channel type is its sender and one registration: a throwaway `teams` type, registered from this test
alone (its sender below, its ChannelType, and the row migration 0030's table would get from a
migration's INSERT), is taken by the API on a schedule and in the alert settings, listed in the
OpenAPI document, labelled and offered by the console, and delivered by a run and by an alert to a
real HTTP receiver on loopback, its URL masked as a secret everywhere it is shown."""
from __future__ import annotations

import json

import pytest

from core.deliveries import channel_types
from core.deliveries.webhooks import HttpChannel
from core.ops import db
from core.ops.settings import load_settings
from core.runs.tasks import TaskRegistry
from tests.api.conftest import JWT_SECRET, SEED_001_BODY, app, auth, client  # noqa: F401 (fixtures)
from tests.console.conftest import login_link
from tests.receivers import Receiver
from tests.worker.conftest import fetch, make_run, make_schedule
from tests.worker.test_alerts import (alert_worker, push_and_work, smtp_settings,  # noqa: F401 (fixtures)
                                      use_settings)
from tests.worker.test_execution import execute, run_row


class TeamsChannel(HttpChannel):
    """The whole sender of the new type: its two bodies (HttpChannel posts them and reads the answers)."""

    def request(self, target, run, schedule, result):
        return json.dumps({"text": f"{result.get('title')}: {result.get('report_url')}"}).encode(), {}

    def alert_request(self, row, message, content):
        return json.dumps({"text": content.subject}).encode(), {}


TEAMS = channel_types.ChannelType("teams", "Microsoft Teams", f"{__name__}:TeamsChannel", "a Teams workflow URL",
                                  secret_url=True, final_4xx=True)


@pytest.fixture
def teams(monkeypatch, conn):
    monkeypatch.setitem(channel_types.TYPES, "teams", TEAMS)
    with db.service_transaction(conn) as cur:  # what the type's migration does
        cur.execute("INSERT INTO channel_types (name, secret_url) VALUES ('teams', TRUE)")
    return TEAMS


@pytest.fixture
def app_config(teams, database_url, redis_url):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
            "WEBHOOK_ALLOW_LOOPBACK": "true"}


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_the_api_takes_it_the_console_shows_it_and_a_run_delivers_to_it(
        app, client, auth, conn, account_id, worker_env, receiver):  # noqa: F811
    url = receiver.url("/workflows/abc/secretTEAM")
    response = client.post("/v1/schedules", headers=auth,
                           json={**SEED_001_BODY, "recipients": [], "channels": [{"type": "teams", "url": url}]})
    assert response.status_code == 201, response.get_json()
    schedule = response.get_json()
    [channel] = schedule["channels"]
    assert (channel["type"], channel["url"]) == ("teams", f"http://127.0.0.1:{receiver.port}/…TEAM")
    document = client.get("/openapi.json").get_json()
    assert document["components"]["schemas"]["Channel"]["properties"]["type"]["enum"] == ["webhook", "slack", "teams"]
    refused = client.post("/v1/schedules", headers=auth, json={**SEED_001_BODY, "channels": [{"type": "skype",
                                                                                                 "url": url}]})
    assert refused.get_json()["fields"]["channels"]["0"]["type"] == ["Must be one of: webhook, slack, teams."]

    console = app.test_client()
    assert console.get(login_link(account_id)).status_code == 302
    page = console.get(f"/console/schedules/{schedule['id']}").get_data(as_text=True)
    assert f'<span class="channel-type">Microsoft Teams</span> <span class="url">{channel["url"]}</span>' in page
    assert "secretTEAM" not in page
    form = console.get("/console/schedules/new").get_data(as_text=True)
    assert '<option value="teams">Microsoft Teams</option>' in form
    assert "Webhook, Slack and Microsoft Teams channels" in form

    settings = load_settings({**worker_env, "WEBHOOK_ALLOW_LOOPBACK": "true"})
    run_id = make_run(conn, schedule["id"])
    assert execute(conn, settings, TaskRegistry(settings.tasks), run_id)["status"] == "succeeded"
    [request] = receiver.requests
    result = run_row(conn, run_id)["result"]
    assert request.path == "/workflows/abc/secretTEAM"
    assert request.json() == {"text": f"{result['title']}: {result['report_url']}"}
    [row] = fetch(conn, "SELECT channel, status, attempts FROM deliveries WHERE run_id = %s", run_id)
    assert dict(row) == {"channel": "teams", "status": "sent", "attempts": 1}
    history = console.get(f"/console/schedules/{schedule['id']}").get_data(as_text=True)
    assert f"Microsoft Teams: {channel['url']}" in history


def test_an_alert_goes_to_it_and_a_4xx_fails_it_at_once(
        client, auth, conn, account_id, worker_env, redis_url, alert_worker):  # noqa: F811
    settings = load_settings({**worker_env, "WEBHOOK_ALLOW_LOOPBACK": "true", "WORKER_MAX_ATTEMPTS": "1"})
    use_settings(alert_worker, settings)
    refusing = Receiver(answers=[(404, {}, b"no such workflow")]).start()
    try:
        saved = client.put("/v1/alerts/settings", headers=auth, json={
            "emails": [], "channels": [{"type": "teams", "url": refusing.url("/workflows/secretTEAM")}]})
        assert saved.status_code == 200, saved.get_json()
        assert saved.get_json()["channels"][0]["url"] == f"http://127.0.0.1:{refusing.port}/…TEAM"
        run_id = make_run(conn, make_schedule(conn, account_id, task="boom", recipients=[]))
        assert execute(conn, settings, TaskRegistry(settings.tasks), run_id)["status"] == "failed"
        push_and_work(conn, redis_url)
    finally:
        refusing.stop()
    [request] = refusing.requests
    assert request.json() == {"text": 'Failing: "Weekly Market Snapshot"'}
    [row] = fetch(conn, "SELECT channel, status, attempts, last_error FROM deliveries"
                        " WHERE alert_message_id IS NOT NULL")
    assert dict(row) == {"channel": "teams", "status": "failed", "attempts": 1,
                         "last_error": "answered 404: no such workflow"}
