"""Explained previews through the API (a saved schedule's, with its window and pause), dry-run PATCH,
`q` on the list, runs paged by cursor and filtered, unknown query parameters refused."""
from __future__ import annotations

from core.ops import db


def test_a_saved_schedules_preview_shows_its_dispatch_instants_inside_its_window(client, auth, create):
    sid = create(cadence="daily", window_seconds=900)["id"]
    body = client.get(f"/v1/schedules/{sid}/preview?count=3&after=2026-04-01T00:00:00Z", headers=auth).get_json()
    runs = body["runs"]
    assert [r["at"] for r in runs] == ["2026-04-01T09:00:00Z", "2026-04-02T09:00:00Z", "2026-04-03T09:00:00Z"]
    assert all(r["at"] <= r["dispatch_at"] < r["at"].replace("09:00:00", "09:15:00") for r in runs)
    again = client.get(f"/v1/schedules/{sid}/preview?count=3&after=2026-04-01T00:00:00Z", headers=auth).get_json()
    assert again == body  # fixed offsets
    # The body preview with the schedule's id gives the same instants.
    fields = {"name": "x", "cadence": "daily", "window_seconds": 900}
    posted = client.post(f"/v1/schedules/preview?count=3&after=2026-04-01T00:00:00Z&schedule_id={sid}",
                         json=fields, headers=auth).get_json()
    assert [r["dispatch_at"] for r in posted["runs"]] == [r["dispatch_at"] for r in runs]


def test_a_paused_schedules_preview_starts_after_the_pause(client, auth, create):
    sid = create(cadence="daily")["id"]
    client.post(f"/v1/schedules/{sid}/pause", json={"until": "2099-01-10T12:00:00Z"}, headers=auth)
    runs = client.get(f"/v1/schedules/{sid}/preview?count=2", headers=auth).get_json()["runs"]
    assert [r["at"] for r in runs] == ["2099-01-11T09:00:00Z", "2099-01-12T09:00:00Z"]
    assert [reason["code"] for reason in runs[0]["reasons"]] == ["after_pause"]
    client.post(f"/v1/schedules/{sid}/pause", json={"note": "indefinitely"}, headers=auth)
    assert client.get(f"/v1/schedules/{sid}/preview", headers=auth).get_json()["runs"] == []


def test_a_dry_run_patch_answers_before_and_after_and_writes_nothing(client, auth, create, conn):
    created = create(timezone="America/New_York")
    response = client.patch(f"/v1/schedules/{created['id']}?dry_run=true", json={"send_hour": 10}, headers=auth)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["dry_run"] is True and body["send_hour"] == 10 and body["version"] == 2
    assert body["changes"] == {"send_hour": {"old": 9, "new": 10}}
    before = [r["local"][11:16] for r in body["next_runs_before"]]
    after = [r["local"][11:16] for r in body["next_runs_after"]]
    assert set(before) == {"09:00"} and set(after) == {"10:00"} and len(after) == 5
    saved = client.get(f"/v1/schedules/{created['id']}", headers=auth).get_json()
    assert saved["send_hour"] == 9 and saved["version"] == 1
    history = client.get(f"/v1/schedules/{created['id']}/history", headers=auth).get_json()
    assert history["count"] == 1
    bad = client.patch(f"/v1/schedules/{created['id']}?dry_run=true", json={"cadence": "monthly"}, headers=auth)
    assert bad.status_code == 400 and "monthly_dom" in bad.get_json()["fields"]


def test_q_finds_schedules_by_part_of_the_name(client, auth, create):
    create(name="Weekly Market Snapshot")
    create(name="Daily 100% report", cadence="daily")
    found = client.get("/v1/schedules?q=market", headers=auth).get_json()
    assert [s["name"] for s in found["schedules"]] == ["Weekly Market Snapshot"] and found["total"] == 1
    assert client.get("/v1/schedules?q=100%25", headers=auth).get_json()["total"] == 1
    assert client.get("/v1/schedules?q=_", headers=auth).get_json()["total"] == 0


def test_runs_page_by_cursor_and_filter_by_trigger_status_and_time(client, auth, create, conn):
    sid = create()["id"]
    with db.service_transaction(conn) as cur:
        for day in range(1, 8):
            cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, created_at)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        (sid, "failed" if day % 2 else "succeeded", "backfill" if day > 5 else "schedule",
                         f"2026-03-0{day}T09:00:00Z", f"2026-03-0{day}T09:00:01Z"))
    first = client.get(f"/v1/schedules/{sid}/runs?limit=3", headers=auth).get_json()
    assert [r["scheduled_for"][8:10] for r in first["runs"]] == ["07", "06", "05"]
    second = client.get(f"/v1/schedules/{sid}/runs?limit=3&before={first['next_before']}", headers=auth).get_json()
    assert [r["scheduled_for"][8:10] for r in second["runs"]] == ["04", "03", "02"]
    last = client.get(f"/v1/schedules/{sid}/runs?limit=3&before={second['next_before']}", headers=auth).get_json()
    assert [r["scheduled_for"][8:10] for r in last["runs"]] == ["01"] and last["next_before"] is None
    backfilled = client.get(f"/v1/schedules/{sid}/runs?trigger=backfill", headers=auth).get_json()
    assert [r["scheduled_for"][8:10] for r in backfilled["runs"]] == ["07", "06"]
    window = client.get(f"/v1/schedules/{sid}/runs?status=failed&from=2026-03-02T00:00:00Z"
                        f"&to=2026-03-05T09:00:00Z", headers=auth).get_json()
    assert [r["scheduled_for"][8:10] for r in window["runs"]] == ["05", "03"]


def test_unknown_query_parameters_are_a_400_naming_them(client, auth, create):
    sid = create()["id"]
    for path in ("/v1/schedules?stauts=failed", f"/v1/schedules/{sid}/runs?stauts=failed",
                 f"/v1/schedules/{sid}/history?page=2", "/v1/schedules/due?limt=3"):
        response = client.get(path, headers=auth)
        assert response.status_code == 400, path
        assert set(response.get_json()["fields"]) & {"stauts", "page", "limt"}, path
