"""GET /v1/schedules/stats: seed 003's summary, for the caller's tenant only."""
from __future__ import annotations

from core.ops import db


def test_stats_of_an_empty_account(client, auth):
    assert client.get("/v1/schedules/stats", headers=auth).get_json() == {
        "total_schedules": 0, "enabled_schedules": 0, "disabled_schedules": 0, "total_runs": 0,
        "successful_runs": 0, "failed_runs": 0, "success_rate": None, "by_cadence": {},
    }


def test_stats_count_schedules_and_runs(client, auth, create, conn):
    weekly = create()
    create(cadence="daily")
    create(cadence="daily", active=False)
    with db.service_transaction(conn) as cur:
        for status in ["succeeded"] * 17 + ["failed"] * 3 + ["pending", "missed"]:
            cur.execute("INSERT INTO schedule_runs (schedule_id, status) VALUES (%s, %s)", (weekly["id"], status))
    response = client.get("/v1/schedules/stats", headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {
        "total_schedules": 3, "enabled_schedules": 2, "disabled_schedules": 1, "total_runs": 22,
        "successful_runs": 17, "failed_runs": 3, "success_rate": 85.0, "by_cadence": {"daily": 2, "weekly": 1},
    }
