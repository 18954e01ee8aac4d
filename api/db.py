"""PostgreSQL for the web process: a small connection pool, one connection per request on `g`.

A request takes a connection the first time it needs one and gives it back on teardown, rolled back
if anything was left open; a connection that broke (the server restarted) is closed, not reused.
Tenant data is only ever touched through `tenant()`, i.e. `core.db.tenant_transaction`, so
row-level security applies to every query the API makes.

The pool opens no connection until the first request, so a gunicorn master that builds the app
before forking shares no socket with its workers.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

import psycopg2.extensions
from flask import current_app, g

from core import db

logger = logging.getLogger(__name__)

_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE


class PoolTimeout(Exception):
    """Every connection stayed busy for the whole wait: the app answers 503."""


class ConnectionPool:
    def __init__(self, dsn: str, size: int, *, wait_seconds: float = 10.0):
        self._dsn = dsn
        self._wait = wait_seconds
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list = []
        self._lock = threading.Lock()

    def getconn(self):
        if not self._slots.acquire(timeout=self._wait):
            raise PoolTimeout(f"no database connection free after {self._wait:g}s")
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = db.connect(self._dsn, application_name="schedules-api")
            return conn
        except BaseException:
            self._slots.release()
            raise

    def putconn(self, conn) -> None:
        try:
            if not conn.closed and conn.info.transaction_status != _IDLE:
                conn.rollback()
            reusable = not conn.closed and conn.info.transaction_status == _IDLE
        except psycopg2.Error:
            reusable = False
        try:
            if reusable:
                with self._lock:
                    self._idle.append(conn)
            else:
                conn.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def get_db():
    if "db" not in g:
        g.db = current_app.extensions["db_pool"].getconn()
    return g.db


@contextmanager
def tenant():
    """One transaction as the authenticated tenant (g.account_id): commit on success, else roll back."""
    with db.tenant_transaction(get_db(), g.account_id) as cur:
        yield cur


def return_db(exc=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        current_app.extensions["db_pool"].putconn(conn)


def init_app(app, settings) -> None:
    app.extensions["db_pool"] = ConnectionPool(settings.database_url, settings.db_pool_size)
    app.teardown_appcontext(return_db)
