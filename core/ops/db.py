"""PostgreSQL access shared by every process: connecting, and transactions as a tenant or as the service.

Rows come back as dicts (Cursor) and UUID columns as `uuid.UUID`. A named query (core.ops.sql's
`Query`) runs as a prepared statement of its connection, made on its first use there. The API runs
every request in `tenant_transaction`, which drops to the `app_tenant` role (no BYPASSRLS, not the
tables' owner) and sets `app.current_account_id`, so row-level security confines it to one tenant
whatever the query says.
The ticker and the worker use `service_transaction` and see every tenant.
"""
from __future__ import annotations

import queue
import uuid
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Iterator

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from core.ops.freelist import FreeList
from core.ops.sql import queries

psycopg2.extras.register_uuid()

_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE

# Errors that mean "the server or the network went away": callers wait and retry on these.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class Connection(psycopg2.extensions.connection):
    """A psycopg2 connection that remembers the named queries it has prepared: {name: the EXECUTE
    statement that runs it}. A prepared statement lives as long as its session, whatever happens to
    the transaction that made it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prepared: dict[str, str] = {}


class Cursor(psycopg2.extensions.cursor):
    """Dict rows; a named query given its parameters by name runs as its prepared statement.

    Rows are plain dicts made from psycopg2's tuples with the column names (zip): psycopg2's own
    RealDictCursor fills each row one column at a time through a Python __setitem__, which took three
    times as long as the query itself for a page of 100 schedules.

    PostgreSQL then parses and plans the statement once per connection, not on every call (after five
    runs it keeps a generic plan when that costs no more than planning each time). Each argument of the
    EXECUTE is cast to the type PostgreSQL gave its parameter, as the query's own text did (a Python
    list of ids is a text[] to psycopg2; EXECUTE would not turn it into a uuid[] by itself). Anything
    else, and every query on a connection that is not a `Connection`, runs as psycopg2 runs it.
    """

    def execute(self, query, vars=None):
        prepared = getattr(self.connection, "prepared", None)
        if getattr(query, "prepare", None) is None or prepared is None \
                or not (isinstance(vars, Mapping) or (vars is None and not query.params)):
            return super().execute(query, vars)
        execute = prepared.get(query.name)
        if execute is None:
            execute = prepared[query.name] = self._prepare(query)
        return super().execute(execute, [vars[name] for name in query.params] if query.params else None)

    def _columns(self) -> list[str]:
        description = self.description
        if self._described is not description:
            self._described, self._names = description, [column.name for column in description]
        return self._names

    _described = None
    _names: list[str] = []

    def fetchone(self):
        row = super().fetchone()
        return None if row is None else dict(zip(self._columns(), row))

    def fetchmany(self, size=None):
        rows = super().fetchmany(self.arraysize if size is None else size)
        names = self._columns() if rows else None
        return [dict(zip(names, row)) for row in rows]

    def fetchall(self):
        rows = super().fetchall()
        names = self._columns() if rows else None
        return [dict(zip(names, row)) for row in rows]

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row

    def _prepare(self, query) -> str:
        super().execute(query.prepare)
        super().execute(queries["prepared_parameter_types"], {"statement": query.statement})
        types = self.fetchone()["types"]
        if not types:
            return f"EXECUTE {query.statement}"
        return f"EXECUTE {query.statement}({', '.join(f'%s::{t}' for t in types)})"


def tuple_cursor(cur):
    """A cursor of plain tuples in `cur`'s transaction, for the ticker's batch statements: their
    statements run as psycopg2 runs them (not as `Cursor`'s prepared statements, whose generic plans
    they have not been measured with) and their rows are read as tuples (ids) or zipped with the
    column names once (claim_due)."""
    return cur.connection.cursor(cursor_factory=psycopg2.extensions.cursor)


def connect(dsn: str, *, application_name: str = "schedules", autocommit: bool = False,
            connect_timeout: int = 5) -> psycopg2.extensions.connection:
    """A new connection with dict rows, TCP keepalives (to notice a dead server) and a name in pg_stat_activity."""
    conn = psycopg2.connect(
        dsn,
        application_name=application_name,
        connect_timeout=connect_timeout,
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
        connection_factory=Connection,
        cursor_factory=Cursor,
    )
    conn.autocommit = autocommit
    return conn


@contextmanager
def tenant_transaction(conn, account_id) -> Iterator[psycopg2.extensions.cursor]:
    """One transaction as tenant `account_id`: commits on success, rolls back on any exception.

    `SET LOCAL` scopes both the role and the tenant to this transaction, so a pooled connection never
    carries one request's tenant into the next.
    """
    tenant = str(uuid.UUID(str(account_id)))  # refuses anything that is not a UUID before it reaches SQL
    with conn:
        with conn.cursor() as cur:
            cur.execute(queries["become_tenant"], {"account_id": tenant})
            yield cur


@contextmanager
def service_transaction(conn, *, statement_timeout_ms: int | None = None) -> Iterator[psycopg2.extensions.cursor]:
    """One transaction as the service (the ticker, the worker): every tenant's rows are visible.

    With `statement_timeout_ms`, PostgreSQL cancels any of its statements that runs longer (a check
    such as /readyz or a /metrics scrape must answer even when the database is slow).
    """
    with conn:
        with conn.cursor() as cur:
            if statement_timeout_ms is not None:
                cur.execute(queries["set_statement_timeout"], {"milliseconds": int(statement_timeout_ms)})
            yield cur


@contextmanager
def service_statements(conn) -> Iterator[psycopg2.extensions.cursor]:
    """Statements as the service, each its own transaction: for a step that is one statement, without
    the BEGIN and COMMIT round trips a transaction block costs."""
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        if not conn.closed:
            conn.autocommit = False


@contextmanager
def atomically(cur) -> Iterator[None]:
    """The statements run on `cur` inside this block are one transaction: `cur`'s own when it is in
    one (service_transaction), else one made for the block (a cursor of service_statements)."""
    conn = cur.connection
    if not conn.autocommit:
        yield
        return
    conn.autocommit = False
    try:
        with conn:
            yield
    finally:
        conn.autocommit = True


def listen_for_schedule_changes(conn) -> None:
    """Have `conn` (autocommit) receive a notification, in `conn.notifies`, whenever the triggers say
    schedules changed: the ticker's wake-up when a schedule is created or becomes due sooner."""
    with conn.cursor() as cur:
        cur.execute(queries["listen_for_schedule_changes"])


def answers(pool) -> bool:
    """Whether the server answers a query on a connection of `pool` (False when it is unreachable)."""
    try:
        with pool.connection() as conn, service_statements(conn) as cur:
            cur.execute(queries["ping"])
        return True
    except CONNECTION_ERRORS:
        return False


class PoolTimeout(Exception):
    """Every connection stayed busy for the whole wait (the API answers 503)."""


# ConnectionPool's `plans`: the session settings its connections start with (core/ops/db.sql).
_PLAN_SETTINGS = {None: None, "generic": "keep_generic_plans", "custom": "plan_every_run"}


class ConnectionPool:
    """A process-wide pool of at most `size` connections, shared by threads (the web app's requests,
    the worker's runs in flight). A caller waits up to `wait_seconds` for a free one; a connection
    given back inside a transaction is rolled back, and a broken one (the server restarted) is
    closed, not reused. Opens nothing until first used, so a process that forks after building it
    shares no socket with its children.

    `plans="generic"`: its connections keep one plan per prepared statement from the first run on,
    instead of planning the first five runs anew and then only the statements whose generic plan
    looks dearer (PostgreSQL's default). For a pool whose every statement finds rows by id (the
    worker's), a generic plan is as good as a custom one, and planning was a tenth of each run's
    database time.

    `plans="custom"`: the opposite, a plan for each run's parameters: for a pool whose statements are
    the API's, whose optional filters (`%(x)s IS NULL OR column = %(x)s`) a generic plan cannot
    leave out, so it reads a big account's rows instead of its index range (at 10,000 schedules in
    one account: a page's count 16 ms generic, 3.9 ms custom; the list 10.3 ms, 3.4 ms)."""

    def __init__(self, dsn: str, size: int, *, wait_seconds: float = 10.0, application_name: str = "schedules",
                 plans: str | None = None):
        self._dsn = dsn
        self._plan_settings = _PLAN_SETTINGS[plans]
        self._wait = wait_seconds
        self._name = application_name
        self._free: FreeList = FreeList([None] * size)  # a connection, or None: a slot not yet connected

    def getconn(self):
        try:
            conn = self._free.take(timeout=self._wait)
        except queue.Empty:
            raise PoolTimeout(f"no database connection free after {self._wait:g}s") from None
        try:
            if conn is None or conn.closed:
                conn = connect(self._dsn, application_name=self._name)
                if self._plan_settings is not None:
                    with conn.cursor() as cur:
                        cur.execute(queries[self._plan_settings])
                    conn.commit()
            return conn
        except BaseException:
            self._free.give_back(None)
            raise

    def putconn(self, conn) -> None:
        try:
            if not conn.closed and conn.info.transaction_status != _IDLE:
                conn.rollback()
            reusable = not conn.closed and conn.info.transaction_status == _IDLE
        except psycopg2.Error:
            reusable = False
        try:
            if not reusable:
                conn.close()
        finally:
            self._free.give_back(conn if reusable else None)

    @contextmanager
    def connection(self):
        """A connection for the block, given back after it (closed if it broke)."""
        conn = self.getconn()
        try:
            yield conn
        except CONNECTION_ERRORS:
            conn.close()
            raise
        finally:
            self.putconn(conn)

    def close(self) -> None:
        idle = self._free.take_all_free()
        for conn in idle:
            if conn is not None:
                conn.close()
            self._free.give_back(None)
