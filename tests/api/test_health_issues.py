"""GET /v1/schedules/health: seed 003's problem schedules (failing, stale, consecutive failures) of the
caller's account, one entry per schedule and kind; and the gauges that count them agree with it."""
from __future__ import annotations

from datetime import datetime, timezone

from core import model
from core.model import HEALTH_KINDS as KINDS
from core.ops import db
from core.ops.sql import queries

# What runs' conclusions write (schedule_stats); the rest is the schedule's own row.
STATS = ("run_count", "success_count", "failure_count", "consecutive_failures", "last_error")


def setup_schedule(conn, schedule_id, **columns):
    with db.service_transaction(conn) as cur:
        for table, key, names in (("schedules", "id", [n for n in columns if n not in STATS]),
                                  ("schedule_stats", "schedule_id", [n for n in columns if n in STATS])):
            if names:
                assignments = ", ".join(f"{name} = %({name})s" for name in names)
                if "last_error" in names:
                    assignments += ", last_error_at = clock_timestamp()"
                cur.execute(f"UPDATE {table} SET {assignments} WHERE {key} = %(id)s", {**columns, "id": schedule_id})


def days_ago(conn, days: float):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT now() - make_interval(secs => %s) AS at", (days * 86400,))
        return cur.fetchone()["at"]


def health(client, auth):
    response = client.get("/v1/schedules/health", headers=auth)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["count"] == len(body["issues"])
    return body["issues"]


def kinds(issues, schedule_id) -> set[str]:
    return {issue["kind"] for issue in issues if issue["schedule_id"] == schedule_id}


def test_a_healthy_account_has_no_issues(client, auth, create):
    create()
    assert client.get("/v1/schedules/health", headers=auth).get_json() == {"issues": [], "count": 0}


def test_failing_is_under_half_succeeded_after_ten_runs(client, auth, create, conn):
    failing = create(name="Failing")
    few_runs = create(name="Nine runs", send_hour=1)
    half = create(name="Half", send_hour=2)
    setup_schedule(conn, failing["id"], run_count=12, success_count=3)
    setup_schedule(conn, few_runs["id"], run_count=9, success_count=0)
    setup_schedule(conn, half["id"], run_count=10, success_count=5)
    assert health(client, auth) == [{"schedule_id": failing["id"], "name": "Failing", "kind": "failing",
                                     "detail": "3 of 12 runs succeeded"}]


def test_stale_is_no_run_for_seven_days(client, auth, create, conn):
    never = create(name="Never ran")
    ran_long_ago = create(name="Ran long ago", send_hour=1)
    young = create(name="Created yesterday", send_hour=2)
    once = create(name="Once", cadence="once", start_at="2099-01-01T00:00:00Z")
    off = create(name="Inactive", send_hour=3, active=False)
    ran_recently = create(name="Ran today", send_hour=4)
    for item in (never, ran_long_ago, once, off, ran_recently):
        setup_schedule(conn, item["id"], created_at=days_ago(conn, 30))
    setup_schedule(conn, young["id"], created_at=days_ago(conn, 1))
    setup_schedule(conn, ran_long_ago["id"], last_run_at=days_ago(conn, 9.5))
    setup_schedule(conn, ran_recently["id"], last_run_at=days_ago(conn, 0.5))
    issues = health(client, auth)
    assert [(i["name"], i["kind"], i["detail"]) for i in issues] == [
        ("Never ran", "stale", "no run since it was created 30 days ago"),
        ("Ran long ago", "stale", "no run for 9 days"),
    ]


def test_a_monthly_schedule_is_stale_only_past_its_own_period(client, auth, create, conn):
    monthly = create(name="Monthly", cadence="monthly", monthly_dom=1)
    setup_schedule(conn, monthly["id"], created_at=days_ago(conn, 100), last_run_at=days_ago(conn, 25))
    assert health(client, auth) == []
    setup_schedule(conn, monthly["id"], last_run_at=days_ago(conn, 33))
    assert kinds(health(client, auth), monthly["id"]) == {"stale"}


def test_consecutive_failures_are_three_or_more(client, auth, create, conn):
    three = create(name="Three")
    two = create(name="Two", send_hour=1)
    setup_schedule(conn, three["id"], consecutive_failures=3, last_error="RuntimeError: upstream\n  timed out")
    setup_schedule(conn, two["id"], consecutive_failures=2)
    assert health(client, auth) == [{
        "schedule_id": three["id"], "name": "Three", "kind": "consecutive_failures",
        "detail": "3 failures in a row (last error: RuntimeError: upstream timed out)"}]


def test_one_entry_per_schedule_and_kind_and_only_the_callers(client, auth, other_auth, create, conn):
    both = create(name="Both")
    setup_schedule(conn, both["id"], run_count=10, success_count=0, consecutive_failures=10)
    theirs = create(headers=other_auth, name="Theirs")
    setup_schedule(conn, theirs["id"], run_count=10, success_count=0)
    issues = health(client, auth)
    assert [(i["schedule_id"], i["kind"]) for i in issues] == [(both["id"], "consecutive_failures"),
                                                               (both["id"], "failing")]
    assert [i["schedule_id"] for i in health(client, other_auth)] == [theirs["id"]]


def test_the_route_is_not_taken_for_a_schedule_id(client):
    assert client.get("/v1/schedules/health").status_code == 401  # the route exists; it wants a token
    spec = client.get("/openapi.json").get_json()
    assert "/v1/schedules/health" in spec["paths"]


def test_the_gauges_count_what_the_list_lists(client, auth, create, conn):
    """schedule_health_issues and count_schedules_by_state spell the same rules: they must agree."""
    cases = [{"run_count": 12, "success_count": 3}, {"consecutive_failures": 5},
             {"created_at": days_ago(conn, 20)}, {"created_at": days_ago(conn, 20), "last_run_at": days_ago(conn, 8)},
             {"created_at": days_ago(conn, 20), "last_run_at": days_ago(conn, 6)},
             {"run_count": 10, "success_count": 4, "consecutive_failures": 3, "created_at": days_ago(conn, 9)}]
    for number, columns in enumerate(cases):
        setup_schedule(conn, create(name=f"Case {number}", send_minute=number)["id"], **columns)
    listed = health(client, auth)
    with db.service_transaction(conn) as cur:
        cur.execute(queries["count_schedules_by_state"], {"now": datetime.now(timezone.utc), **model.health_parameters()})
        counted = cur.fetchone()
    for kind in KINDS:
        assert counted[kind] == sum(issue["kind"] == kind for issue in listed), kind
    assert {kind: counted[kind] for kind in KINDS} == {"failing": 2, "stale": 3, "consecutive_failures": 2,
                                                  "paused_after_failures": 0}
