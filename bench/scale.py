"""Scale: the service at the size a SaaS reaches, built with SQL (generate_series), counts checked.

The table holds SCHEDULES schedules: one big account with BIG of them and SMALL_ACCOUNTS small
accounts with SMALL_EACH each, all due at the same instant (the Monday 9:00 spike), and the rest
spread over quiet accounts of 100 schedules, due tomorrow. Measured, each beside its target:

- the API's latency (p50/p99 of sequential requests through gunicorn on loopback, 2 workers x 4
  threads as deployed) for the big account and for a small one: the first page, a deep page, a name
  search, stats, health, due, one schedule, create;
- the ticker dispatching every due schedule (its run recorded, next_run_at moved, its job in Redis);
- the ticker's idle tick (nothing due) at SCHEDULES and at IDLE_LARGE schedules.

`--quick` divides every size by 10. The sizes and targets are issue 30's; what the figures say on the
current code is the starting line for its work (cursor pages, trigram search, fair shares).
"""
from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from bench import idle
from bench.api_load import CREATE_BODY, JWT_SECRET, ROOT, _wait_until_serving
from bench.common import QUEUE, ZONES, BenchDatabases, flush_queue, free_port
from core.tenants.access_tokens import mint_access_token
from core.ops import db

REQUESTS_PER_ROUTE = 200
SPARSE_ROUTES = {"name search finding all: 'market'"}
SPARSE_EVERY = 10
READ_P99_TARGET_MS = 50.0
CREATE_P99_TARGET_MS = 100.0
DISPATCH_TARGET_SECONDS = 30.0
IDLE_TARGET_MS = 20.0


@dataclass(frozen=True)
class Sizes:
    schedules: int
    big: int
    small_accounts: int
    small_each: int
    idle_large: int

    @property
    def due(self) -> int:
        return self.big + self.small_accounts * self.small_each


FULL = Sizes(schedules=1_000_000, big=100_000, small_accounts=1_000, small_each=100, idle_large=10_000_000)
QUICK = Sizes(schedules=100_000, big=10_000, small_accounts=100, small_each=100, idle_large=1_000_000)
QUIET_EACH = 100


def build(url: str, sizes: Sizes) -> dict:
    """The accounts and schedules; the due ones fall due one minute ago. Returns the account ids."""
    quiet_accounts = max(1, (sizes.schedules - sizes.due) // QUIET_EACH)
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (name, plan) VALUES ('big', 'unlimited') RETURNING id")
        big = cur.fetchone()["id"]
        cur.execute("INSERT INTO accounts (name, plan) SELECT 'small ' || i, 'unlimited'"
                    " FROM generate_series(1, %s) i RETURNING id", (sizes.small_accounts,))
        small = [row["id"] for row in cur.fetchall()]
        cur.execute("INSERT INTO accounts (name, plan) SELECT 'quiet ' || i, 'unlimited'"
                    " FROM generate_series(1, %s) i RETURNING id", (quiet_accounts,))
        quiet = [row["id"] for row in cur.fetchall()]
        cur.execute(
            """
            INSERT INTO schedules (account_id, account_seq, name, report_type, city, recipients, cadence,
                                   weekly_dow, send_hour, send_minute, timezone, next_run_at)
            SELECT CASE WHEN i <= %(big_n)s THEN %(big)s::uuid
                        WHEN i <= %(due_n)s THEN (%(small)s::uuid[])[1 + (i - %(big_n)s - 1) / %(small_each)s]
                        ELSE (%(quiet)s::uuid[])[1 + (i - %(due_n)s - 1) %% %(quiet_n)s] END,
                   -- Each schedule's number within its account (the trigger would count them one by one).
                   CASE WHEN i <= %(big_n)s THEN i
                        WHEN i <= %(due_n)s THEN 1 + (i - %(big_n)s - 1) %% %(small_each)s
                        ELSE 1 + (i - %(due_n)s - 1) / %(quiet_n)s END,
                   'Weekly market snapshot ' || i, 'market_snapshot', 'San Diego', ARRAY['bench@example.com'],
                   'weekly', 1, 9, 0, (%(zones)s::text[])[1 + i %% array_length(%(zones)s::text[], 1)],
                   CASE WHEN i <= %(due_n)s THEN date_trunc('second', now()) - interval '1 minute'
                        ELSE now() + interval '1 day' + (i %% 86400) * interval '1 second' END
              FROM generate_series(1, %(n)s) i
            """,
            {"n": sizes.schedules, "big_n": sizes.big, "due_n": sizes.due, "big": big, "small": small,
             "small_each": sizes.small_each, "quiet": quiet, "quiet_n": len(quiet), "zones": ZONES})
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")
        cur.execute("SELECT count(*) AS n, count(*) FILTER (WHERE next_run_at <= now()) AS due FROM schedules")
        counts = cur.fetchone()
    conn.close()
    if (counts["n"], counts["due"]) != (sizes.schedules, sizes.due):
        raise RuntimeError(f"built {counts['n']} schedules with {counts['due']} due, "
                           f"not {sizes.schedules} with {sizes.due}")
    return {"big": big, "small": small[0]}


def _timed(conn: http.client.HTTPConnection, method: str, path: str, headers: dict, body: str | None,
           expect: int) -> tuple[float, dict]:
    start = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - start
    if response.status != expect:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
    return elapsed, json.loads(payload) if payload else {}


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000}


def _routes(conn, headers: dict, owned: int) -> dict:
    """(method, path, body, expected status) per figure, for an account with `owned` schedules."""
    _, first = _timed(conn, "GET", "/v1/schedules?page_size=50", headers, None, 200)
    one = first["schedules"][0]["id"]
    deep_page = max(1, first["pages"] // 2)
    # Where a client walking the pages by cursor stands at that depth (found once, by number).
    _, before_deep = _timed(conn, "GET", f"/v1/schedules?page_size=50&page={max(1, deep_page - 1)}", headers,
                            None, 200)
    deep_cursor = before_deep["next_cursor"]
    # Searches that find one schedule of the account's (the name holds its number): with a word every
    # name has ("snapshot": the trigram index reads that word's entries for the whole table) and with
    # the number alone; and a search that finds every schedule of the account (a word every name has,
    # alone), whose page and total are the account's whole size.
    needle = f"snapshot {owned // 2 + 7}"
    return {
        "first page": ("GET", "/v1/schedules?page_size=50", None, 200),
        f"deep page ({deep_page:,} of {first['pages']:,}), by number": (
            "GET", f"/v1/schedules?page_size=50&page={deep_page}", None, 200),
        f"deep page ({deep_page:,}), by cursor": ("GET", f"/v1/schedules?page_size=50&cursor={deep_cursor}", None, 200),
        "name search finding one: 'snapshot N'": (
            "GET", f"/v1/schedules?page_size=50&q={needle.replace(' ', '%20')}", None, 200),
        "name search finding one: 'N'": ("GET", f"/v1/schedules?page_size=50&q={owned // 2 + 7}", None, 200),
        "name search finding all: 'market'": ("GET", "/v1/schedules?page_size=50&q=market", None, 200),
        "stats": ("GET", "/v1/schedules/stats", None, 200),
        "health": ("GET", "/v1/schedules/health", None, 200),
        "due": ("GET", "/v1/schedules/due", None, 200),
        "one schedule": ("GET", f"/v1/schedules/{one}", None, 200),
        "create": ("POST", "/v1/schedules", CREATE_BODY, 201),
    }


def api_latency(url: str, redis_url: str, accounts: dict, log_dir: Path) -> dict:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET,
           "PORT": str(port), "WEB_CONCURRENCY": "2", "WEB_THREADS": "4", "LOG_LEVEL": "WARNING",
           "RQ_QUEUE": QUEUE, "PYTHONPATH": str(ROOT)}
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "gunicorn-scale.log", "w") as log:
        gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "api:create_app()", "--config",
                                     "gunicorn.conf.py", "--access-logfile", "/dev/null"],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(port)
            results = {}
            for label, account in accounts.items():
                headers = {"Authorization": f"Bearer {mint_access_token(JWT_SECRET, account['id'])}",
                           "Content-Type": "application/json"}
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                routes = _routes(conn, headers, account["schedules"])
                samples: dict[str, list[float]] = {name: [] for name in routes}
                for _ in range(5):  # warm each route (plans, pools)
                    for method, path, body, expect in routes.values():
                        _timed(conn, method, path, headers, body, expect)
                # Round-robin over the routes, so a slow spell of the machine lands on all alike; a
                # search finding every schedule in one round of SPARSE_EVERY (it may take seconds).
                for round_ in range(REQUESTS_PER_ROUTE):
                    for name, (method, path, body, expect) in routes.items():
                        if name in SPARSE_ROUTES and round_ % SPARSE_EVERY:
                            continue
                        samples[name].append(_timed(conn, method, path, headers, body, expect)[0])
                conn.close()
                results[label] = {name: _percentiles(values) for name, values in samples.items()}
            return results
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)


def dispatch_all(url: str, redis_url: str, expected: int, log_dir: Path) -> dict:
    """One `python -m ticker` started with every due schedule already due; the clock runs from its
    first heartbeat until `expected` jobs are in Redis and as many runs are queued."""
    flush_queue(redis_url)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "RQ_QUEUE": QUEUE, "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    queue = redis.Redis.from_url(redis_url)
    conn = db.connect(url, application_name="bench-watch")
    with open(log_dir / "ticker-scale.log", "w") as log:
        ticker = subprocess.Popen([sys.executable, "-m", "ticker"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            started = time.perf_counter()
            deadline = time.monotonic() + 1800
            while queue.llen(f"rq:queue:{QUEUE}") < expected:
                if ticker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the ticker stopped or took too long; see {log_dir / 'ticker-scale.log'}")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            ticker.terminate()
            ticker.wait(timeout=60)
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS runs, count(DISTINCT schedule_id) AS schedules,"
                    " count(*) FILTER (WHERE status = 'queued') AS queued FROM schedule_runs")
        counts = cur.fetchone()
        cur.execute("SELECT count(*) AS n FROM schedules WHERE next_run_at <= now()")
        still_due = cur.fetchone()["n"]
    conn.close()
    jobs = queue.llen(f"rq:queue:{QUEUE}")
    queue.close()
    problems = []
    if counts["schedules"] != expected or counts["queued"] != expected or jobs != expected:
        problems.append(f"{counts['schedules']} schedules with a run, {counts['queued']} queued, {jobs} jobs "
                        f"for {expected} due")
    if still_due:
        problems.append(f"{still_due} schedules still due")
    return {"due": expected, "seconds": seconds, "runs_per_second": expected / seconds,
            "problem": "; ".join(problems) or None}


def measure(servers, log_dir: Path, *, quick: bool = False, idle_ticks: bool = True) -> dict:
    """Build, the API's latency, dispatch, and (with `idle_ticks`) the idle tick at SCHEDULES and IDLE_LARGE."""
    sizes = QUICK if quick else FULL
    dbs = BenchDatabases(servers.pg_admin_url)
    try:
        _, url = dbs.create()
        started = time.perf_counter()
        ids = build(url, sizes)
        results: dict = {"sizes": {**sizes.__dict__, "due": sizes.due}, "build_seconds": time.perf_counter() - started}
        results["api"] = api_latency(url, servers.redis_url, {
            f"account with {sizes.big:,}": {"id": ids["big"], "schedules": sizes.big},
            f"account with {sizes.small_each:,}": {"id": ids["small"], "schedules": sizes.small_each},
        }, log_dir)
        # The creates above made schedules due next Monday: the due set is what build() made.
        results["dispatch"] = dispatch_all(url, servers.redis_url, sizes.due, log_dir)
        dbs.drop(url)
        flush_queue(servers.redis_url)
        if idle_ticks:
            results["idle"] = idle.measure(servers, small=sizes.schedules, large=sizes.idle_large, ticks=100)
        return results
    finally:
        dbs.drop_all()


def report(results: dict) -> None:
    sizes = results["sizes"]
    print(f"{sizes['schedules']:,} schedules built in {results['build_seconds']:.0f} s; "
          f"{sizes['due']:,} due at once (one account {sizes['big']:,}, "
          f"{sizes['small_accounts']:,} accounts x {sizes['small_each']})")
    for account, routes in results["api"].items():
        print(f"API, {account} (of {sizes['schedules']:,}):")
        for route, figure in routes.items():
            target = CREATE_P99_TARGET_MS if route == "create" else READ_P99_TARGET_MS
            verdict = "meets" if figure["p99_ms"] <= target else "MISSES"
            print(f"  {route:<40} p50 {figure['p50_ms']:7.1f} ms   p99 {figure['p99_ms']:7.1f} ms"
                  f"   (target p99 <= {target:g} ms: {verdict})")
    d = results["dispatch"]
    verdict = "meets" if d["seconds"] <= DISPATCH_TARGET_SECONDS and not d["problem"] else "MISSES"
    print(f"Dispatch of {d['due']:,} due at once, one ticker: {d['seconds']:.1f} s ({d['runs_per_second']:,.0f} runs/s)"
          f"   (target <= {DISPATCH_TARGET_SECONDS:g} s: {verdict})" + (f"   PROBLEM: {d['problem']}" if d["problem"] else ""))
    i = results.get("idle")
    for n, ms in () if i is None else ((i["small"], i["small_ms"]), (i["large"], i["large_ms"])):
        verdict = "meets" if ms <= IDLE_TARGET_MS else "MISSES"
        print(f"Idle tick at {n:>10,} schedules: {ms:6.2f} ms   (target <= {IDLE_TARGET_MS:g} ms: {verdict})")
