"""make bench compares the API's throughput with bench/minimal_api.py's, a minimal Flask + psycopg2 app
meant to run the same SQL for the same three requests. That floor must answer them as the API does,
on the same data, or the ratio measures nothing: once its list raised a KeyError on every request, and
its fast 500s were taken for a floor four times the API's."""
from __future__ import annotations

import json

import pytest

from bench.api_load import CREATE_BODY
from tests.api.conftest import JWT_SECRET


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WEBHOOK_ALLOW_LOOPBACK": "true"}  # the webhook channel below is on loopback


@pytest.fixture
def floor(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("JWT_SECRET", JWT_SECRET)
    from bench import minimal_api

    app = minimal_api.create_app()
    yield app.test_client()
    app.extensions["pool"].closeall()


def test_the_benchmarks_floor_answers_its_three_requests_as_the_api_does(client, auth, floor):
    headers = {**auth, "Content-Type": "application/json"}
    by_floor = [floor.post("/v1/schedules", data=CREATE_BODY, headers=headers) for _ in range(3)]
    assert [r.status_code for r in by_floor] == [201, 201, 201], by_floor[0].get_data(as_text=True)
    with_channel = {**json.loads(CREATE_BODY),
                    "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/hooks/reports"}]}
    by_api = [client.post("/v1/schedules", json=with_channel, headers=auth),
              client.post("/v1/schedules", data=CREATE_BODY, headers=headers)]
    assert [r.status_code for r in by_api] == [201, 201], by_api[0].get_data(as_text=True)

    # A schedule the floor made is the one the API makes from the same body.
    made_by_floor = client.get(f"/v1/schedules/{by_floor[0].get_json()['id']}", headers=auth).get_json()
    made_by_api = by_api[1].get_json()
    for field in ("name", "cadence", "timezone", "next_run_at", "recipients", "active", "version"):
        assert made_by_floor[field] == made_by_api[field], field
    assert len(by_floor[0].get_json()["same_work"]) == 0 and len(by_floor[2].get_json()["same_work"]) == 2

    one = floor.get(f"/v1/schedules/{made_by_api['id']}", headers=auth)
    assert one.status_code == 200 and one.get_json()["id"] == made_by_api["id"]

    api_page = client.get("/v1/schedules?page_size=4", headers=auth).get_json()
    floor_page = floor.get("/v1/schedules?page_size=4", headers=auth).get_json()
    assert floor_page["total"] == api_page["total"] == 5
    assert [s["id"] for s in floor_page["schedules"]] == [s["id"] for s in api_page["schedules"]]
    assert ([[c["id"] for c in s["channels"]] for s in floor_page["schedules"]]
            == [[c["id"] for c in s["channels"]] for s in api_page["schedules"]])
    assert sum(len(s["channels"]) for s in floor_page["schedules"]) == 1
