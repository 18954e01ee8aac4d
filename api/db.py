"""PostgreSQL for the web process: a small connection pool, one connection per request on `g`.

A request takes a connection the first time it needs one and gives it back on teardown, rolled back
if anything was left open; a connection that broke (the server restarted) is closed, not reused.
Tenant data is only ever touched through `tenant()`, i.e. `core.ops.db.tenant_transaction`, so
row-level security applies to every query the API makes.

The pool opens no connection until the first request, so a gunicorn master that builds the app
before forking shares no socket with its workers.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import current_app, g

from core.ops import db
from core.ops.db import ConnectionPool, PoolTimeout  # noqa: F401 (PoolTimeout: the app answers 503)

logger = logging.getLogger(__name__)


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
    app.extensions["db_pool"] = ConnectionPool(settings.database_url, settings.db_pool_size,
                                                 application_name="schedules-api", plans="custom")
    app.teardown_appcontext(return_db)
