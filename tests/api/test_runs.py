"""GET /v1/schedules/{id}/runs and POST /v1/schedules/{id}/run (run now)."""
from __future__ import annotations

import select

import pytest
import redis
from rq import Queue

from api import create_app
from core.ops import db
from core.runs import lifecycle
from tests.api.conftest import bearer


def _runs(conn, schedule_id):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT * FROM schedule_runs WHERE schedule_id = %s", (schedule_id,))
        return cur.fetchall()


def test_run_now_records_a_pending_run_wakes_the_tickers_and_is_pushed_once(client, auth, create, conn, redis_url,
                                                                              database_url):
    created = create()
    listener = db.connect(database_url, application_name="listener", autocommit=True)
    try:
        with listener.cursor() as cur:
            cur.execute("LISTEN schedules_changed")
        response = client.post(f"/v1/schedules/{created['id']}/run", headers=auth)
        assert select.select([listener], [], [], 5)[0], "no NOTIFY: the tickers would sleep on"
        listener.poll()
        assert [note.channel for note in listener.notifies] == ["schedules_changed"]
    finally:
        listener.close()
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    [run] = _runs(conn, created["id"])
    assert body["run_id"] == body["id"] == str(run["id"])
    assert body["status"] == "pending" and run["status"] == "pending" and body["job_id"] is None
    assert run["trigger"] == "manual" and run["scheduled_for"] is not None and run["not_before"] is not None
    assert body["schedule_id"] == created["id"] and body["schedule_name"] == created["name"]
    client_redis = redis.Redis.from_url(redis_url)
    assert client_redis.keys("rq:*") == []  # the API never pushes: the ticker is the only pusher

    # The ticker's unit pushes it at once (a manual run waits for no grace), and only once.
    pushed = lifecycle.push_pending(conn, client_redis, "schedules", job_timeout=60, limit=10, grace=3600)
    assert pushed == [str(run["id"])]
    assert lifecycle.push_pending(conn, client_redis, "schedules", job_timeout=60, limit=10, grace=0) == []
    queue = Queue("schedules", connection=client_redis)
    assert queue.job_ids == [f"run-{run['id']}"]
    assert queue.fetch_job(f"run-{run['id']}").args == (str(run["id"]),)
    assert _runs(conn, created["id"])[0]["status"] == "queued"


def test_run_now_does_not_touch_the_schedules_timing(client, auth, create):
    created = create()
    client.post(f"/v1/schedules/{created['id']}/run", headers=auth)
    assert client.get(f"/v1/schedules/{created['id']}", headers=auth).get_json()["next_run_at"] == created["next_run_at"]


def test_run_now_of_an_inactive_schedule_needs_force(client, auth, create, conn, redis_url):
    created = create(active=False)
    response = client.post(f"/v1/schedules/{created['id']}/run", json={"force": False}, headers=auth)
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict" and response.get_json()["reason"] == "inactive"
    assert _runs(conn, created["id"]) == []
    assert redis.Redis.from_url(redis_url).keys("rq:job:*") == []
    forced = client.post(f"/v1/schedules/{created['id']}/run", json={"force": True}, headers=auth)
    assert forced.status_code == 202 and forced.get_json()["status"] == "pending"


def test_run_now_rejects_a_bad_body(client, auth, create):
    created = create()
    for data in ({"force": "sure"}, {"forced": True}, [True]):
        response = client.post(f"/v1/schedules/{created['id']}/run", json=data, headers=auth)
        assert response.status_code == 400, data


@pytest.mark.parametrize("redis", ["down", "not configured"])
def test_run_now_without_a_reachable_redis_records_the_run_and_answers_202(
        app_config, account_id, conn, tmp_path, redis):
    """The API needs no Redis to run a schedule now: the run is recorded, the ticker pushes it."""
    if redis == "down":
        config = {**app_config, "REDIS_URL": f"unix://{tmp_path}/no-redis-here.sock"}
    else:
        config = {name: value for name, value in app_config.items() if name != "REDIS_URL"}
    app = create_app(config)
    try:
        client, headers = app.test_client(), bearer(account_id)
        created = client.post("/v1/schedules", json={"name": "x", "cadence": "daily"}, headers=headers).get_json()
        response = client.post(f"/v1/schedules/{created['id']}/run", headers=headers)
    finally:
        app.extensions["db_pool"].close()
    assert response.status_code == 202
    assert response.get_json()["status"] == "pending" and response.get_json()["job_id"] is None
    [run] = _runs(conn, created["id"])
    assert run["status"] == "pending" and run["job_id"] is None


def _add_runs(conn, schedule_id, statuses):
    with db.service_transaction(conn) as cur:
        for minute, status in enumerate(statuses):
            cur.execute(
                "INSERT INTO schedule_runs (schedule_id, status, scheduled_for, created_at)"
                " VALUES (%s, %s, %s, %s)",
                (schedule_id, status, f"2025-01-01 00:{minute:02d}:00+00", f"2025-01-01 00:{minute:02d}:00+00"))


def test_runs_are_listed_newest_first(client, auth, create, conn):
    created = create()
    _add_runs(conn, created["id"], ["succeeded", "failed", "succeeded", "missed"])
    body = client.get(f"/v1/schedules/{created['id']}/runs", headers=auth).get_json()
    assert body["count"] == 4
    assert [run["status"] for run in body["runs"]] == ["missed", "succeeded", "failed", "succeeded"]
    assert body["runs"][0]["scheduled_for"] == "2025-01-01T00:03:00Z"
    assert body["runs"][0]["schedule_id"] == created["id"]


def test_runs_limit_and_status_filter(client, auth, create, conn):
    created = create()
    _add_runs(conn, created["id"], ["succeeded", "failed", "succeeded", "failed", "succeeded"])
    url = f"/v1/schedules/{created['id']}/runs"
    assert client.get(f"{url}?limit=2", headers=auth).get_json()["count"] == 2
    failed = client.get(f"{url}?status=failed", headers=auth).get_json()
    assert [run["status"] for run in failed["runs"]] == ["failed", "failed"]
    for query in ("limit=0", "limit=501", "limit=x", "status=exploded"):
        assert client.get(f"{url}?{query}", headers=auth).status_code == 400, query


def test_runs_of_a_schedule_with_none(client, auth, create):
    created = create()
    assert client.get(f"/v1/schedules/{created['id']}/runs", headers=auth).get_json() == {"runs": [], "count": 0,
                                                                                           "next_before": None}
