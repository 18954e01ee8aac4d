"""POST /v1/schedules/preview: the next runs of a schedule body, nothing written."""
from __future__ import annotations

from core.ops import db


def test_preview_lists_the_next_runs_in_utc_and_local_time(client, auth, conn):
    body = {"cadence": "cron", "cron_expression": "30 2 * * *", "timezone": "America/New_York"}
    response = client.post("/v1/schedules/preview?after=2026-03-06T12:00:00Z&count=3", json=body, headers=auth)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["timezone"], body["count"]) == ("America/New_York", 3)
    assert [{key: run[key] for key in ("at", "local", "dispatch_at")} for run in body["runs"]] == [
        {"at": "2026-03-07T07:30:00Z", "local": "2026-03-07T02:30:00-05:00", "dispatch_at": "2026-03-07T07:30:00Z"},
        # spring forward: 03:00 EDT
        {"at": "2026-03-08T07:00:00Z", "local": "2026-03-08T03:00:00-04:00", "dispatch_at": "2026-03-08T07:00:00Z"},
        {"at": "2026-03-09T06:30:00Z", "local": "2026-03-09T02:30:00-04:00", "dispatch_at": "2026-03-09T06:30:00Z"},
    ]
    assert [[reason["code"] for reason in run["reasons"]] for run in body["runs"]] == [[], ["spring_forward"], []]
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 0


def test_preview_takes_a_full_schedule_body_and_defaults_count_to_5(client, auth):
    from tests.api.conftest import SEED_001_BODY

    response = client.post("/v1/schedules/preview?after=2025-11-14T15:00:00Z", json=SEED_001_BODY, headers=auth)
    runs = response.get_json()["runs"]
    assert [run["at"] for run in runs] == [f"2025-{d}T09:00:00Z" for d in
                                           ("11-17", "11-24", "12-01", "12-08", "12-15")]


def test_preview_of_a_past_once_is_empty(client, auth):
    body = {"cadence": "once", "start_at": "2001-01-01T00:00:00Z"}
    assert client.post("/v1/schedules/preview", json=body, headers=auth).get_json()["runs"] == []


def test_preview_rejects_bad_bodies_and_arguments(client, auth):
    cases = [
        ("", {"cadence": "weekly"}, "weekly_dow"),
        ("", {"cadence": "cron", "cron_expression": "* * *"}, "cron_expression"),
        ("", {"weekly_dow": 1}, "cadence"),
        ("", {"cadence": "daily", "colour": "red"}, "colour"),
        ("?count=101", {"cadence": "daily"}, "count"),
        ("?count=0", {"cadence": "daily"}, "count"),
        ("?after=tomorrow", {"cadence": "daily"}, "after"),
        ("?after=2026-01-01T00:00:00", {"cadence": "daily"}, "after"),
    ]
    for query, body, field in cases:
        response = client.post(f"/v1/schedules/preview{query}", json=body, headers=auth)
        assert response.status_code == 400, (query, body)
        assert field in response.get_json()["fields"], (query, body, response.get_json())


def test_runs_cut_short_by_the_end_of_the_computed_range_are_a_400_naming_count(client, auth):
    body = {"cadence": "interval", "interval_seconds": 2**31 - 1, "start_at": "8990-01-01T00:00:00Z"}
    response = client.post("/v1/schedules/preview?after=8990-01-01T00:00:00Z&count=100", json=body, headers=auth)
    assert response.status_code == 400
    [message] = response.get_json()["fields"]["count"]
    assert message.startswith("only 14 run(s) come at or before 9998-12-31T00:00:00Z")
    assert client.post("/v1/schedules/preview?after=8990-01-01T00:00:00Z&count=14", json=body,
                       headers=auth).status_code == 200


def test_an_after_past_the_supported_years_is_a_400_naming_after(client, auth):
    response = client.post("/v1/schedules/preview?after=9998-12-31T12:00:00Z", json={"cadence": "daily"},
                           headers=auth)
    assert response.status_code == 400 and list(response.get_json()["fields"]) == ["after"]
