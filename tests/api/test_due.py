"""GET /v1/schedules/due: active schedules whose next run has come, most overdue first."""
from __future__ import annotations

from core.ops import db


def _set_next_run(conn, schedule_id, value):
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET next_run_at = %s WHERE id = %s", (value, schedule_id))


def test_due_lists_active_overdue_schedules_oldest_first(client, auth, create, conn):
    late, later, future, off = (create(name=n) for n in ("late", "later", "future", "off"))
    _set_next_run(conn, late["id"], "2020-01-01 00:00:00+00")
    _set_next_run(conn, later["id"], "2021-01-01 00:00:00+00")
    _set_next_run(conn, off["id"], "2019-01-01 00:00:00+00")
    client.post(f"/v1/schedules/{off['id']}/disable", headers=auth)
    response = client.get("/v1/schedules/due", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert [s["name"] for s in body] == ["late", "later"]
    assert body[0]["next_run_at"] == "2020-01-01T00:00:00Z"


def test_due_limit(client, auth, create, conn):
    for i in range(3):
        _set_next_run(conn, create(name=f"s{i}")["id"], f"2020-01-0{i + 1} 00:00:00+00")
    assert [s["name"] for s in client.get("/v1/schedules/due?limit=2", headers=auth).get_json()] == ["s0", "s1"]
    for query in ("limit=0", "limit=501", "limit=ten"):
        assert client.get(f"/v1/schedules/due?{query}", headers=auth).status_code == 400


def test_nothing_is_due_right_after_creation(client, auth, create):
    create()
    assert client.get("/v1/schedules/due", headers=auth).get_json() == []
