"""API throughput: requests/second and p99 latency under gunicorn on loopback, from a Python load
generator (keep-alive connections, one per thread) running on the same 2-core machine, so the
figures are a floor: the generator takes CPU from the server. Beside it, in the same run, the same
routes of bench/minimal_api.py (a minimal Flask + psycopg2 app with the same SQL under the same
gunicorn workers and threads): the API's throughput as a share of that floor."""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import BenchDatabases, flush_queue
from core.deliveries.tokens import mint_access_token
from core.ops import db

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789"
CREATE_BODY = json.dumps({"name": "Weekly Market Snapshot", "report_type": "market_snapshot", "city": "San Diego",
                          "cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "send_minute": 0,
                          "timezone": "America/New_York", "recipients": ["client@example.com"], "active": True})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def measure(servers, log_dir: Path, seconds: float = 10.0, threads: int = 8) -> dict:
    dbs = BenchDatabases(servers.pg_admin_url)
    port = _free_port()
    gunicorn = None
    try:
        _, url = dbs.create()
        flush_queue(servers.redis_url)
        conn = db.connect(url)
        with db.service_transaction(conn) as cur:
            cur.execute("INSERT INTO accounts (name, plan) VALUES ('api bench', 'unlimited') RETURNING id")
            account = cur.fetchone()["id"]
        conn.close()
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": servers.redis_url, "JWT_SECRET": JWT_SECRET,
               "PORT": str(port), "WEB_CONCURRENCY": "2", "WEB_THREADS": "4", "LOG_LEVEL": "WARNING",
               "PYTHONPATH": str(ROOT)}
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / "gunicorn.log", "w")
        gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "api:create_app()", "--config",
                                     "gunicorn.conf.py", "--access-logfile", "/dev/null"],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        headers = {"Authorization": f"Bearer {mint_access_token(JWT_SECRET, account)}",
                   "Content-Type": "application/json"}
        _wait_until_serving(port)
        # 1,000 schedules for the tenant, made through the API itself (this also warms it up).
        created = _load_count(port, headers, 1000)
        results = _routes(port, headers, created, seconds, threads)
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        # The floor: a minimal Flask + psycopg2 app with the same SQL, same gunicorn workers and threads.
        port = _free_port()
        minimal_log = open(log_dir / "gunicorn-minimal.log", "w")
        gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "bench.minimal_api:create_app()",
                                     "-k", "gthread", "--workers", "2", "--threads", "4",
                                     "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"],
                                    cwd=ROOT, env=env, stdout=minimal_log, stderr=subprocess.STDOUT)
        _wait_until_serving(port)
        minimal = _routes(port, headers, created, seconds, threads)
        return {"threads": threads, "seconds": seconds, "gunicorn": "2 workers x 4 threads", "routes": results,
                "minimal": minimal}
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        dbs.drop_all()


def _routes(port: int, headers: dict, schedule_id: str, seconds: float, threads: int) -> dict:
    """Each route under load, after one request of each has answered as it should (a floor that
    answers errors fast is no floor)."""
    routes = {"POST /v1/schedules": ("POST", "/v1/schedules", CREATE_BODY),
              "GET /v1/schedules/{id}": ("GET", f"/v1/schedules/{schedule_id}", None),
              "GET /v1/schedules": ("GET", "/v1/schedules?page_size=50", None)}
    for name, (method, path, body) in routes.items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        if response.status >= 400:
            raise RuntimeError(f"{name} answered {response.status} before the load: {payload[:300]!r}; "
                               "see bench/results/logs/")
    return {name: _load(port, method, path, headers, body, seconds, threads)
            for name, (method, path, body) in routes.items()}


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
