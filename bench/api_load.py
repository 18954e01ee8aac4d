"""API throughput: requests/second and p99 latency under gunicorn on loopback, from a Python load
generator (keep-alive connections, one per thread) running on the same 2-core machine, so the
figures are a floor: the generator takes CPU from the server. Beside it, in the same run, the same
routes of bench/minimal_api.py (a minimal Flask + psycopg2 app with the same SQL under the same
gunicorn workers and threads, alternating with the API in rounds): the API's throughput as a share
of that floor."""
from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import BenchDatabases, flush_queue, free_port
from core.tenants.access_tokens import mint_access_token
from core.ops import db

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789"
CREATE_BODY = json.dumps({"name": "Weekly Market Snapshot", "report_type": "market_snapshot", "city": "San Diego",
                          "cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "send_minute": 0,
                          "timezone": "America/New_York", "recipients": ["client@example.com"], "active": True})


def _load(port: int, method: str, path: str, headers: dict, body: str | None, seconds: float,
          threads: int) -> dict:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies[index].append(time.perf_counter() - start)
            if response.status >= 400:
                errors[index] += 1
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for per_thread in latencies for x in per_thread)
    return {"requests": len(flat), "requests_per_second": len(flat) / elapsed,
            "p50_ms": flat[len(flat) // 2] * 1000, "p99_ms": flat[int(0.99 * (len(flat) - 1))] * 1000,
            "errors": sum(errors)}


def measure(servers, log_dir: Path, seconds: float = 10.0, threads: int = 8, rounds: int = 3) -> dict:
    """Each route of the API and of the minimal app in turn, `rounds` times (API first in one round,
    the minimal app first in the next), both apps serving the same database all along: a neighbour's
    burst on this shared machine falls on both rather than on one. Each app's figure for a route is
    its median round; the ratio is the median of the rounds' ratios (each round's two loads ran one
    after the other, on a table that grew by the same creates)."""
    dbs = BenchDatabases(servers.pg_admin_url)
    apps: dict[str, subprocess.Popen] = {}
    try:
        _, url = dbs.create()
        flush_queue(servers.redis_url)
        conn = db.connect(url)
        with db.service_transaction(conn) as cur:
            cur.execute("INSERT INTO accounts (name, plan) VALUES ('api bench', 'unlimited') RETURNING id")
            account = cur.fetchone()["id"]
        conn.close()
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": servers.redis_url, "JWT_SECRET": JWT_SECRET,
               "WEB_CONCURRENCY": "2", "WEB_THREADS": "4", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        log_dir.mkdir(parents=True, exist_ok=True)
        ports = {"api": free_port(), "minimal": free_port()}
        apps["api"] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "api:create_app()", "--config", "gunicorn.conf.py",
             "--access-logfile", "/dev/null"], cwd=ROOT, env={**env, "PORT": str(ports["api"])},
            stdout=open(log_dir / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
        # The floor: a minimal Flask + psycopg2 app with the same SQL, same gunicorn workers and threads.
        apps["minimal"] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "bench.minimal_api:create_app()", "-k", "gthread", "--workers", "2",
             "--threads", "4", "--bind", f"127.0.0.1:{ports['minimal']}", "--access-logfile", "/dev/null"],
            cwd=ROOT, env=env, stdout=open(log_dir / "gunicorn-minimal.log", "w"), stderr=subprocess.STDOUT)
        headers = {"Authorization": f"Bearer {mint_access_token(JWT_SECRET, account)}",
                   "Content-Type": "application/json"}
        for port in ports.values():
            _wait_until_serving(port)
        # 1,000 schedules for the tenant, made through the API itself (this also warms it up).
        created = _load_count(ports["api"], headers, 1000)
        routes = _routes(created)
        for name, port in ports.items():
            _check_answers(name, port, headers, routes)
        measured: dict[str, dict[str, list[dict]]] = {name: {route: [] for route in routes} for name in ports}
        for route, (method, path, body) in routes.items():
            for turn in range(rounds):
                for name in (("api", "minimal") if turn % 2 == 0 else ("minimal", "api")):
                    measured[name][route].append(_load(ports[name], method, path, headers, body, seconds, threads))
        ratios = {route: statistics.median(ours["requests_per_second"] / floor["requests_per_second"]
                                           for ours, floor in zip(measured["api"][route], measured["minimal"][route]))
                  for route in routes}
        return {"threads": threads, "seconds": seconds, "rounds": rounds, "gunicorn": "2 workers x 4 threads",
                "routes": {route: _median(r) for route, r in measured["api"].items()},
                "minimal": {route: _median(r) for route, r in measured["minimal"].items()}, "ratios": ratios}
    finally:
        for app in apps.values():
            app.terminate()
            app.wait(timeout=30)
        dbs.drop_all()


def _median(rounds: list[dict]) -> dict:
    """The median round by requests per second, with every round's rate beside it."""
    ordered = sorted(rounds, key=lambda r: r["requests_per_second"])
    return {**ordered[len(ordered) // 2], "rounds_requests_per_second": [r["requests_per_second"] for r in rounds]}


def _routes(schedule_id: str) -> dict[str, tuple[str, str, str | None]]:
    return {"POST /v1/schedules": ("POST", "/v1/schedules", CREATE_BODY),
            "GET /v1/schedules/{id}": ("GET", f"/v1/schedules/{schedule_id}", None),
            "GET /v1/schedules": ("GET", "/v1/schedules?page_size=50", None)}


def _check_answers(app: str, port: int, headers: dict, routes: dict) -> None:
    """One request of each route must answer as it should before the load: a floor that answers
    errors fast is no floor."""
    for name, (method, path, body) in routes.items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        if response.status >= 400:
            raise RuntimeError(f"{app}: {name} answered {response.status} before the load: {payload[:300]!r}; "
                               "see bench/results/logs/")


def _wait_until_serving(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start; see bench/results/logs/gunicorn.log")


def _load_count(port: int, headers: dict, count: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    last_id = ""
    for _ in range(count):
        conn.request("POST", "/v1/schedules", body=CREATE_BODY, headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read())
        if response.status != 201:
            raise RuntimeError(f"create failed: {response.status} {payload}")
        last_id = payload["id"]
    conn.close()
    return last_id
