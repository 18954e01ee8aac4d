"""PATCH, enable, disable, DELETE: partial edits, and when next_run_at is (and is not) recomputed."""
from __future__ import annotations

from freezegun import freeze_time

from core.ops import db
from tests.api.conftest import SEED_001_BODY, as_read, bearer


def _set_next_run(conn, schedule_id, value):
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET next_run_at = %s WHERE id = %s", (value, schedule_id))


def test_seed_001_patch_example(client, account_id):
    with freeze_time("2025-11-14 15:00:00"):
        headers = bearer(account_id)
        created = client.post("/v1/schedules", json=SEED_001_BODY, headers=headers).get_json()
        response = client.patch(f"/v1/schedules/{created['id']}", json={"active": False, "send_hour": 10},
                                headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["active"] is False and body["send_hour"] == 10
    assert body["next_run_at"] is None  # off: no next run to promise (seed 001: "nulls next_run_at")
    assert body["name"] == SEED_001_BODY["name"] and body["recipients"] == SEED_001_BODY["recipients"]


def test_a_name_edit_keeps_next_run_at_exactly_even_when_due(client, auth, create, conn):
    created = create()
    _set_next_run(conn, created["id"], "2020-01-06 09:00:00+00")  # due long ago: the ticker's business
    body = client.patch(f"/v1/schedules/{created['id']}", json={"name": "Renamed", "recipients": []},
                        headers=auth).get_json()
    assert body["name"] == "Renamed" and body["recipients"] == []
    assert body["next_run_at"] == "2020-01-06T09:00:00Z"


def test_setting_a_timing_field_to_its_current_value_recomputes_nothing(client, auth, create, conn):
    created = create()
    _set_next_run(conn, created["id"], "2020-01-06 09:00:00+00")
    body = client.patch(f"/v1/schedules/{created['id']}", json={"send_hour": 9, "weekly_dow": 1},
                        headers=auth).get_json()
    assert body["next_run_at"] == "2020-01-06T09:00:00Z"


def test_a_timing_edit_recomputes_next_run_at_from_now(client, account_id):
    with freeze_time("2025-11-14 15:00:00") as frozen:
        headers = bearer(account_id)
        created = client.post("/v1/schedules", json=SEED_001_BODY, headers=headers).get_json()
        assert created["next_run_at"] == "2025-11-17T09:00:00Z"
        frozen.move_to("2025-11-18 12:00:00")  # Tuesday, after that run
        body = client.patch(f"/v1/schedules/{created['id']}", json={"weekly_dow": 3, "timezone": "Europe/Paris"},
                            headers=headers).get_json()
    assert body["next_run_at"] == "2025-11-19T08:00:00Z"  # Wednesday 09:00 in Paris (UTC+1)
    assert body["updated_at"] == "2025-11-18T12:00:00Z"


def test_turning_a_schedule_on_by_patch_recomputes_next_run_at(client, account_id):
    with freeze_time("2025-11-14 15:00:00") as frozen:
        headers = bearer(account_id)
        created = client.post("/v1/schedules", json={**SEED_001_BODY, "active": False}, headers=headers).get_json()
        frozen.move_to("2025-12-02 10:00:00")  # weeks later
        body = client.patch(f"/v1/schedules/{created['id']}", json={"active": True}, headers=headers).get_json()
    assert body["active"] is True
    assert body["next_run_at"] == "2025-12-08T09:00:00Z"


def test_enable_recomputes_next_run_at_and_a_disabled_schedule_shows_none(client, account_id):
    with freeze_time("2025-11-14 15:00:00") as frozen:
        headers = bearer(account_id)
        created = client.post("/v1/schedules", json=SEED_001_BODY, headers=headers).get_json()
        disabled = client.post(f"/v1/schedules/{created['id']}/disable", headers=headers)
        assert disabled.status_code == 200
        assert disabled.get_json()["active"] is False
        assert disabled.get_json()["next_run_at"] is None
        got = client.get(f"/v1/schedules/{created['id']}", headers=headers).get_json()
        assert got["next_run_at"] is None
        frozen.move_to("2025-11-25 10:00:00")
        enabled = client.post(f"/v1/schedules/{created['id']}/enable", headers=headers)
    assert enabled.status_code == 200
    assert enabled.get_json()["active"] is True
    assert enabled.get_json()["next_run_at"] == "2025-12-01T09:00:00Z"


def test_enable_of_an_active_schedule_changes_nothing(client, auth, create, conn):
    created = create()
    _set_next_run(conn, created["id"], "2020-01-06 09:00:00+00")
    body = client.post(f"/v1/schedules/{created['id']}/enable", headers=auth).get_json()
    assert body["next_run_at"] == "2020-01-06T09:00:00Z"


def test_enabling_a_schedule_past_its_end_is_a_409_naming_end_at(client, auth, create, conn):
    created = create(active=False, end_at="2099-01-01T00:00:00Z")
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET end_at = '2001-01-01Z' WHERE id = %s", (created["id"],))
    response = client.post(f"/v1/schedules/{created['id']}/enable", headers=auth)
    assert response.status_code == 409
    assert "end_at" in response.get_json()["fields"]


def test_patch_validates_the_merged_schedule(client, auth, create):
    created = create()
    response = client.patch(f"/v1/schedules/{created['id']}", json={"cadence": "monthly"}, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["fields"] == {"monthly_dom": ["monthly_dom required for monthly cadence"]}
    response = client.patch(f"/v1/schedules/{created['id']}", json={"cadence": "monthly", "monthly_dom": -1},
                            headers=auth)
    assert response.status_code == 200 and response.get_json()["cadence"] == "monthly"


def test_patch_rejects_bad_fields_and_nulls_where_a_value_is_required(client, auth, create):
    created = create()
    for change, field in [({"send_hour": None}, "send_hour"), ({"name": None}, "name"), ({"colour": 1}, "colour"),
                          ({"next_run_at": None}, "next_run_at"), ({"recipients": ["nope"]}, "recipients"),
                          ({"weekly_dow": None}, "weekly_dow")]:
        response = client.patch(f"/v1/schedules/{created['id']}", json=change, headers=auth)
        assert response.status_code == 400, change
        assert field in response.get_json()["fields"], change
    assert client.get(f"/v1/schedules/{created['id']}", headers=auth).get_json() == as_read(created)


def test_patch_may_clear_an_optional_field(client, auth, create):
    created = create(description="old", city="Houston")
    body = client.patch(f"/v1/schedules/{created['id']}", json={"description": None, "city": None},
                        headers=auth).get_json()
    assert body["description"] is None and body["city"] is None


def test_an_empty_patch_changes_nothing_but_updated_at(client, auth, create):
    created = create()
    body = client.patch(f"/v1/schedules/{created['id']}", json={}, headers=auth).get_json()
    assert {k: v for k, v in body.items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"}


def test_delete_is_a_204_and_takes_the_runs_with_it(client, auth, create, conn):
    created = create()
    assert client.post(f"/v1/schedules/{created['id']}/run", headers=auth).status_code == 202
    response = client.delete(f"/v1/schedules/{created['id']}", headers=auth)
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/v1/schedules/{created['id']}", headers=auth).status_code == 404
    assert client.delete(f"/v1/schedules/{created['id']}", headers=auth).status_code == 404
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS n FROM schedule_runs WHERE schedule_id = %s", (created["id"],))
        assert cur.fetchone()["n"] == 0
