"""POST /v1/schedules/{id}/backfill: one run per occurrence in a past range, marked backfill, each
scheduled_for its occurrence; asking twice creates nothing new; bounded; another tenant's is a 404."""
from __future__ import annotations

from core.ops import db

NY_0230 = {"cadence": "daily", "send_hour": 2, "send_minute": 30, "timezone": "America/New_York"}


def backfill(client, auth, sid, start, end):
    return client.post(f"/v1/schedules/{sid}/backfill", json={"from": start, "to": end}, headers=auth)


def test_a_backfill_over_the_spring_forward_night_runs_each_occurrence_once(client, auth, create):
    sid = create(**NY_0230)["id"]
    response = backfill(client, auth, sid, "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["occurrences"], body["created"], body["existing"]) == (3, 3, 0)
    # 02:30 EST, then 03:00 EDT (02:30 does not exist on 03-08), then 02:30 EDT
    assert [r["scheduled_for"] for r in body["runs"]] == ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z",
                                                         "2026-03-09T06:30:00Z"]
    assert {(r["trigger"], r["status"], r["schedule_version"]) for r in body["runs"]} == {("backfill", "pending", 1)}
    listed = client.get(f"/v1/schedules/{sid}/runs", headers=auth).get_json()["runs"]
    assert sorted(r["scheduled_for"] for r in listed) == [r["scheduled_for"] for r in body["runs"]]


def test_asking_twice_creates_nothing_new(client, auth, create, conn):
    sid = create(**NY_0230)["id"]
    backfill(client, auth, sid, "2026-03-07T00:00:00Z", "2026-03-08T12:00:00Z")
    again = backfill(client, auth, sid, "2026-03-06T00:00:00Z", "2026-03-09T12:00:00Z").get_json()
    assert (again["occurrences"], again["created"], again["existing"]) == (4, 2, 2)
    assert [r["scheduled_for"] for r in again["runs"]] == ["2026-03-06T07:30:00Z", "2026-03-09T06:30:00Z"]
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS n FROM schedule_runs WHERE schedule_id = %s", (sid,))
        assert cur.fetchone()["n"] == 4


def test_an_occurrence_the_schedule_already_ran_gets_no_backfill_run(client, auth, create, conn):
    sid = create(**NY_0230)["id"]
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for)"
                    " VALUES (%s, 'succeeded', 'schedule', '2026-03-08T07:00:00Z')", (sid,))
    body = backfill(client, auth, sid, "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z").get_json()
    assert (body["created"], body["existing"]) == (2, 1)


def test_a_range_with_no_occurrence_creates_nothing(client, auth, create):
    sid = create(**NY_0230)["id"]
    body = backfill(client, auth, sid, "2026-03-07T08:00:00Z", "2026-03-08T06:59:59Z").get_json()
    assert body == {"occurrences": 0, "created": 0, "existing": 0, "runs": []}


def test_bad_ranges_are_400s_naming_the_field(client, auth, create):
    sid = create(cadence="hourly")["id"]
    too_many = backfill(client, auth, sid, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")
    assert too_many.status_code == 400 and "1000" in too_many.get_json()["fields"]["to"][0]
    future = backfill(client, auth, sid, "2026-01-01T00:00:00Z", "2999-01-01T00:00:00Z")
    assert future.status_code == 400 and "to" in future.get_json()["fields"]
    backwards = backfill(client, auth, sid, "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")
    assert backwards.status_code == 400 and "to" in backwards.get_json()["fields"]
    missing = client.post(f"/v1/schedules/{sid}/backfill", json={"to": "2026-01-01T00:00:00Z"}, headers=auth)
    assert missing.status_code == 400 and "from" in missing.get_json()["fields"]


def test_another_tenants_schedule_is_a_404(client, auth, other_auth, create):
    sid = create(**NY_0230)["id"]
    assert backfill(client, other_auth, sid, "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z").status_code == 404


def test_catchup_all_needs_its_window_and_both_show_on_the_schedule(client, auth, create):
    refused = client.post("/v1/schedules", json={"name": "x", "cadence": "daily", "catchup": "all"}, headers=auth)
    assert refused.status_code == 400 and "catchup_window_seconds" in refused.get_json()["fields"]
    for bad in ({"catchup": "some"}, {"catchup_window_seconds": 59}, {"catchup_window_seconds": 31 * 86400 + 1}):
        response = client.post("/v1/schedules", json={"name": "x", "cadence": "daily", **bad}, headers=auth)
        assert response.status_code == 400 and set(response.get_json()["fields"]) == set(bad)
    made = create(catchup="all", catchup_window_seconds=86400)
    assert (made["catchup"], made["catchup_window_seconds"]) == ("all", 86400)
    assert create(name="Default")["catchup"] == "latest"
