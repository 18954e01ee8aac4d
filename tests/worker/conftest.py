"""Fixtures for the worker: settings pointing at this test's database, Redis and outbox, a real SMTP
server on loopback (aiosmtpd), and helpers to make schedules and runs."""
import socket
import uuid

import pytest
from aiosmtpd.controller import Controller

from core.ops import db
from core.ops.settings import load_settings
from core.runs.tasks import TaskRegistry

TASKS = ("generate_report=core.runs.demo_tasks:generate_report,echo=tests.worker.sample_tasks:echo,"
         "boom=tests.worker.sample_tasks:boom,not_json=tests.worker.sample_tasks:not_json,"
         "counted=tests.worker.sample_tasks:counted,slow=tests.worker.sample_tasks:slow,"
         "spin=tests.worker.sample_tasks:spin,hang=tests.worker.sample_tasks:hang,"
         "exit_process=tests.worker.sample_tasks:exit_process,segfault=tests.worker.sample_tasks:segfault,"
         "leak=tests.worker.sample_tasks:leak,news=tests.worker.sample_tasks:news,"
         "lease_left=tests.worker.sample_tasks:lease_left")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """A real SMTP server's mailbox; `refuse` makes it answer DATA with that reply instead, `refuse_to`
    ({address: reply}) only for messages to that address."""

    def __init__(self):
        self.messages = []
        self.refuse: str | None = None
        self.refuse_to: dict[str, str] = {}

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        for address in envelope.rcpt_tos:
            if address in self.refuse_to:
                return self.refuse_to[address]
        self.messages.append(envelope)
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a fixed loopback port, that a test can stop (the mail server is down) and start again."""

    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.controller = None

    @property
    def messages(self):
        return self.inbox.messages

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(database_url, redis_url, tmp_path):
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TASKS": TASKS,
            "UNSUBSCRIBE_SECRET": "u" * 32, "JWT_SECRET": "j" * 32, "OUTBOX_DIR": str(tmp_path / "outbox"),
            "PUBLIC_BASE_URL": "https://schedules.example.com", "RQ_QUEUE": "schedules-test",
            "WORKER_MAX_ATTEMPTS": "3"}


@pytest.fixture
def settings(worker_env):
    return load_settings(worker_env)


@pytest.fixture
def registry(settings):
    return TaskRegistry(settings.tasks)


def make_schedule(conn, account_id, **fields) -> uuid.UUID:
    values = {"name": "Weekly Market Snapshot", "report_type": "market_snapshot", "city": "San Diego",
              "zip_codes": ["92101"], "cadence": "weekly", "weekly_dow": 1,
              "recipients": ["client@example.com"], "task": "echo", **fields}
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({name})s" for name in values)
    with db.service_transaction(conn) as cur:
        cur.execute(f"INSERT INTO schedules (account_id, {columns}) VALUES (%(account_id)s, {placeholders})"
                    " RETURNING id", {"account_id": account_id, **values})
        return cur.fetchone()["id"]


def make_run(conn, schedule_id, status="queued") -> str:
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for)"
                    " VALUES (%s, %s, 'manual', now()) RETURNING id::text", (schedule_id, status))
        return cur.fetchone()["id"]


def fetch(conn, sql, *params):
    with db.service_transaction(conn) as cur:
        cur.execute(sql, params)
        return cur.fetchall()
