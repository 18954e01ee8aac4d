"""GET /metrics: request counters by route template, and the gauges read from PostgreSQL, each moving
when its event happens; bounded series whatever the number of schedules; gunicorn's worker processes
added up through PROMETHEUS_MULTIPROC_DIR."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import uuid
from importlib import metadata

import tzdata
from prometheus_client.parser import text_string_to_metric_families

from core.ops import db
from core.observe.gauges import SqlCollector
from core.ops.sql import queries
from tests.api.conftest import JWT_SECRET, bearer
from tests.api.test_gunicorn import ROOT, _env, _free_port, _get, _gunicorn_cmd, _wait_until_serving

ROUTE = "/v1/schedules/<uuid:schedule_id>"


def parse(text: str) -> dict:
    """{(sample name, frozenset of labels): value}"""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client) -> dict:
    client.application.extensions["metrics"].sql.invalidate()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return parse(response.get_data(as_text=True))


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def sql(conn, statement, params=None):
    with db.service_transaction(conn) as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else None


def test_metrics_needs_no_token_and_is_documented(client, app):
    assert client.get("/metrics").status_code == 200
    spec = client.get("/openapi.json").get_json()
    assert spec["paths"]["/metrics"]["get"]["security"] == []
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_the_tz_database_in_use_is_a_labelled_series(client):
    samples = scrape(client)
    assert value(samples, "schedules_tz_database_info", version=tzdata.IANA_VERSION,
                 source=f"tzdata package {metadata.version('tzdata')}") == 1


def test_requests_are_counted_by_method_route_template_and_status(client, auth, create):
    created = create()
    before = scrape(client)
    client.get(f"/v1/schedules/{created['id']}", headers=auth)
    client.get(f"/v1/schedules/{uuid.uuid4()}", headers=auth)
    client.get(f"/v1/schedules/{uuid.uuid4()}", headers=auth)
    client.open("/v1/schedules", method="BREW")
    client.get("/no/such/page")
    samples = scrape(client)

    def delta(name, **labels):
        return (value(samples, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert delta("schedules_http_requests_total", method="GET", route=ROUTE, status="200") == 1
    assert delta("schedules_http_requests_total", method="GET", route=ROUTE, status="404") == 2
    assert delta("schedules_http_request_duration_seconds_count", method="GET", route=ROUTE) == 3
    assert delta("schedules_http_requests_total", method="other", route="<unmatched>", status="405") == 1
    assert delta("schedules_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert value(samples, "schedules_http_requests_total", method="POST", route="/v1/schedules", status="201") == 1
    assert not any(created["id"] in dict(labels).get("route", "") for _, labels in samples)


def test_gauges_follow_the_database(client, auth, create, conn, account_id):
    samples = scrape(client)
    assert value(samples, "schedules_metrics_database_up") == 1
    assert value(samples, "schedules_due") == 0 and value(samples, "schedules_runs_pending") == 0
    assert value(samples, "schedules_ticker_heartbeat_age_seconds") == math.inf
    assert value(samples, "schedules_by_state", state="active") == 0
    assert value(samples, "schedules_runs_by_status", status="succeeded") == 0

    due = create()
    create(name="Off", active=False, send_hour=7)
    sql(conn, "UPDATE schedules SET next_run_at = now() - interval '1 hour' WHERE id = %s", (due["id"],))
    sql(conn, "INSERT INTO ticker_heartbeats (instance_id, hostname, pid) VALUES ('t1', 'h', 1)")
    samples = scrape(client)
    assert value(samples, "schedules_due") == 1
    assert 3590 < value(samples, "schedules_due_oldest_seconds") < 3700
    assert value(samples, "schedules_by_state", state="active") == 1
    assert value(samples, "schedules_by_state", state="inactive") == 1
    assert 0 <= value(samples, "schedules_ticker_heartbeat_age_seconds") < 60

    sql(conn, "INSERT INTO schedules (account_id, name, weekly_dow) VALUES (%s, 'by hand', 1)", (account_id,))
    assert value(scrape(client), "schedules_due") == 2  # no next_run_at yet: the ticker's to compute
    sql(conn, "DELETE FROM schedules WHERE name = 'by hand'")
    [run] = sql(conn, "INSERT INTO schedule_runs (schedule_id, status) VALUES (%s, 'pending') RETURNING id",
                (due["id"],))
    samples = scrape(client)
    assert value(samples, "schedules_runs_pending") == 1 and value(samples, "schedules_runs_held") == 0
    assert value(samples, "schedules_runs_by_status", status="pending") == 1
    # Held over its account's cap: waiting for a slot, not left pending (that alert stays quiet).
    [held] = sql(conn, "INSERT INTO schedule_runs (schedule_id, status, held, scheduled_for) VALUES"
                       " (%s, 'pending', true, now() - interval '1 day') RETURNING id", (due["id"],))
    samples = scrape(client)
    assert value(samples, "schedules_runs_pending") == 1 and value(samples, "schedules_runs_held") == 1
    sql(conn, "DELETE FROM schedule_runs WHERE id = %s", (held["id"],))
    assert value(samples, "schedules_runs_retrying") == 0 and value(samples, "schedules_runs_lease_expired") == 0
    assert value(samples, "schedules_queued_oldest_seconds") == 0

    # A retry waiting, a run whose worker is gone, a run queued for 10 minutes.
    sql(conn, "INSERT INTO schedule_runs (schedule_id, status, not_before) VALUES (%s, 'retrying', now())",
        (due["id"],))
    sql(conn, "INSERT INTO schedule_runs (schedule_id, status, lease_expires_at) VALUES"
              " (%s, 'running', now() - interval '1 minute')", (due["id"],))
    sql(conn, "INSERT INTO schedule_runs (schedule_id, status, queued_at) VALUES"
              " (%s, 'queued', now() - interval '10 minutes')", (due["id"],))
    samples = scrape(client)
    assert value(samples, "schedules_runs_retrying") == 1 and value(samples, "schedules_runs_lease_expired") == 1
    assert 590 < value(samples, "schedules_queued_oldest_seconds") < 700
    sql(conn, "DELETE FROM schedule_runs WHERE status IN ('retrying', 'running', 'queued')")

    sql(conn, "UPDATE schedule_runs SET status = 'failed' WHERE id = %s", (run["id"],))
    sql(conn, "UPDATE schedule_stats SET run_count = 12, success_count = 3, consecutive_failures = 4,"
              " last_error = 'boom', last_error_at = now() WHERE schedule_id = %s", (due["id"],))
    sql(conn, "INSERT INTO email_log (account_id, error) VALUES (%s, NULL), (%s, NULL), (%s, 'refused')",
        (account_id, account_id, account_id))
    samples = scrape(client)
    assert value(samples, "schedules_runs_pending") == 0
    assert value(samples, "schedules_runs_by_status", status="failed") == 1
    assert value(samples, "schedules_runs_by_status", status="pending") == 0
    assert value(samples, "schedules_by_state", state="failing") == 1
    assert value(samples, "schedules_by_state", state="erroring") == 1
    assert value(samples, "schedules_health_issues", kind="failing") == 1
    assert value(samples, "schedules_health_issues", kind="consecutive_failures") == 1
    assert value(samples, "schedules_health_issues", kind="stale") == 0
    assert value(samples, "schedules_emails_by_result", result="sent") == 2
    assert value(samples, "schedules_emails_by_result", result="failed") == 1


def test_series_do_not_grow_with_schedules(client, create, conn):
    create()
    scrape(client)  # so that /metrics itself has been counted once already
    few = scrape(client)
    for i in range(25):
        create(name=f"Report {i}", send_hour=i % 24, active=i % 2 == 0)
    many = scrape(client)
    assert set(many) == set(few)
    assert value(many, "schedules_by_state", state="active") == 14


def test_backlog_is_read_at_most_every_few_seconds(database_url, conn, account_id):
    clock = [0.0]
    connections = []

    def connect():
        connections.append(1)
        return _closing(db.connect(database_url))

    collector = SqlCollector(connect, backlog_seconds=5, counts_seconds=60, monotonic=lambda: clock[0])

    def due():
        return next(f for f in collector.collect() if f.name == "schedules_due").samples[0].value

    assert due() == 0
    sql(conn, "INSERT INTO schedules (account_id, name, weekly_dow, next_run_at) VALUES (%s, 'x', 1, now())",
        (account_id,))
    clock[0] = 4.9
    assert due() == 0 and len(connections) == 1  # cached
    clock[0] = 5.0
    assert due() == 1 and len(connections) == 2


def test_the_backlog_is_read_from_indexes(conn):
    with db.service_transaction(conn) as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN " + queries["metrics_backlog"])
        plan = "\n".join(row["QUERY PLAN"] for row in cur.fetchall())
    assert "Seq Scan on schedule" not in plan, plan
    assert "schedules_due_idx" in plan and "schedule_runs_pending_idx" in plan, plan


def test_metrics_answer_while_postgres_is_down(app_config):
    from api import create_app

    app = create_app({**app_config, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"})
    samples = scrape(app.test_client())
    assert value(samples, "schedules_metrics_database_up") == 0
    assert value(samples, "schedules_due") is None


class _closing:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def test_gunicorn_workers_are_added_up_in_multiprocess_mode(database_url, account_id, tmp_path):
    port = _free_port()
    directory = tmp_path / "prometheus"
    env = _env(DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET, PORT=str(port), WEB_CONCURRENCY="2",
               WEB_THREADS="1", PROMETHEUS_MULTIPROC_DIR=str(directory))
    process = subprocess.Popen(_gunicorn_cmd(), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until_serving(process, port)
        sent = 1

        def pids():
            return {name.rsplit("_", 1)[-1] for name in os.listdir(directory) if name.startswith("counter_")}

        while len(pids()) < 2:  # until both workers have answered some (the kernel picks which)
            assert sent < 500, os.listdir(directory)
            assert _get(port, "/healthz")[0] == 200
            sent += 1
        for _ in range(3):
            assert _get(port, "/v1/schedules", headers=bearer(account_id))[0] == 200
        for _ in range(4):  # whichever worker answers, the figures are both workers'
            status, body = _get(port, "/metrics")
            samples = parse(body.decode())
            assert value(samples, "schedules_http_requests_total", method="GET", route="/healthz",
                         status="200") == sent
            assert value(samples, "schedules_http_requests_total", method="GET", route="/v1/schedules",
                         status="200") == 3
            assert value(samples, "schedules_metrics_database_up") == 1
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
