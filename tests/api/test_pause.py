"""POST /v1/schedules/{id}/pause and /resume, and pause_after_failures: a paused schedule has no runs,
says who paused it, when, why and until when, and resumes at the first occurrence after the resume."""
from __future__ import annotations

from datetime import datetime, timezone

from freezegun import freeze_time

from core import model
from core.ops import db
from core.ops.sql import queries
from core.runs import lifecycle
from tests.api.conftest import SEED_001_BODY, bearer

NEW_YORK_WEEKLY = {**SEED_001_BODY, "timezone": "America/New_York"}  # Monday 09:00 New York


def _post(client, path, headers, **body):
    return client.post(path, json=body, headers=headers)


def test_a_pause_records_who_when_why_and_until(client, account_id):
    with freeze_time("2026-03-04 15:00:00"):
        headers = bearer(account_id, subject="alice@example.com")
        created = client.post("/v1/schedules", json=NEW_YORK_WEEKLY, headers=headers).get_json()
        response = _post(client, f"/v1/schedules/{created['id']}/pause", headers,
                         note="client on holiday", until="2026-03-20T00:00:00Z")
        read = client.get(f"/v1/schedules/{created['id']}", headers=headers).get_json()
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["paused"] is True and body["active"] is False
    assert body["paused_at"] == "2026-03-04T15:00:00Z" and body["paused_until"] == "2026-03-20T00:00:00Z"
    assert body["paused_by"] == "alice@example.com" and body["pause_note"] == "client on holiday"
    assert read["paused"] is True


def test_until_in_the_past_or_now_is_a_400_naming_until(client, account_id):
    with freeze_time("2026-03-04 15:00:00"):
        auth = bearer(account_id)
        sid = client.post("/v1/schedules", json=SEED_001_BODY, headers=auth).get_json()["id"]
        for until in ("2026-03-04T14:59:59Z", "2026-03-04T15:00:00Z"):
            response = _post(client, f"/v1/schedules/{sid}/pause", auth, until=until)
            assert response.status_code == 400
            assert "until" in response.get_json()["fields"]
        naive = _post(client, f"/v1/schedules/{sid}/pause", auth, until="2026-03-05T00:00:00")
        assert naive.status_code == 400 and "until" in naive.get_json()["fields"]
        assert client.get(f"/v1/schedules/{sid}", headers=auth).get_json()["paused"] is False


def test_a_paused_schedule_is_never_due_and_resumes_at_the_first_occurrence_after_the_resume(
        client, account_id, conn):
    """Paused over the spring-forward night (2026-03-08) and three Mondays: resuming on Wednesday
    2026-03-25 gives the next Monday at 09:00 EDT, not a burst of the Mondays it slept through."""
    with freeze_time("2026-03-04 15:00:00"):
        headers = bearer(account_id)
        created = client.post("/v1/schedules", json=NEW_YORK_WEEKLY, headers=headers).get_json()
        assert created["next_run_at"] == "2026-03-09T13:00:00Z"
        _post(client, f"/v1/schedules/{created['id']}/pause", headers, note="holiday")
    with freeze_time("2026-03-25 12:00:00"):
        headers = bearer(account_id)
        due = client.get("/v1/schedules/due", headers=headers).get_json()
        assert due == []  # next_run_at (03-09) is past, but a paused schedule is inactive
        response = _post(client, f"/v1/schedules/{created['id']}/resume", headers, note="back")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["paused"] is False and body["active"] is True
    assert body["paused_at"] is None and body["pause_note"] is None
    assert body["next_run_at"] == "2026-03-30T13:00:00Z"  # Monday 09:00 EDT (UTC-4)


def test_resuming_a_schedule_that_is_not_paused_changes_nothing(client, auth, create):
    created = create()
    body = _post(client, f"/v1/schedules/{created['id']}/resume", auth).get_json()
    assert body["version"] == created["version"] and body["next_run_at"] == created["next_run_at"]


def test_a_disabled_schedule_cannot_be_paused_and_another_tenants_is_a_404(client, auth, other_auth, create):
    sid = create(active=False)["id"]
    response = _post(client, f"/v1/schedules/{sid}/pause", auth, note="x")
    assert response.status_code == 409 and response.get_json()["reason"] == "disabled"
    live = create(name="Live")["id"]
    assert _post(client, f"/v1/schedules/{live}/pause", other_auth).status_code == 404
    assert _post(client, f"/v1/schedules/{live}/resume", other_auth).status_code == 404


def test_enable_resumes_and_disable_ends_a_pause(client, auth, create):
    sid = create()["id"]
    _post(client, f"/v1/schedules/{sid}/pause", auth, note="a")
    enabled = _post(client, f"/v1/schedules/{sid}/enable", auth).get_json()
    assert enabled["active"] is True and enabled["paused"] is False
    _post(client, f"/v1/schedules/{sid}/pause", auth, note="b", until="2099-01-01T00:00:00Z")
    disabled = _post(client, f"/v1/schedules/{sid}/disable", auth, note="for good").get_json()
    assert disabled["active"] is False and disabled["paused"] is False and disabled["paused_until"] is None


def test_a_patch_to_a_paused_schedule_keeps_it_paused_unless_it_sets_active(client, auth, create):
    sid = create()["id"]
    _post(client, f"/v1/schedules/{sid}/pause", auth, note="a")
    renamed = client.patch(f"/v1/schedules/{sid}", json={"name": "Renamed"}, headers=auth).get_json()
    assert renamed["paused"] is True and renamed["pause_note"] == "a" and renamed["active"] is False
    turned_on = client.patch(f"/v1/schedules/{sid}", json={"active": True}, headers=auth).get_json()
    assert turned_on["paused"] is False and turned_on["active"] is True


def _failed_run(conn, schedule_id, error="boom"):
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt)"
                    " VALUES (%s, 'queued', 'manual', now(), 0) RETURNING id::text", (schedule_id,))
        run = lifecycle.take(cur, cur.fetchone()["id"], 1, worker="test", lease_seconds=60).run
        assert lifecycle.finish(cur, run, "failed", error)


def test_pause_after_failures_pauses_the_schedule_with_a_note_shown_by_health_and_metrics(
        client, auth, create, conn):
    sid = create(pause_after_failures=2)["id"]
    _failed_run(conn, sid)
    assert client.get(f"/v1/schedules/{sid}", headers=auth).get_json()["paused"] is False
    _failed_run(conn, sid, error="Timeout: the report server did not answer")
    body = client.get(f"/v1/schedules/{sid}", headers=auth).get_json()
    assert body["paused"] is True and body["active"] is False and body["paused_by"] == "system"
    assert body["pause_note"] == ("paused after 2 consecutive failed runs; "
                                  "last error: Timeout: the report server did not answer")
    issues = client.get("/v1/schedules/health", headers=auth).get_json()["issues"]
    assert [(i["kind"], i["detail"]) for i in issues if i["schedule_id"] == sid] == [
        ("paused_after_failures", body["pause_note"])]
    with db.service_transaction(conn) as cur:
        cur.execute(queries["count_schedules_by_state"], {"now": datetime.now(timezone.utc), **model.health_parameters()})
        counted = cur.fetchone()
    assert counted["paused"] == 1 and counted["paused_after_failures"] == 1
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'schedules_health_issues{kind="paused_after_failures"} 1.0' in metrics
    assert 'schedules_by_state{state="paused"} 1.0' in metrics
    change = client.get(f"/v1/schedules/{sid}/history", headers=auth).get_json()["history"][0]
    assert change["action"] == "pause" and change["actor"] == "system"
    assert change["changes"]["active"] == {"old": True, "new": False}


def test_a_success_resets_the_count_and_no_limit_means_never(client, auth, create, conn):
    counted = create(name="Limited", pause_after_failures=2)["id"]
    unlimited = create(name="Unlimited")["id"]
    for sid in (counted, unlimited):
        _failed_run(conn, sid)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt)"
                    " VALUES (%s, 'queued', 'manual', now(), 0) RETURNING id::text", (counted,))
        run = lifecycle.take(cur, cur.fetchone()["id"], 1, worker="test", lease_seconds=60).run
        lifecycle.finish(cur, run, "succeeded")
    for sid in (counted, unlimited):
        _failed_run(conn, sid)
        _failed_run(conn, sid) if sid == unlimited else None
    assert client.get(f"/v1/schedules/{counted}", headers=auth).get_json()["paused"] is False
    assert client.get(f"/v1/schedules/{unlimited}", headers=auth).get_json()["paused"] is False


def test_pause_after_failures_must_be_a_positive_integer(client, auth):
    for bad in (0, -1, "2", 1.5):
        response = client.post("/v1/schedules", json={**SEED_001_BODY, "pause_after_failures": bad}, headers=auth)
        assert response.status_code == 400 and "pause_after_failures" in response.get_json()["fields"]
