"""overlap_policy through the schedules API: `skip` unless said otherwise, each policy kept and
returned, a bad value a 400 naming the field, and changing it never makes a schedule due.
(What each policy does when a run is still unfinished is tested with the ticker.)"""
from __future__ import annotations

import pytest

from core import model
from core.ops import db
from tests.api.conftest import SEED_001_BODY


def _stored(conn, schedule_id):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT overlap_policy, next_run_at FROM schedules WHERE id = %s", (schedule_id,))
        return cur.fetchone()


def test_a_new_schedule_skips_overlapping_runs_by_default(create, conn):
    created = create()
    assert created["overlap_policy"] == "skip" == model.DEFAULT_OVERLAP_POLICY
    assert _stored(conn, created["id"])["overlap_policy"] == "skip"


@pytest.mark.parametrize("policy", model.OVERLAP_POLICIES)
def test_each_policy_is_stored_and_returned(client, auth, create, conn, policy):
    created = create(overlap_policy=policy)
    assert created["overlap_policy"] == policy
    assert _stored(conn, created["id"])["overlap_policy"] == policy
    assert client.get(f"/v1/schedules/{created['id']}", headers=auth).get_json()["overlap_policy"] == policy
    listed = client.get("/v1/schedules", headers=auth).get_json()["schedules"]
    assert [s["overlap_policy"] for s in listed] == [policy]


@pytest.mark.parametrize("value", ["queue", "SKIP", "", None, 1, ["skip"]])
def test_a_bad_policy_is_a_400_naming_the_field(client, auth, create, value):
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "overlap_policy": value}, headers=auth)
    assert response.status_code == 400
    assert list(response.get_json()["fields"]) == ["overlap_policy"]
    created = create()
    patched = client.patch(f"/v1/schedules/{created['id']}", json={"overlap_policy": value}, headers=auth)
    assert patched.status_code == 400
    assert list(patched.get_json()["fields"]) == ["overlap_policy"]


def test_patch_changes_the_policy_without_making_the_schedule_due(client, auth, create, conn):
    created = create()
    with db.service_transaction(conn) as cur:  # a next run far off, which only a timing change may move
        cur.execute("UPDATE schedules SET next_run_at = '2031-01-06 09:00:00+00' WHERE id = %s", (created["id"],))
    for policy in ("buffer_one", "allow", "skip"):
        response = client.patch(f"/v1/schedules/{created['id']}", json={"overlap_policy": policy}, headers=auth)
        assert response.status_code == 200
        assert response.get_json()["overlap_policy"] == policy
        assert response.get_json()["next_run_at"] == "2031-01-06T09:00:00Z"
        assert _stored(conn, created["id"])["overlap_policy"] == policy


def test_patch_without_the_field_keeps_the_policy(client, auth, create):
    created = create(overlap_policy="allow")
    body = client.patch(f"/v1/schedules/{created['id']}", json={"name": "Renamed"}, headers=auth).get_json()
    assert body["overlap_policy"] == "allow"


def test_a_preview_accepts_the_policy(client, auth):
    response = client.post("/v1/schedules/preview", json={"cadence": "daily", "overlap_policy": "buffer_one"},
                           headers=auth)
    assert response.status_code == 200
