"""Real processes for the acceptance tests: `python -m worker` (a supervisor and its child processes),
their environment, a PostgreSQL that can be made unreachable, and the invariants checked afterwards."""
from __future__ import annotations

import collections
import email
import email.policy
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from core import model
from tests.ticker.conftest import fetch
from tests.worker.conftest import TASKS

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = ["a@example.com", "b@example.com", "c@example.com"]


def process_env(database_url, redis_url, smtp_url, tmp_path, **settings) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "TEST_", "TICK_", "LOG_", "RQ_", "SMTP_", "WORKER_",
                                "JOB_", "RUN_LEASE"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SMTP_URL": smtp_url, "TASKS": TASKS,
                "TICK_INTERVAL": "1", "RUN_LEASE_SECONDS": "3",
                "WORKER_MAX_ATTEMPTS": "6", "WORKER_CONCURRENCY": "4", "UNSUBSCRIBE_SECRET": "u" * 32,
                "EMAIL_FROM": "r@example.com",
                "OUTBOX_DIR": str(tmp_path / "outbox"), "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1"})
    env.update({name: str(value) for name, value in settings.items()})
    return env


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


def cpu_seconds(pids) -> float:
    """User + system CPU the processes have used (Linux /proc; processes that ended count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class Workers:
    """`python -m worker` supervisors, each in a session of its own with its child processes."""

    def __init__(self, env, tmp_path):
        self.env, self.tmp_path = env, tmp_path
        self.procs: list[subprocess.Popen] = []
        self.logs = []

    def start(self) -> subprocess.Popen:
        log = open(self.tmp_path / f"worker-{len(self.logs)}.log", "wb")
        self.logs.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def children(self, proc=None) -> list[int]:
        return [pid for p in ([proc] if proc else self.alive()) for pid in children_of(p.pid)]

    def names(self, pids) -> list[str]:
        """The worker names of processes (what a run's `worker` column says of the process holding it)."""
        return [f"{socket.gethostname()}.{pid}" for pid in pids]

    def kill(self, proc) -> None:
        """The whole worker, supervisor and children, with SIGKILL: a machine lost."""
        pids = self.children(proc)
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()

    def output(self) -> str:
        return "".join((self.tmp_path / f"worker-{i}.log").read_text(errors="replace") for i in range(len(self.logs)))

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)
        for log in self.logs:
            log.close()


def make_due_schedules(conn, account_id, count: int, task_parameters='{"sleep": 0.04}', *, task="slow",
                       name="Report", recipients=RECIPIENTS) -> None:
    """`count` schedules due now, 3 recipients each, whose next occurrence is 12 hours away."""
    fetch(conn, """
        INSERT INTO schedules (account_id, name, task, task_parameters, cadence, send_hour, send_minute,
                               recipients, next_run_at)
        SELECT %(account_id)s, %(name)s || ' ' || i, %(task)s, %(params)s, 'daily',
               (extract(hour FROM now() AT TIME ZONE 'UTC')::int + 12) %% 24, i %% 60,
               %(recipients)s, now() - interval '1 second'
          FROM generate_series(1, %(count)s) AS i
    """, {"account_id": account_id, "count": count, "params": task_parameters, "recipients": recipients,
          "task": task, "name": name})


def received(smtp) -> dict[tuple[str, str], list[str]]:
    """{(run id, recipient): the Message-IDs of every copy the SMTP server got}."""
    copies = collections.defaultdict(list)
    for envelope in list(smtp.messages):
        message = email.message_from_bytes(envelope.content, policy=email.policy.compat32)
        for rcpt in envelope.rcpt_tos:
            copies[(message["X-Schedule-Run-ID"], rcpt)].append(message["Message-ID"])
    return copies


def all_final(conn) -> bool:
    row = fetch(conn, "SELECT count(*) FILTER (WHERE status <> ALL(%s)) AS open FROM schedule_runs",
                (list(model.FINAL),))[0]
    return row["open"] == 0


def check_delivered(conn, smtp, expected_runs: int, recipients=RECIPIENTS) -> dict:
    """The invariants after the dust settles; returns the figures for the report.

    Every run is final; every recipient of a succeeded run got its message; a second copy exists only
    where the ledger says the first send's outcome was unknown (the sender died before recording it),
    and carries the same Message-ID; the ledger never says `sent` of a message that did not arrive."""
    runs = fetch(conn, "SELECT id::text, status, attempt, error FROM schedule_runs")
    assert len(runs) == expected_runs
    assert {r["status"] for r in runs} <= set(model.FINAL), collections.Counter(r["status"] for r in runs)
    copies = received(smtp)
    assert {key: ids for key, ids in copies.items() if len(set(ids)) > 1} == {}  # one identity per message
    unknown = {(row["run_id"], row["target"]) for row in fetch(
        conn, "SELECT run_id::text, target FROM deliveries WHERE unknown_outcomes > 0")}
    duplicates = {key for key, ids in copies.items() if len(ids) > 1}
    assert duplicates <= unknown, duplicates - unknown
    succeeded = [r["id"] for r in runs if r["status"] == "succeeded"]
    missing = [(run_id, rcpt) for run_id in succeeded for rcpt in recipients if not copies.get((run_id, rcpt))]
    assert missing == []
    sent = fetch(conn, "SELECT run_id::text, target FROM deliveries WHERE status = 'sent'")
    assert all(copies.get((row["run_id"], row["target"])) for row in sent)  # the ledger never lies "sent"
    return {"runs": len(runs), "statuses": dict(collections.Counter(r["status"] for r in runs)),
            "messages": sum(len(ids) for ids in copies.values()), "resent_same_id": len(duplicates),
            "unknown_outcomes": len(unknown), "max_attempt": max(r["attempt"] for r in runs)}


class PostgresProxy:
    """A TCP proxy on loopback in front of the test's PostgreSQL: `outage(seconds)` drops every
    connection and refuses new ones for that long, as a server restart does to its clients."""

    def __init__(self, upstream_url: str):
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(upstream_url)
        host = parts.hostname or parse_qs(parts.query).get("host", [""])[0]
        port = parts.port or 5432
        self.upstream = (("unix", f"{host}/.s.PGSQL.{port}") if host.startswith("/") else ("tcp", (host, port)))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        user = parts.username or "postgres"
        self.url = f"postgresql://{user}@127.0.0.1:{self.port}{parts.path}"
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        kind, address = self.upstream
        sock = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET)
        sock.connect(address)
        return sock

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                client.close()  # the server is "restarting": connection refused, as far as a client can tell
                continue
            try:
                server = self._connect_upstream()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        try:
            while True:
                ready, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in peers:
                try:
                    sock.close()
                except OSError:
                    pass

    def outage(self, seconds: float) -> None:
        """Drop every connection now and refuse new ones for `seconds`."""
        self._down_until = time.monotonic() + seconds
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.outage(0)
