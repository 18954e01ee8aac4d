"""Migration 0026's schedule counts (core/schedule/counts.py) against a count of the rows themselves,
after any sequence of the changes a schedule goes through, folded or not, and for each tenant alone."""
from __future__ import annotations

import random

from core.ops import db
from core.schedule import counts

TIMINGS = {
    "daily": {"cadence": "daily", "weekly_dow": None, "monthly_dom": None},
    "weekly": {"cadence": "weekly", "weekly_dow": 2, "monthly_dom": None},
    "monthly": {"cadence": "monthly", "weekly_dow": None, "monthly_dom": 5},
}


def counted(conn, account_id) -> dict:
    with db.tenant_transaction(conn, account_id) as cur:
        return {row["cadence"]: (row["total"], row["enabled"]) for row in counts.by_cadence(cur, account_id)}


def actual(conn, account_id) -> dict:
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT cadence, count(*) AS total, count(*) FILTER (WHERE active) AS enabled FROM schedules"
                    " WHERE account_id = %s GROUP BY cadence", (account_id,))
        return {row["cadence"]: (row["total"], row["enabled"]) for row in cur.fetchall()}


def fold(conn) -> int:
    with db.service_transaction(conn) as cur:
        return counts.fold(cur)


def test_counts_agree_with_the_rows_through_any_sequence_of_changes(client, auth, other_auth, create, conn,
                                                                    account_id, other_account_id):
    rng = random.Random(20261207)
    ids: list[str] = []
    theirs = create(headers=other_auth, **TIMINGS["daily"])
    for step in range(120):
        action = rng.choice(["create", "create", "cadence", "pause", "resume", "enable", "disable", "delete",
                             "ended by the ticker", "fold"] if ids else ["create"])
        target = rng.choice(ids) if ids else None
        if action == "create":
            ids.append(create(active=rng.random() < 0.8, **TIMINGS[rng.choice(list(TIMINGS))])["id"])
        elif action == "cadence":
            response = client.patch(f"/v1/schedules/{target}", json=TIMINGS[rng.choice(list(TIMINGS))], headers=auth)
            assert response.status_code == 200, response.get_json()
        elif action in ("pause", "resume", "enable", "disable"):
            response = client.post(f"/v1/schedules/{target}/{action}", json={}, headers=auth)
            assert response.status_code in (200, 409), (action, response.get_json())
        elif action == "delete":
            assert client.delete(f"/v1/schedules/{target}", headers=auth).status_code == 204
            ids.remove(target)
        elif action == "ended by the ticker":  # its last occurrence passed: the claim turns it off
            with db.service_transaction(conn) as cur:
                cur.execute("UPDATE schedules SET active = FALSE, next_run_at = NULL WHERE id = %s", (target,))
        else:
            fold(conn)
        assert counted(conn, account_id) == actual(conn, account_id), (step, action)
    assert counted(conn, other_account_id) == {"daily": (1, 1)}  # the other tenant's, untouched
    fold(conn)
    assert counted(conn, account_id) == actual(conn, account_id)
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS n FROM schedule_count_deltas")
        assert cur.fetchone()["n"] == 0
    assert theirs["id"] not in ids


def test_the_stats_and_an_unfiltered_pages_total_are_the_counts(client, auth, create, conn, account_id):
    made = [create(**TIMINGS["weekly"]) for _ in range(3)] + [create(active=False, **TIMINGS["daily"])]
    client.post(f"/v1/schedules/{made[0]['id']}/disable", json={}, headers=auth)
    fold(conn)
    create(**TIMINGS["monthly"])  # a delta not folded yet
    stats = client.get("/v1/schedules/stats", headers=auth).get_json()
    assert (stats["total_schedules"], stats["enabled_schedules"], stats["by_cadence"]) == (
        5, 3, {"daily": 1, "monthly": 1, "weekly": 3})
    # page_size 1: the first page does not hold them all, so the total is counted.
    assert client.get("/v1/schedules?page_size=1", headers=auth).get_json()["total"] == 3
    assert client.get("/v1/schedules?page_size=1&active_only=false", headers=auth).get_json()["total"] == 5
    assert client.get("/v1/schedules?page_size=1&cadence=weekly", headers=auth).get_json()["total"] == 2


def test_a_deleted_accounts_deltas_are_dropped_by_the_fold(create, conn, account_id):
    create()
    with db.service_transaction(conn) as cur:
        cur.execute("DELETE FROM accounts WHERE id = %s", (account_id,))
    assert fold(conn) >= 2  # its schedule's +1 and -1
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT (SELECT count(*) FROM schedule_count_deltas) AS deltas,"
                    " (SELECT count(*) FROM schedule_counts WHERE account_id = %s) AS counts", (account_id,))
        assert cur.fetchone() == {"deltas": 0, "counts": 0}
