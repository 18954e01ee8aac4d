"""End to end: N schedules due at one instant, through `python -m ticker`, `python -m worker` (a
supervisor over 2 worker processes) and delivery to a real SMTP server on loopback (aiosmtpd, in this
process), counted at the SMTP server. Two tasks: the demo report, and one that waits 0.5 s on I/O
first. Beside them, plain RQ workers (fork per job, and SimpleWorker) and ours running N no-op jobs,
in the same run.

For each: runs (or jobs) per second from the due instant to the last delivery, p50/p99 from due to
delivered (to finished, for no-op jobs), and the peak RSS of all worker processes added up: for plain
RQ each process's peak as wait4 reports it (which for the fork-per-job worker covers its work horses);
for ours the peak of the sum over the supervisor and its children, sampled every 0.2 s. No figure is
printed before its counts are checked: every run succeeded, each (run, recipient) got exactly one
message, and the ledger says sent for each.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
from aiosmtpd.controller import Controller
from rq import Queue
from rq.registry import FinishedJobRegistry

from bench.common import BenchDatabases, due_instant, free_port, vacuum_and_close
from core.ops import db

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "bench-e2e"
NOOP_QUEUE = "bench-noop"
WORKERS = 2
LEAD_SECONDS = 10  # for the ticker and the workers to start and go idle before the schedules fall due
TASKS = "generate_report=core.runs.demo_tasks:generate_report,wait_io=bench.tasks:wait_io"
_RUN_ID = re.compile(rb"^X-Schedule-Run-ID: ([0-9a-f-]{36})", re.MULTILINE)


class CountingInbox:
    """The SMTP server's side: when each (run, recipient) arrived, and how many times."""

    def __init__(self):
        self.lock = threading.Lock()
        self.first: dict[tuple[str, str], float] = {}
        self.messages = 0
        self.duplicates = 0

    async def handle_DATA(self, server, session, envelope):
        at = time.time()
        match = _RUN_ID.search(envelope.content)
        run_id = match.group(1).decode() if match else "?"
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages += 1
                if (run_id, rcpt) in self.first:
                    self.duplicates += 1
                else:
                    self.first[(run_id, rcpt)] = at
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.first)


def start_mailbox() -> tuple[CountingInbox, Controller, int]:
    """A counting SMTP server on a free loopback port, started: (its inbox, the server, the port)."""
    inbox = CountingInbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    return inbox, smtp, port


def service_env(url: str, redis_url: str, smtp_port: int, queue: str, *, workers: int, concurrency: int) -> dict:
    """The environment of the `python -m ticker` and `python -m worker` a spike runs through."""
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "RQ_QUEUE": queue,
            "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "TASKS": TASKS, "UNSUBSCRIBE_SECRET": "u" * 32,
            "EMAIL_FROM": "Reports <reports@example.com>", "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
            "WORKER_CONCURRENCY": str(concurrency), "WORKER_PROCESSES": str(workers)}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _stop(procs) -> tuple[int, float]:
    """SIGTERM (a warm shutdown), then the peak RSS of all of them added up (KiB) and the CPU seconds
    they used (user + system)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    rss, cpu = 0, 0.0
    for proc in procs:
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            rss += usage.ru_maxrss
            cpu += usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            pass
    return rss, cpu


class TreeRss:
    """The peak of the resident memory of some processes and all their descendants, added up, sampled
    every 0.2 s from /proc (a worker supervisor's children are not its to wait for here)."""

    def __init__(self, pids):
        self.pids = list(pids)
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
        while not self._stop.wait(0.2):
            total, todo = 0, list(self.pids)
            while todo:
                pid = todo.pop()
                try:
                    with open(f"/proc/{pid}/statm") as statm:
                        total += int(statm.read().split()[1]) * page_kib
                    with open(f"/proc/{pid}/task/{pid}/children") as children:
                        todo += [int(child) for child in children.read().split()]
                except (OSError, ValueError):
                    continue
            self.peak_kib = max(self.peak_kib, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib


def _wait(predicate, timeout: float, procs, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            return False
        time.sleep(poll)
    return True


def _insert_due(url: str, n: int, task: str, due_in: float) -> float:
    """N weekly schedules (next occurrence a week later), one recipient each, all due at one instant."""
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (name, plan)"
                    " SELECT 'bench ' || i, 'unlimited' FROM generate_series(1, 100) i")
        cur.execute(
            """
            INSERT INTO schedules (account_id, account_seq, name, task, report_type, city, zip_codes, recipients,
                                   cadence, weekly_dow, send_hour, send_minute, next_run_at)
            SELECT a.ids[1 + i %% 100], 1 + i / 100, 'Weekly report ' || i, %(task)s, 'market_snapshot', 'San Diego',
                   ARRAY['92101', '92102'], ARRAY['client' || i || '@example.com'], 'weekly',
                   extract(dow FROM now())::int, 9, 0,
                   date_trunc('second', now()) + make_interval(secs => %(due_in)s)
              FROM generate_series(1, %(n)s) i, (SELECT array_agg(id) AS ids FROM accounts) a
            """, {"n": n, "task": task, "due_in": due_in})
        due_at = due_instant(cur)
    vacuum_and_close(conn, "schedules")
    return due_at


def _check_runs(url: str, n: int, inbox: CountingInbox) -> str | None:
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,"
                    " max(attempt) AS attempts FROM schedule_runs")
        runs = cur.fetchone()
        cur.execute("SELECT run_id::text, target FROM deliveries WHERE status = 'sent'")
        sent = {(row["run_id"], row["target"]) for row in cur.fetchall()}
    conn.close()
    problems = []
    if runs["runs"] != n or runs["succeeded"] != n:
        problems.append(f"{runs['succeeded']} of {runs['runs']} runs succeeded (expected {n})")
    if inbox.duplicates or inbox.messages != n:
        problems.append(f"{inbox.messages} messages for {inbox.count()} (run, recipient) pairs, "
                        f"{inbox.duplicates} duplicate(s)")
    if sent != set(inbox.first):
        problems.append(f"ledger says sent {len(sent)}, server got {inbox.count()} (they differ)")
    return "; ".join(problems) or None


def measure_ours(servers, dbs: BenchDatabases, n: int, task: str, log_dir: Path, *, concurrency: int,
                 timeout: float) -> dict:
    inbox, smtp, port = start_mailbox()
    _, url = dbs.create()
    redis.Redis.from_url(servers.redis_url).flushdb()
    due_at = _insert_due(url, n, task, LEAD_SECONDS)
    env = service_env(url, servers.redis_url, port, QUEUE, workers=WORKERS, concurrency=concurrency)
    log_dir.mkdir(parents=True, exist_ok=True)
    logs, procs = [], []

    def start(args, name):
        log = open(log_dir / f"e2e-{task}-{n}-{name}.log", "w")
        logs.append(log)
        return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)

    ticker = start(["ticker"], "ticker")
    workers = [start(["worker"], "worker")]
    procs = [ticker, *workers]
    memory = TreeRss(worker.pid for worker in workers)
    client = redis.Redis.from_url(servers.redis_url)
    try:
        if not _wait(lambda: client.scard("rq:workers") >= WORKERS, LEAD_SECONDS, procs):
            raise RuntimeError(f"the workers did not start within {LEAD_SECONDS}s; see {log_dir}")
        if time.time() >= due_at:
            raise RuntimeError(f"start-up took over {LEAD_SECONDS}s; raise LEAD_SECONDS")
        time.sleep(max(0.0, due_at - time.time()))
        finished = _wait(lambda: inbox.count() >= n, timeout, procs, poll=0.1)
        time.sleep(1.0)  # a late duplicate would arrive now
    finally:
        peak_kib = memory.stop()
        _, cpu = _stop(workers)
        _stop([ticker])
        client.close()
        smtp.stop()
        for log in logs:
            log.close()
    latencies = [at - due_at for at in inbox.first.values()]
    problem = None if finished else f"only {inbox.count()} of {n} delivered within {timeout:.0f}s"
    problem = "; ".join(p for p in (problem, _check_runs(url, n, inbox)) if p) or None
    dbs.drop(url)
    last = max(latencies) if latencies else float("nan")
    return {"n": n, "task": task, "concurrency": concurrency, "seconds": last, "runs_per_second": n / last,
            "p50_seconds": _percentile(latencies, 0.50), "p99_seconds": _percentile(latencies, 0.99),
            "peak_rss_mb": peak_kib / 1024, "worker_cpu_ms_per_run": cpu * 1000 / n, "problem": problem}


def measure_noop(servers, n: int, log_dir: Path, kind: str, *, concurrency: int = 50) -> dict:
    """N no-op jobs pushed at once to 2 idle workers of one kind: `fork` (`rq worker`), `simple`
    (`rq worker -w rq.worker.SimpleWorker`) or `ours` (`python -m worker`: a supervisor over 2)."""
    client = redis.Redis.from_url(servers.redis_url)
    client.flushdb()
    if kind == "ours":
        args = [sys.executable, "-m", "worker"]
    else:
        args = [sys.executable, "-m", "rq.cli", "worker", "--url", servers.redis_url, NOOP_QUEUE]
        if kind == "simple":
            args += ["-w", "rq.worker.SimpleWorker"]
    env = {**os.environ, "REDIS_URL": servers.redis_url, "RQ_QUEUE": NOOP_QUEUE, "PYTHONPATH": str(ROOT),
           "DATABASE_URL": os.environ.get("DATABASE_URL") or "postgresql://unused/unused",
           "TASKS": TASKS, "WORKER_CONCURRENCY": str(concurrency), "WORKER_PROCESSES": str(WORKERS)}
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = [open(log_dir / f"e2e-noop-{kind}-{i}.log", "w") for i in range(1 if kind == "ours" else WORKERS)]
    procs = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    memory = TreeRss(proc.pid for proc in procs) if kind == "ours" else None
    queue = Queue(NOOP_QUEUE, connection=client)
    try:
        if not _wait(lambda: client.scard("rq:workers") >= WORKERS, 30, procs):
            raise RuntimeError(f"the {kind} workers did not start; see {log_dir}")
        start = time.time()
        ids = []
        for chunk in range(0, n, 1000):
            with client.pipeline() as pipe:
                jobs = queue.enqueue_many([Queue.prepare_data("bench.tasks.noop", job_id=f"noop-{i}")
                                           for i in range(chunk, min(n, chunk + 1000))], pipeline=pipe)
                pipe.execute()
            ids += [job.id for job in jobs]
        registry = FinishedJobRegistry(NOOP_QUEUE, connection=client)
        finished = _wait(lambda: registry.count >= n, 600, procs, poll=0.1)
    finally:
        sampled = memory.stop() if memory else None
        peak_kib, cpu = _stop(procs)
        peak_kib = sampled if sampled is not None else peak_kib
        for log in logs:
            log.close()
    with client.pipeline() as pipe:
        for job_id in ids:
            pipe.hget(f"rq:job:{job_id}", "ended_at")
        ended = pipe.execute()
    from rq.utils import utcparse
    latencies = [utcparse(e.decode()).timestamp() - start for e in ended if e]
    problem = None if finished and len(latencies) == n else f"{len(latencies)} of {n} jobs finished"
    last = max(latencies) if latencies else float("nan")
    return {"n": n, "kind": kind, "seconds": last, "runs_per_second": n / last,
            "p50_seconds": _percentile(latencies, 0.50), "p99_seconds": _percentile(latencies, 0.99),
            "peak_rss_mb": peak_kib / 1024, "worker_cpu_ms_per_run": cpu * 1000 / n, "problem": problem}


def measure(servers, log_dir: Path, *, quick: bool = False) -> dict:
    dbs = BenchDatabases(servers.pg_admin_url)
    n_demo, n_io, n_noop = (2_000, 1_000, 2_000) if quick else (10_000, 5_000, 10_000)
    # The fork-per-job floor runs 2,000 jobs (500 with --quick): its rate does not depend on N, and at
    # its pace 10,000 would add minutes to every run of the benchmark.
    n_fork = n_noop // 5 if quick else 2_000
    try:
        return {
            "demo": measure_ours(servers, dbs, n_demo, "generate_report", log_dir, concurrency=50, timeout=300),
            "wait_io": measure_ours(servers, dbs, n_io, "wait_io", log_dir, concurrency=50, timeout=120),
            "noop": {kind: measure_noop(servers, n_fork if kind == "fork" else n_noop, log_dir, kind)
                     for kind in ("fork", "simple", "ours")},
        }
    finally:
        dbs.drop_all()


def report(r: dict) -> None:
    print(f"{'what':<46}{'N':>7}{'runs/s':>9}{'p50 s':>8}{'p99 s':>8}{'all in s':>9}{'peak RSS':>10}"
          f"{'CPU/run':>9}   check")
    for key, label in (("demo", "ours, demo task"), ("wait_io", "ours, task waiting 0.5 s")):
        row = r[key]
        label = f"{label} ({WORKERS} processes x {row['concurrency']})"
        print(f"{label:<46}{row['n']:>7,}"
              f"{row['runs_per_second']:>9,.0f}{row['p50_seconds']:>8.1f}{row['p99_seconds']:>8.1f}"
              f"{row['seconds']:>9.1f}{row['peak_rss_mb']:>8.0f}MB{row['worker_cpu_ms_per_run']:>7.2f}ms"
              f"   {row['problem'] or 'ok'}")
    names = {"fork": "rq worker x2 (fork per job), no-op jobs", "simple": "rq SimpleWorker x2, no-op jobs",
             "ours": "ours, 2 processes, no-op jobs"}
    for kind, row in r["noop"].items():
        print(f"{names[kind]:<46}{row['n']:>7,}{row['runs_per_second']:>9,.0f}{row['p50_seconds']:>8.1f}"
              f"{row['p99_seconds']:>8.1f}{row['seconds']:>9.1f}{row['peak_rss_mb']:>8.0f}MB"
              f"{row['worker_cpu_ms_per_run']:>7.2f}ms   {row['problem'] or 'ok'}")
    demo, fork, simple = r["demo"]["runs_per_second"], r["noop"]["fork"]["runs_per_second"], \
        r["noop"]["simple"]["runs_per_second"]
    print(f"ratios (same run): demo delivered / fork no-op floor {demo / fork:.1f}x, "
          f"/ SimpleWorker no-op floor {demo / simple:.2f}x")
    print("CPU/run: CPU time of the worker processes (and their work horses) per run, whatever else ran")
    print("targets: demo >= 400 runs/s and p99 <= 30 s; 0.5 s task: all in <= 60 s, RSS of all workers < 1 GB")
