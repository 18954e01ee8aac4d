"""GET /v1/schedules/{id}/history: every create, PATCH, enable, disable, pause and resume, with who,
when, and each field's old and new value; consistent under concurrent PATCHes; runs carry the
version they ran under."""
from __future__ import annotations

import threading

from freezegun import freeze_time

from tests.api.conftest import SEED_001_BODY, bearer


def history(client, headers, sid, **args):
    response = client.get(f"/v1/schedules/{sid}/history", query_string=args, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_every_change_is_recorded_with_who_when_and_old_and_new_values(client, account_id):
    with freeze_time("2026-03-04 15:00:00"):
        alice = bearer(account_id, subject="alice@example.com")
        cli = bearer(account_id, subject="cli")
        anonymous = bearer(account_id)
        sid = client.post("/v1/schedules", json=SEED_001_BODY, headers=alice).get_json()["id"]
    with freeze_time("2026-03-04 16:00:00"):
        client.patch(f"/v1/schedules/{sid}", json={"send_hour": 10, "name": "Renamed"}, headers=cli)
        client.post(f"/v1/schedules/{sid}/disable", json={"note": "client asked"}, headers=alice)
        client.post(f"/v1/schedules/{sid}/enable", headers=alice)
        client.post(f"/v1/schedules/{sid}/pause", json={"note": "holiday"}, headers=alice)
        client.post(f"/v1/schedules/{sid}/resume", headers=anonymous)
        body = history(client, alice, sid)
        version = client.get(f"/v1/schedules/{sid}", headers=alice).get_json()["version"]
    assert version == 6
    changes = body["history"]
    assert [(c["version"], c["action"], c["actor"]) for c in changes] == [
        (6, "resume", "api"), (5, "pause", "alice@example.com"), (4, "enable", "alice@example.com"),
        (3, "disable", "alice@example.com"), (2, "update", "cli"), (1, "create", "alice@example.com")]
    update = changes[4]
    assert update["changes"] == {"name": {"old": "Weekly Market Snapshot", "new": "Renamed"},
                                 "send_hour": {"old": 9, "new": 10}}
    assert update["created_at"] == "2026-03-04T16:00:00Z"
    assert changes[3]["note"] == "client asked" and changes[3]["changes"]["active"] == {"old": True, "new": False}
    assert changes[1]["changes"]["pause_note"] == {"old": None, "new": "holiday"}
    assert changes[5]["changes"]["cadence"] == {"old": None, "new": "weekly"}


def test_a_patch_that_changes_nothing_records_nothing(client, auth, create):
    created = create()
    client.patch(f"/v1/schedules/{created['id']}", json={"send_hour": 9, "name": created["name"]}, headers=auth)
    assert history(client, auth, created["id"])["count"] == 1


def test_history_pages_by_version(client, auth, create):
    sid = create()["id"]
    for hour in (10, 11, 12, 13):
        client.patch(f"/v1/schedules/{sid}", json={"send_hour": hour}, headers=auth)
    first = history(client, auth, sid, limit=2)
    assert [c["version"] for c in first["history"]] == [5, 4] and first["next_before"] == 4
    second = history(client, auth, sid, limit=2, before=first["next_before"])
    assert [c["version"] for c in second["history"]] == [3, 2] and second["next_before"] == 2
    last = history(client, auth, sid, limit=2, before=2)
    assert [c["version"] for c in last["history"]] == [1] and last["next_before"] is None


def test_another_tenants_history_is_a_404(client, auth, other_auth, create):
    sid = create()["id"]
    assert client.get(f"/v1/schedules/{sid}/history", headers=other_auth).status_code == 404


def test_concurrent_patches_are_recorded_one_after_the_other(app, auth, create):
    """Eight PATCHes at once: versions 2..9 without a gap, each change's old value the previous one's
    new value, and the schedule ends with the last recorded value."""
    sid = create()["id"]
    errors = []

    def edit(number):
        try:
            response = app.test_client().patch(f"/v1/schedules/{sid}", json={"name": f"Edit {number}",
                                                                             "send_minute": number}, headers=auth)
            assert response.status_code == 200, response.get_json()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    client = app.test_client()
    changes = list(reversed(history(client, auth, sid)["history"]))
    assert [c["version"] for c in changes] == list(range(1, 10))
    for before, after in zip(changes[1:], changes[2:]):
        assert after["changes"]["name"]["old"] == before["changes"]["name"]["new"]
        assert after["changes"]["send_minute"]["old"] == before["changes"]["send_minute"]["new"]
    final = client.get(f"/v1/schedules/{sid}", headers=auth).get_json()
    assert final["name"] == changes[-1]["changes"]["name"]["new"] and final["version"] == 9


def test_a_run_records_the_version_it_was_made_under(client, auth, create):
    sid = create()["id"]
    client.patch(f"/v1/schedules/{sid}", json={"send_hour": 10}, headers=auth)
    run = client.post(f"/v1/schedules/{sid}/run", headers=auth).get_json()
    assert run["schedule_version"] == 2
    listed = client.get(f"/v1/schedules/{sid}/runs", headers=auth).get_json()["runs"][0]
    assert listed["schedule_version"] == 2
