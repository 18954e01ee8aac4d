"""Fixtures for the ticker: in-process tickers with an injected clock, ticker subprocesses pointed at
this test's database and Redis, a private Redis a test can stop and restart, and row helpers."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.ops import db
from core.ops.settings import load_settings
from core.ops.sql import queries
from devtools.embedded import EmbeddedRedis
from ticker.loop import Ticker

REPO = Path(__file__).resolve().parents[2]
QUEUE = "schedules"
SEED_ACCOUNT = "912014c3-6deb-4b40-a28d-489ef3923a3a"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


class Clock:
    """An injected clock a test moves by hand (`clock.at += timedelta(minutes=1)`)."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def fetch(conn, sql, params=None) -> list[dict]:
    with db.service_transaction(conn) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def scalar(conn, sql, params=None):
    return next(iter(fetch(conn, sql, params)[0].values()))


def ensure_seed_account(conn):
    with db.service_transaction(conn) as cur:
        cur.execute(queries["ensure_account"], {"id": SEED_ACCOUNT, "name": "Seed account", "plan": "pro"})
    return SEED_ACCOUNT


# A schedule's counters and last outcome, as runs' conclusions write them (schedule_stats).
STATS = ("run_count", "success_count", "failure_count", "consecutive_failures", "last_status", "last_error")


def make_schedule(conn, account_id, **fields):
    """One schedule (weekly, Monday 09:00 UTC unless told otherwise); returns its id. Counters and a
    last status or error among `fields` are written as runs' conclusions write them."""
    stats = {name: fields.pop(name) for name in STATS if name in fields}
    values = {"name": "Weekly Market Snapshot", "report_type": "market_snapshot", "city": "San Diego",
              "cadence": "weekly", "weekly_dow": 1, "recipients": ["client@example.com"], **fields}
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({name})s" for name in values)
    rows = fetch(conn, f"INSERT INTO schedules (account_id, {columns})"
                       f" VALUES (%(account_id)s, {placeholders}) RETURNING id",
                 {"account_id": account_id, **values})
    if stats:
        assignments = ", ".join([f"{name} = %({name})s" for name in stats]
                                + [f"{name}_at = clock_timestamp()" for name in ("last_status", "last_error")
                                   if name in stats])
        fetch(conn, f"UPDATE schedule_stats SET {assignments} WHERE schedule_id = %(id)s RETURNING 1",
              {**stats, "id": rows[0]["id"]})
    return rows[0]["id"]


def insert_due_schedules(conn, account_id, count: int, *, spread_seconds: float = 0.0,
                         offset_seconds: float = -60.0, name: str = "Bulk") -> None:
    """`count` schedules in one statement, a mix of daily, weekly and cron rules, due at
    now + offset_seconds, spread evenly over `spread_seconds` after that.

    Their rules fire at an hour 12 hours away from now (UTC), so no schedule's NEXT occurrence can
    come due while a test runs, whatever the wall clock: each gets exactly one run."""
    fetch(conn, """
        INSERT INTO schedules (account_id, name, cadence, weekly_dow, send_hour, send_minute,
                               cron_expression, next_run_at)
        SELECT %(account_id)s, %(name)s || ' ' || i,
               (ARRAY['daily', 'weekly', 'cron'])[1 + i %% 3],
               CASE WHEN i %% 3 = 1 THEN i %% 7 END, far.hour, i %% 60,
               CASE WHEN i %% 3 = 2 THEN (i %% 60) || ' ' || far.hour || ' * * *' END,
               now() + make_interval(secs => %(offset)s + %(spread)s * i / %(count)s)
          FROM generate_series(0, %(count)s - 1) AS i,
               (SELECT (extract(hour FROM now() AT TIME ZONE 'UTC')::int + 12) %% 24 AS hour) AS far
    """, {"account_id": account_id, "name": name, "count": count, "offset": offset_seconds,
          "spread": spread_seconds})


def redis_jobs(client: redis.Redis, queue: str = QUEUE) -> tuple[list[str], list[str]]:
    """(job hashes of runs, entries of the queue), as strings."""
    hashes = sorted(key.decode()[len("rq:job:"):] for key in client.scan_iter("rq:job:run-*", count=1000))
    entries = [entry.decode() for entry in client.lrange(f"rq:queue:{queue}", 0, -1)]
    return hashes, entries


def assert_exactly_once(conn, client: redis.Redis, expected_runs: int, queue: str = QUEUE) -> None:
    """Every due occurrence has one run, every run is queued with one job in one queue entry."""
    runs = fetch(conn, "SELECT id, schedule_id, scheduled_for, status, job_id FROM schedule_runs")
    assert len(runs) == expected_runs
    assert len({(r["schedule_id"], r["scheduled_for"]) for r in runs}) == expected_runs
    assert {r["status"] for r in runs} == {"queued"}
    assert all(r["job_id"] == f"run-{r['id']}" for r in runs)
    hashes, entries = redis_jobs(client, queue)
    expected = sorted(r["job_id"] for r in runs)
    assert hashes == expected
    assert len(entries) == expected_runs
    assert sorted(entries) == expected


def settled(conn) -> bool:
    """Nothing due and nothing pending: a ticker has finished all there is."""
    row = fetch(conn, """
        SELECT (SELECT count(*) FROM schedules WHERE active AND (next_run_at IS NULL OR next_run_at <= now()))
             + (SELECT count(*) FROM schedule_runs WHERE status = 'pending') AS left
    """)[0]
    return row["left"] == 0


@pytest.fixture
def make_ticker(database_url, redis_url):
    """Build in-process tickers on this test's database and Redis: make_ticker(clock=..., **env)."""
    made = []

    def make(clock=None, heartbeat=False, repush_grace=0.0, **env):
        settings = load_settings({"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                                  **{k.upper(): str(v) for k, v in env.items()}})
        kwargs = {"clock": clock} if clock else {}
        ticker = Ticker(settings, heartbeat=heartbeat, repush_grace=repush_grace, **kwargs)
        made.append(ticker)
        return ticker

    yield make
    for ticker in made:
        ticker.close()


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


class TickerProcess:
    """`python -m ticker ...` as a child process, its stdout and stderr in one log file."""

    def __init__(self, env: dict, args=(), log_path: Path = None):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "ticker", *args], cwd=REPO, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 15.0) -> None:
        def seen():
            if text in self.output:
                return True
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"ticker exited with {self.proc.returncode} before {text!r}:\n{self.output}")
            return False
        wait_until(seen, timeout, message=repr(text))

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        self._log.close()


@pytest.fixture
def ticker_env(database_url, redis_url):
    """The environment of a ticker subprocess: this test's database and Redis, nothing of the caller's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "TEST_", "TICK_", "LOG_", "RQ_"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TICK_INTERVAL": "60",
                "LOG_LEVEL": "INFO", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture
def start_ticker(ticker_env, tmp_path):
    """start_ticker(*args, **env) -> TickerProcess; every one still running is killed afterwards."""
    started = []

    def start(*args, **env):
        full_env = {**ticker_env, **{k.upper(): str(v) for k, v in env.items()}}
        process = TickerProcess(full_env, args, tmp_path / f"ticker-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


class PrivateRedis:
    """A redis-server of this test's own on a short unix socket path, stopped and restarted at will.

    Append-only persistence is on, so what was pushed before a stop is there after the restart.
    """

    def __init__(self):
        self.datadir = Path(tempfile.mkdtemp(prefix="tkr-", dir="/tmp"))
        self.url = f"unix://{self.datadir / 'redis.sock'}"
        self.server = None
        self.start()

    def start(self) -> None:
        self.server = EmbeddedRedis(self.datadir, persistent=True)

    def stop(self) -> None:
        """SHUTDOWN (which writes the append-only file) and wait for the process to exit."""
        if self.server.process is None or self.server.process.poll() is not None:
            return
        # No client retries: redis-py's default would retry SHUTDOWN against the closed socket for seconds.
        client = redis.Redis.from_url(self.url, socket_timeout=5, retry=Retry(NoBackoff(), 0))
        try:
            client.shutdown()
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        self.server.process.wait(timeout=10)

    def restart_empty(self) -> None:
        """Stop, lose everything on disk, start: a Redis without persistence after a restart."""
        self.stop()
        for path in self.datadir.iterdir():
            if path.name not in ("redis.log",):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.datadir, ignore_errors=True)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    yield server
    server.close()
