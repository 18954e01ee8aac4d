"""/readyz: 200 while PostgreSQL, Redis and a ticker answer; 503 naming what failed otherwise. The
ticker's part is its heartbeat: younger than max(3 x TICK_INTERVAL, 2 x TICK_INTERVAL + 10 s)."""
from __future__ import annotations

import os
from importlib import metadata

import tzdata

from api import create_app
from core.ops import db
from tests.ticker.conftest import REPO, TickerProcess, wait_until


def beat(conn, seconds_ago: float = 0.0, instance: str = "ticker-1") -> None:
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO ticker_heartbeats (instance_id, hostname, pid, last_tick_at)"
                    " VALUES (%s, 'host', 1, now() - make_interval(secs => %s))"
                    " ON CONFLICT (instance_id) DO UPDATE SET last_tick_at = EXCLUDED.last_tick_at",
                    (instance, seconds_ago))


def ready(client):
    response = client.get("/readyz")
    body = response.get_json()
    body.pop("tz_database")
    return response.status_code, body


def test_readyz_names_the_pinned_tz_database(client):
    body = client.get("/readyz").get_json()
    assert body["tz_database"] == {"version": tzdata.IANA_VERSION,
                                   "source": f"tzdata package {metadata.version('tzdata')}"}


def test_ready_when_postgres_redis_and_a_ticker_answer(client, conn):
    beat(conn, seconds_ago=5)
    assert ready(client) == (200, {"status": "ready",
                                   "checks": {"postgres": "ok", "redis": "ok", "ticker": "ok"}})


def test_no_heartbeat_is_a_503_naming_the_ticker(client):
    assert ready(client) == (503, {"status": "not_ready", "checks": {
        "postgres": "ok", "redis": "ok", "ticker": "no heartbeat in the last 180 s (no ticker has one)"}})


def test_a_stale_heartbeat_turns_it_503_and_a_fresh_one_back_to_200(client, conn):
    beat(conn, seconds_ago=175)
    assert ready(client)[0] == 200
    beat(conn, seconds_ago=200)
    status, body = ready(client)
    assert status == 503 and body["checks"]["ticker"].startswith("no heartbeat in the last 180 s (the latest is 20")
    beat(conn, instance="ticker-2")  # a second ticker is enough
    assert ready(client)[0] == 200


def test_short_intervals_allow_two_intervals_and_ten_seconds(app_config, conn):
    client = create_app({**app_config, "TICK_INTERVAL": "5"}).test_client()  # max(15, 20) = 20 s
    beat(conn, seconds_ago=18)
    assert ready(client)[0] == 200
    beat(conn, seconds_ago=25)
    status, body = ready(client)
    assert status == 503 and body["status"] == "not_ready"
    assert body["checks"]["postgres"] == body["checks"]["redis"] == "ok"
    assert body["checks"]["ticker"].startswith("no heartbeat in the last 20 s (the latest is 2")


def test_redis_down_is_a_503_naming_redis(app_config, conn, tmp_path):
    client = create_app({**app_config, "REDIS_URL": f"unix://{tmp_path}/nothing.sock"}).test_client()
    beat(conn)
    status, body = ready(client)
    assert status == 503 and body["status"] == "not_ready"
    assert body["checks"]["postgres"] == "ok" and body["checks"]["ticker"] == "ok"
    assert body["checks"]["redis"].startswith("error: ConnectionError")


def test_without_redis_url_redis_is_not_required(app_config, conn):
    client = create_app({k: v for k, v in app_config.items() if k != "REDIS_URL"}).test_client()
    beat(conn)
    assert ready(client) == (200, {"status": "ready", "checks": {
        "postgres": "ok", "redis": "not configured (REDIS_URL is not set)", "ticker": "ok"}})


def test_postgres_down_is_a_503_naming_postgres(app_config):
    client = create_app({**app_config, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}).test_client()
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["postgres"].startswith("error: OperationalError")
    assert body["checks"]["ticker"] == "unknown: PostgreSQL did not answer"
    assert client.get("/healthz").status_code == 200  # liveness never looks at the database


def test_readyz_and_healthz_need_no_token_and_are_documented(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/readyz", "/healthz"):
        assert spec["paths"][path]["get"]["security"] == []
    assert {"200", "503"} <= set(spec["paths"]["/readyz"]["get"]["responses"])


def test_a_real_ticker_makes_it_ready_and_stopping_it_does_not(client, database_url, redis_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "TEST_", "TICK_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    assert ready(client)[0] == 503
    ticker = TickerProcess(env, (), tmp_path / "ticker.log")
    try:
        wait_until(lambda: ready(client)[0] == 200, 15, message="the ticker's first heartbeat")
        ticker.stop()  # SIGTERM: the ticker removes its heartbeat as it goes
        status, body = ready(client)
        assert status == 503 and body["checks"]["ticker"].startswith("no heartbeat"), ticker.output
    finally:
        ticker.close()
