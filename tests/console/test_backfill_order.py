"""Backfilled runs are labelled `backfill`, carry time-ordered ids and are listed by the time they were
due, among the other runs, in the API (GET .../runs, and its pages) and in the console's run history
(issue 26: eight backfilled runs came labelled "scheduled", in scrambled order)."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from core.ops import db
from core.schedule import schedules
from tests.api.conftest import bearer
from tests.console.conftest import csrf_of

EVERY_2_MINUTES = {"name": "Every 2 minutes", "cadence": "cron", "cron_expression": "*/2 * * * *",
                   "timezone": "UTC", "recipients": ["ann@example.com"]}


def _uuid7_instant(run_id: str) -> int:
    value = uuid.UUID(run_id)
    assert value.version == 7
    return value.int >> 80  # its first 48 bits: Unix milliseconds


def test_backfilled_runs_are_labelled_and_listed_by_when_they_were_due(client, signed_in, conn, account_id):
    headers = bearer(account_id)
    sid = client.post("/v1/schedules", json=EVERY_2_MINUTES, headers=headers).get_json()["id"]
    with db.tenant_transaction(conn, account_id) as cur:  # a run now, made before the backfill
        manual = schedules.add_manual_run(cur, account_id, sid, datetime.now(timezone.utc))
    answer = client.post(f"/v1/schedules/{sid}/backfill", headers=headers,
                         json={"from": "2026-11-30T21:20:00Z", "to": "2026-11-30T21:34:00Z"}).get_json()
    assert answer["created"] == 8

    listed = client.get(f"/v1/schedules/{sid}/runs", headers=headers).get_json()["runs"]
    assert [run["id"] for run in listed][0] == str(manual["id"])  # the latest due first
    backfilled = listed[1:]
    due = [run["scheduled_for"] for run in backfilled]
    assert due == [f"2026-11-30T21:{minute:02d}:00Z" for minute in range(34, 19, -2)]
    assert {run["trigger"] for run in backfilled} == {"backfill"}
    instants = [_uuid7_instant(run["id"]) for run in backfilled]
    assert instants == sorted(instants, reverse=True)  # ids in the order the runs were due
    assert sorted(run["id"] for run in backfilled) == [run["id"] for run in reversed(backfilled)]

    pages, before = [], None
    while True:  # the same order a page of three at a time
        query = f"limit=3&before={before}" if before else "limit=3"
        page = client.get(f"/v1/schedules/{sid}/runs?{query}", headers=headers).get_json()
        pages += [run["id"] for run in page["runs"]]
        before = page["next_before"]
        if before is None:
            break
    assert pages == [run["id"] for run in listed]

    history = signed_in.get(f"/console/schedules/{sid}/history").get_data(as_text=True)
    shown = re.findall(r'data-run="([^"]+)"', history)
    assert shown == [run["id"] for run in listed]
    labels = re.findall(r'data-trigger="([a-z]+)">([a-z ]+)', history)
    assert labels == [("manual", "run now")] + [("backfill", "backfill")] * 8


def test_the_console_backfills_a_past_range_in_the_schedules_zone(signed_in, client, account_id):
    headers = bearer(account_id)
    sid = client.post("/v1/schedules", json={**EVERY_2_MINUTES, "timezone": "Asia/Kolkata"},
                      headers=headers).get_json()["id"]
    response = signed_in.post(f"/console/schedules/{sid}/backfill", data={
        "csrf_token": csrf_of(signed_in), "from": "2026-12-01T03:00", "to": "2026-12-01T03:04"})
    assert response.status_code == 302
    runs = client.get(f"/v1/schedules/{sid}/runs", headers=headers).get_json()["runs"]
    assert [(run["trigger"], run["scheduled_for"]) for run in runs] == [
        ("backfill", "2026-11-30T21:34:00Z"), ("backfill", "2026-11-30T21:32:00Z"),
        ("backfill", "2026-11-30T21:30:00Z")]  # 03:00-03:04 IST is 21:30-21:34 UTC
    refused = signed_in.post(f"/console/schedules/{sid}/backfill", data={
        "csrf_token": csrf_of(signed_in), "from": "2026-12-01T03:00", "to": "2099-01-01T00:00"})
    assert refused.status_code == 302
    assert "Nothing backfilled: to must not be in the future" in signed_in.get(
        f"/console/schedules/{sid}").get_data(as_text=True)
