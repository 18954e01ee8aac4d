"""What every benchmark shares: servers, a fresh migrated database per measurement, due schedules
in bulk, and the checks that a dispatch really produced N runs and N jobs with no duplicate."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from psycopg2 import sql

from core.ops import db
from core.ops.migrate import apply_migrations
from devtools.embedded import EmbeddedPostgres, EmbeddedRedis, create_database, drop_database

ZONES = ["UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney",
         "America/Los_Angeles", "Asia/Kolkata", "America/Sao_Paulo", "Australia/Lord_Howe"]
QUEUE = "bench"


@dataclass
class Servers:
    pg_admin_url: str
    redis_url: str


@contextmanager
def servers():
    """DATABASE_URL / REDIS_URL when given (only databases named bench_* and the `bench` queue are
    touched), else embedded servers in a temporary folder."""
    stack = []
    scratch = Path(tempfile.mkdtemp(prefix="schedbench-"))
    try:
        pg_url = os.environ.get("DATABASE_URL")
        if not pg_url:
            pg = EmbeddedPostgres(scratch / "postgres", delete_on_stop=True)
            stack.append(pg)
            pg_url = pg.admin_url
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            rd = EmbeddedRedis(scratch / "redis", persistent=False)
            stack.append(rd)
            redis_url = rd.url
        yield Servers(pg_url, redis_url)
    finally:
        for server in reversed(stack):
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


class BenchDatabases:
    """A migrated template holding N due schedules; each measurement gets its own copy."""

    def __init__(self, pg_admin_url: str):
        self.admin = pg_admin_url
        self.created: dict[str, str] = {}  # url -> database name

    def create(self, template: str | None = None) -> tuple[str, str]:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        url = create_database(self.admin, name, template=template)
        self.created[url] = name
        if template is None:
            apply_migrations(url)
        return name, url

    def drop(self, url: str) -> None:
        """Drop the copy behind `url` now (a copy of 100,000 schedules and their runs is ~100 MB)."""
        drop_database(self.admin, self.created.pop(url))

    def drop_all(self) -> None:
        for name in self.created.values():
            drop_database(self.admin, name)
        self.created.clear()


def insert_schedules(url: str, n: int, *, due: bool = True, spread_seconds: float = 3600.0,
                     accounts: int = 100) -> None:
    """N active schedules, a mix of cadences and zones. due=True: next_run_at spread over the past
    `spread_seconds`; due=False: all in the future (for idle ticks)."""
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (name, plan) SELECT 'bench ' || i, 'unlimited'"
                    " FROM generate_series(1, %s) i", (accounts,))
        cur.execute(
            """
            INSERT INTO schedules (account_id, account_seq, name, report_type, city, recipients, cadence, weekly_dow,
                                   monthly_dom, send_hour, send_minute, cron_expression, timezone, next_run_at)
            SELECT a.ids[1 + i %% array_length(a.ids, 1)], 1 + i / array_length(a.ids, 1),
                   'bench schedule ' || i, 'market_snapshot', 'San Diego', ARRAY['bench@example.com'],
                   (ARRAY['daily','weekly','monthly','hourly','cron'])[1 + i %% 5],
                   CASE WHEN i %% 5 = 1 THEN i %% 7 END,
                   CASE WHEN i %% 5 = 2 THEN 1 + i %% 31 END,
                   i %% 24, (i * 7) %% 60,
                   CASE WHEN i %% 5 = 4 THEN (ARRAY['*/15 * * * *', '0 9 * * 1-5', '30 2 * * *', '0 */6 * * *'])[1 + i %% 4] END,
                   (%(zones)s::text[])[1 + i %% array_length(%(zones)s::text[], 1)],
                   CASE WHEN %(due)s THEN now() - (random() * %(spread)s) * interval '1 second'
                        ELSE now() + interval '1 day' + (random() * 86400) * interval '1 second' END
              FROM generate_series(1, %(n)s) i,
                   (SELECT array_agg(id) AS ids FROM accounts) a
            """,
            {"n": n, "zones": ZONES, "due": due, "spread": spread_seconds},
        )
    with conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE schedules")
    conn.close()


def flush_queue(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()


def verify_dispatch(url: str, redis_url: str, n: int) -> str | None:
    """None when each of the N schedules has its run, no occurrence has two runs and every run to
    execute has exactly one job in the queue; else what is wrong. Runs beyond N are next occurrences
    that came due during the measurement (hourly and */15 rules do, when the burst spans a quarter
    hour): allowed, but each once. As no worker runs here, such an occurrence finds its schedule's run
    still queued, so the overlap policy (`skip`) records it `skipped_overlap`, with no job."""
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS runs, count(DISTINCT (schedule_id, scheduled_for)) AS occurrences,"
                    " count(DISTINCT schedule_id) AS schedules,"
                    " count(*) FILTER (WHERE status IN ('pending', 'queued')) AS to_execute FROM schedule_runs")
        counts = cur.fetchone()
    conn.close()
    client = redis.Redis.from_url(redis_url)
    queued = client.llen(f"rq:queue:{QUEUE}")
    distinct_queued = len(set(client.lrange(f"rq:queue:{QUEUE}", 0, -1)))
    problems = []
    if counts["schedules"] != n:
        problems.append(f"{counts['schedules']} of {n} schedules have a run")
    if counts["occurrences"] != counts["runs"]:
        problems.append(f"{counts['runs'] - counts['occurrences']} duplicate occurrence(s)")
    if queued != counts["to_execute"] or distinct_queued != counts["to_execute"]:
        problems.append(f"{queued} queued jobs ({distinct_queued} distinct) for {counts['to_execute']} runs to "
                        f"execute ({counts['runs']} runs in all)")
    return "; ".join(problems) or None


def extra_runs(url: str, n: int) -> int:
    """Runs beyond one per schedule: next occurrences that came due while the burst was dispatched."""
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS runs FROM schedule_runs")
        runs = cur.fetchone()["runs"]
    conn.close()
    return runs - n


def make_due(url: str, *, at_seconds_from_now: float | None = None) -> float | None:
    """Make every schedule due: spread over the last hour (None), or all at one instant in the future
    (returns it as a Unix time). Then VACUUM: rows become due by time passing in production, not by a
    mass UPDATE, so the dead row versions that UPDATE leaves must not be measured."""
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        if at_seconds_from_now is None:
            cur.execute("UPDATE schedules SET next_run_at = now() - random() * interval '1 hour'")
            due_at = None
        else:
            cur.execute("UPDATE schedules SET next_run_at = date_trunc('second', now())"
                        " + make_interval(secs => %s) RETURNING extract(epoch FROM next_run_at) AS at",
                        (at_seconds_from_now,))
            due_at = float(cur.fetchone()["at"])
    vacuum_and_close(conn, "schedules")
    return due_at


def free_port() -> int:
    """A TCP port free on loopback now, for a server a bench starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def due_instant(cur) -> float:
    """The earliest next_run_at of the schedules, as a Unix time: the instant a bench's spike is due."""
    cur.execute("SELECT extract(epoch FROM min(next_run_at)) AS at FROM schedules")
    return float(cur.fetchone()["at"])


def vacuum_and_close(conn, table: str | None = None) -> None:
    """VACUUM ANALYZE `table` (None: the whole database) outside a transaction, then close `conn`: what a
    bench measures then reads the rows it set up as a live table holds them, without the dead versions a
    mass write leaves and with fresh planner statistics."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)) if table else "VACUUM ANALYZE")
    conn.close()


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
