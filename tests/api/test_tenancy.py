"""Tenant B's token against tenant A's schedule: every route is a 404 exactly like a missing id, and
nothing of A's changes. B's list, stats and due list never show A's schedules."""
from __future__ import annotations

import uuid

import pytest
import redis

from core.ops import db

ROUTES = [
    ("get", "/v1/schedules/{id}", None),
    ("patch", "/v1/schedules/{id}", {"name": "taken over", "send_hour": 3}),
    ("delete", "/v1/schedules/{id}", None),
    ("get", "/v1/schedules/{id}/runs", None),
    ("post", "/v1/schedules/{id}/run", {"force": True}),
    ("post", "/v1/schedules/{id}/enable", None),
    ("post", "/v1/schedules/{id}/disable", None),
]


def _snapshot(conn, schedule_id):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT * FROM schedules WHERE id = %s", (schedule_id,))
        schedule = cur.fetchone()
        cur.execute("SELECT * FROM schedule_runs WHERE schedule_id = %s ORDER BY id", (schedule_id,))
        return schedule, cur.fetchall()


@pytest.fixture
def a_schedule(client, auth, create, conn):
    """Tenant A's schedule, inactive (so enable would change it), with one run."""
    created = create(active=False)
    assert client.post(f"/v1/schedules/{created['id']}/run", json={"force": True}, headers=auth).status_code == 202
    return created


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_tenant_b_gets_404_on_tenant_a_schedule_and_changes_nothing(
        client, auth, other_auth, a_schedule, conn, redis_url, method, path, body):
    before = _snapshot(conn, a_schedule["id"])
    jobs_before = sorted(redis.Redis.from_url(redis_url).keys("rq:job:*"))
    response = getattr(client, method)(path.format(id=a_schedule["id"]), json=body, headers=other_auth)
    missing = getattr(client, method)(path.format(id=uuid.uuid4()), json=body, headers=other_auth)
    assert response.status_code == 404
    assert response.get_json() == missing.get_json() == {"error": "not_found", "message": "schedule not found"}
    assert _snapshot(conn, a_schedule["id"]) == before
    assert sorted(redis.Redis.from_url(redis_url).keys("rq:job:*")) == jobs_before
    assert client.get(f"/v1/schedules/{a_schedule['id']}", headers=auth).status_code == 200


def test_tenant_b_lists_stats_and_due_show_nothing_of_tenant_a(client, auth, other_auth, create, conn):
    a = create(name="A's")
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET next_run_at = '2020-01-01Z' WHERE id = %s", (a["id"],))
    b = create(name="B's", cadence="daily", headers=other_auth)

    listed = client.get("/v1/schedules?active_only=false", headers=other_auth).get_json()
    assert [s["id"] for s in listed["schedules"]] == [b["id"]] and listed["total"] == 1
    stats = client.get("/v1/schedules/stats", headers=other_auth).get_json()
    assert stats["total_schedules"] == 1 and stats["by_cadence"] == {"daily": 1}
    assert client.get("/v1/schedules/due", headers=other_auth).get_json() == []
    assert [s["id"] for s in client.get("/v1/schedules/due", headers=auth).get_json()] == [a["id"]]


def test_filters_cannot_reach_another_tenant(client, other_auth, create):
    create(name="A's", tags=["shared-tag"])
    listed = client.get("/v1/schedules?tag=shared-tag&active_only=false", headers=other_auth).get_json()
    assert listed["schedules"] == [] and listed["total"] == 0
