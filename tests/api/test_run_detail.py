"""GET /v1/schedules/{id}/runs/{run_id}: one run, every field a client reads, with its delivery
ledger; and the run list showing the same run fields and filtering by every run status.

The ledger rows are inserted with SQL here: the worker that writes them is tested in tests/worker.
"""
from __future__ import annotations

import uuid

import pytest

from core import model
from core.ops import db

RUN_FIELDS = {"id", "schedule_id", "status", "trigger", "scheduled_for", "attempt", "error", "job_id",
              "queued_at", "started_at", "finished_at", "created_at", "duration_ms", "not_before", "result",
              "schedule_version", "skip_reason", "reasons", "resend_of", "requested_by"}
DELIVERY_FIELDS = {"channel", "target", "status", "attempts", "unknown_outcomes", "last_error", "message_id",
                   "sent_at", "created_at", "updated_at", "skip_reason", "resend_id", "requested_by"}


def add_run(conn, schedule_id, status="succeeded", **columns) -> str:
    values = {"schedule_id": schedule_id, "status": status, "trigger": "schedule",
              "scheduled_for": "2026-03-09 13:00:00+00", **columns}
    names = ", ".join(values)
    with db.service_transaction(conn) as cur:
        cur.execute(f"INSERT INTO schedule_runs ({names}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
                    list(values.values()))
        return str(cur.fetchone()["id"])


def add_delivery(conn, run_id, target, status, **columns) -> None:
    values = {"run_id": run_id, "target": target, "status": status,
              "message_id": f"<{run_id}.{target}@schedules.example.com>", **columns}
    names = ", ".join(values)
    with db.service_transaction(conn) as cur:
        cur.execute(f"INSERT INTO deliveries (account_id, {names})"
                    f" SELECT account_id, {', '.join(['%s'] * len(values))} FROM schedule_runs WHERE id = %s",
                    [*values.values(), run_id])


@pytest.fixture
def schedule(create):
    return create()


def _get(client, headers, schedule_id, run_id):
    return client.get(f"/v1/schedules/{schedule_id}/runs/{run_id}", headers=headers)


def test_a_run_shows_every_field_and_its_deliveries(client, auth, schedule, conn):
    run_id = add_run(conn, schedule["id"], "delivery_failed", attempt=2, job_id="run-x",
                     error="1 of 3 deliveries failed",
                     result='{"report_url": "https://reports.example.com/1"}', duration_ms=1234,
                     queued_at="2026-03-09 13:00:01+00", started_at="2026-03-09 13:00:02+00",
                     finished_at="2026-03-09 13:00:03.5+00")
    add_delivery(conn, run_id, "a@example.com", "sent", attempts=1, sent_at="2026-03-09 13:00:03+00",
                 created_at="2026-03-09 13:00:02+00")
    add_delivery(conn, run_id, "b@example.com", "suppressed", created_at="2026-03-09 13:00:02.1+00")
    add_delivery(conn, run_id, "c@example.com", "failed", attempts=5, last_error="SMTPServerDisconnected: down",
                 created_at="2026-03-09 13:00:02.2+00")

    response = _get(client, auth, schedule["id"], run_id)
    assert response.status_code == 200
    run = response.get_json()
    assert set(run) == RUN_FIELDS | {"deliveries", "resends"}
    assert run["id"] == run_id and run["schedule_id"] == schedule["id"]
    assert (run["status"], run["trigger"], run["attempt"], run["job_id"]) == ("delivery_failed", "schedule", 2, "run-x")
    assert run["error"] == "1 of 3 deliveries failed" and run["duration_ms"] == 1234
    assert run["result"] == {"report_url": "https://reports.example.com/1"}
    assert run["scheduled_for"] == "2026-03-09T13:00:00Z" and run["finished_at"] == "2026-03-09T13:00:03.500000Z"
    assert run["not_before"] is None

    deliveries = run["deliveries"]
    assert [d["target"] for d in deliveries] == ["a@example.com", "b@example.com", "c@example.com"]
    assert all(set(d) == DELIVERY_FIELDS for d in deliveries)
    sent, suppressed, failed = deliveries
    assert sent == {"channel": "email", "target": "a@example.com", "status": "sent", "attempts": 1,
                    "unknown_outcomes": 0, "last_error": None, "message_id": f"<{run_id}.a@example.com@schedules.example.com>",
                    "sent_at": "2026-03-09T13:00:03Z", "created_at": "2026-03-09T13:00:02Z",
                    "updated_at": sent["updated_at"], "skip_reason": None, "resend_id": None, "requested_by": None}
    assert suppressed["status"] == "suppressed" and suppressed["sent_at"] is None
    assert failed["status"] == "failed" and failed["attempts"] == 5
    assert failed["last_error"] == "SMTPServerDisconnected: down"


def test_a_retrying_run_says_when_its_next_attempt_is_due(client, auth, schedule, conn):
    run_id = add_run(conn, schedule["id"], "retrying", attempt=1, error="boom", not_before="2026-03-09 13:01:00+00")
    run = _get(client, auth, schedule["id"], run_id).get_json()
    assert run["status"] == "retrying" and run["not_before"] == "2026-03-09T13:01:00Z"
    assert run["deliveries"] == []


def test_internal_columns_are_not_shown(client, auth, schedule, conn):
    run_id = add_run(conn, schedule["id"], "running", worker="host.123", lease_expires_at="2026-03-09 13:05:00+00")
    run = _get(client, auth, schedule["id"], run_id).get_json()
    assert not {"worker", "lease_expires_at", "usage_counted", "account_id"} & set(run)


def test_another_tenants_run_is_a_404_like_a_missing_one(client, auth, other_auth, schedule, conn, create):
    run_id = add_run(conn, schedule["id"])
    add_delivery(conn, run_id, "a@example.com", "sent")
    theirs = _get(client, other_auth, schedule["id"], run_id)
    missing = _get(client, other_auth, schedule["id"], uuid.uuid4())
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_json() == missing.get_json() == {"error": "not_found", "message": "run not found"}
    # Nor through a schedule of their own: the run must belong to the schedule in the path.
    b_schedule = create(name="B's", headers=other_auth)
    assert _get(client, other_auth, b_schedule["id"], run_id).status_code == 404
    assert _get(client, auth, schedule["id"], run_id).status_code == 200


def test_a_run_of_another_schedule_is_a_404(client, auth, schedule, conn, create):
    run_id = add_run(conn, schedule["id"])
    other = create(name="Another")
    assert _get(client, auth, other["id"], run_id).status_code == 404


@pytest.mark.parametrize("path", ["/v1/schedules/{schedule}/runs/not-a-uuid", "/v1/schedules/nope/runs/{run}"])
def test_malformed_ids_are_a_404(client, auth, schedule, conn, path):
    run_id = add_run(conn, schedule["id"])
    response = client.get(path.format(schedule=schedule["id"], run=run_id), headers=auth)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_the_run_detail_needs_a_token(client, schedule, conn):
    run_id = add_run(conn, schedule["id"])
    assert client.get(f"/v1/schedules/{schedule['id']}/runs/{run_id}").status_code == 401


def test_the_run_list_shows_the_same_run_fields_without_deliveries(client, auth, schedule, conn):
    run_id = add_run(conn, schedule["id"], "retrying", not_before="2026-03-09 13:01:00+00")
    add_delivery(conn, run_id, "a@example.com", "pending")
    [listed] = client.get(f"/v1/schedules/{schedule['id']}/runs", headers=auth).get_json()["runs"]
    detail = _get(client, auth, schedule["id"], run_id).get_json()
    assert set(listed) == RUN_FIELDS
    assert listed == {name: value for name, value in detail.items() if name not in ("deliveries", "resends")}


def test_the_run_list_filters_by_every_run_status(client, auth, schedule, conn):
    for minute, status in enumerate(model.RUN_STATUSES):
        add_run(conn, schedule["id"], status, scheduled_for=f"2026-03-09 13:{minute:02d}:00+00")
    url = f"/v1/schedules/{schedule['id']}/runs"
    assert client.get(url, headers=auth).get_json()["count"] == len(model.RUN_STATUSES)
    for status in model.RUN_STATUSES:
        body = client.get(f"{url}?status={status}", headers=auth).get_json()
        assert [run["status"] for run in body["runs"]] == [status], status
    assert client.get(f"{url}?status=done", headers=auth).get_json()["fields"] == {
        "status": [f"Must be one of: {', '.join(model.RUN_STATUSES)}."]}
