"""Idempotency-Key on POST /v1/schedules and POST /v1/schedules/{id}/run: a repeat within 24 hours gets
the first answer and creates nothing; the same key with another body is refused; keys are per tenant."""
from __future__ import annotations

import threading

from freezegun import freeze_time

from core.ops import db
from tests.api.conftest import SEED_001_BODY, bearer


def _count(conn, table, **where):
    clause = " AND ".join(f"{name} = %({name})s" for name in where) or "TRUE"
    with db.service_transaction(conn) as cur:
        cur.execute(f"SELECT count(*) AS n FROM {table} WHERE {clause}", where)
        return cur.fetchone()["n"]


def test_the_same_key_returns_the_first_answer_and_creates_one_schedule(client, auth, conn):
    headers = {**auth, "Idempotency-Key": "create-1"}
    first = client.post("/v1/schedules", json=SEED_001_BODY, headers=headers)
    again = client.post("/v1/schedules", json=dict(reversed(list(SEED_001_BODY.items()))), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _count(conn, "schedules") == 1


def test_a_key_reused_with_a_different_body_is_refused(client, auth, conn):
    headers = {**auth, "Idempotency-Key": "create-2"}
    assert client.post("/v1/schedules", json=SEED_001_BODY, headers=headers).status_code == 201
    response = client.post("/v1/schedules", json={**SEED_001_BODY, "send_hour": 10}, headers=headers)
    assert response.status_code == 422 and response.get_json()["error"] == "idempotency_key_reused"
    assert _count(conn, "schedules") == 1


def test_a_key_lives_24_hours(client, account_id, conn):
    with freeze_time("2026-03-04 09:00:00"):
        headers = {**bearer(account_id), "Idempotency-Key": "daily"}
        client.post("/v1/schedules", json=SEED_001_BODY, headers=headers)
    with freeze_time("2026-03-05 08:59:59"):
        headers = {**bearer(account_id), "Idempotency-Key": "daily"}
        assert client.post("/v1/schedules", json=SEED_001_BODY, headers=headers).headers.get("Idempotent-Replayed")
    with freeze_time("2026-03-05 09:00:01"):
        headers = {**bearer(account_id), "Idempotency-Key": "daily"}
        fresh = client.post("/v1/schedules", json={**SEED_001_BODY, "send_hour": 7}, headers=headers)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert _count(conn, "schedules") == 2


def test_keys_are_per_tenant_and_a_failed_request_leaves_the_key_free(client, auth, other_auth, conn):
    bad = client.post("/v1/schedules", json={**SEED_001_BODY, "weekly_dow": None},
                      headers={**auth, "Idempotency-Key": "k"})
    assert bad.status_code == 400
    mine = client.post("/v1/schedules", json=SEED_001_BODY, headers={**auth, "Idempotency-Key": "k"})
    theirs = client.post("/v1/schedules", json=SEED_001_BODY, headers={**other_auth, "Idempotency-Key": "k"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers


def test_run_now_with_a_key_records_one_run(client, auth, create, conn):
    sid = create()["id"]
    headers = {**auth, "Idempotency-Key": "run-monday"}
    first = client.post(f"/v1/schedules/{sid}/run", headers=headers)
    again = client.post(f"/v1/schedules/{sid}/run", headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["run_id"] == first.get_json()["run_id"]
    assert _count(conn, "schedule_runs", trigger="manual") == 1
    forced = client.post(f"/v1/schedules/{sid}/run", json={"force": True}, headers=headers)
    assert forced.status_code == 422
    other = client.post(f"/v1/schedules/{create(name='Other')['id']}/run", headers=headers)
    assert other.status_code == 202 and other.get_json()["run_id"] != first.get_json()["run_id"]


def test_concurrent_repeats_create_one_schedule(app, auth, conn):
    answers = []

    def post():
        response = app.test_client().post("/v1/schedules", json=SEED_001_BODY,
                                          headers={**auth, "Idempotency-Key": "race"})
        answers.append((response.status_code, response.get_json()["id"]))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {201} and len({sid for _, sid in answers}) == 1
    assert _count(conn, "schedules") == 1


def test_a_bad_key_is_a_400_naming_the_header(client, auth):
    for key in ("", "x" * 256, "with space"):
        response = client.post("/v1/schedules", json=SEED_001_BODY, headers={**auth, "Idempotency-Key": key})
        assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["fields"]


def test_the_openapi_document_shows_the_header(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/v1/schedules", "/v1/schedules/{schedule_id}/run"):
        names = [p.get("name") for p in spec["paths"][path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names, path


def test_the_openapi_document_states_the_keys_pattern_and_the_api_holds_to_it(client, auth):
    import re

    from api.idempotency import KEY_PATTERN
    from core.schedule.idempotency import valid_key

    document = client.get("/openapi.json").get_json()
    [parameter] = [p for p in document["paths"]["/v1/schedules"]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["schema"]["pattern"] == KEY_PATTERN
    for key in ["abc", "a b", "é", "\t", "x" * 255, "!~", "key\x7f", '"quoted"']:
        assert bool(re.search(KEY_PATTERN, key)) == valid_key(key), key
    refused = client.post("/v1/schedules", json=SEED_001_BODY, headers={**auth, "Idempotency-Key": "a b"})
    assert refused.status_code == 400 and "Idempotency-Key" in refused.get_json()["fields"]
