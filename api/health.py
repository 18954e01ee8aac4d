"""/healthz and /readyz: is the web process up, and is the service able to do its work.

/healthz touches neither PostgreSQL nor Redis, so a database outage never makes the platform restart
healthy web processes: it is the liveness check (render.yaml's healthCheckPath).

/readyz is 200 only when everything a schedule needs answers: PostgreSQL, Redis (when REDIS_URL is
set; without it the API leaves runs for the ticker to push) and a ticker, whose heartbeat must be
younger than core.model.ticker_alive_within(TICK_INTERVAL), the rule the tickers count each other
by. Otherwise it is a 503 whose `checks` name what failed. /readyz says which tz database the engine reads
(`tz_database`, core/engine/tzdb.py). Neither needs a token.
"""
from __future__ import annotations

import psycopg2
import redis
from flask import current_app

from api.base import Blueprint
from api.db import PoolTimeout, get_db
from api.schemas import HealthSchema, ReadySchema
from core import model
from core.engine import tzdb
from core.observe import health
from core.ops import db

blp = Blueprint("health", __name__, description="Liveness and readiness of the service")

OK = "ok"
STATEMENT_TIMEOUT_MS = 2000


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz():
    """Liveness: 200 while the process can answer."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, ReadySchema, description="PostgreSQL and Redis answer and a ticker is alive")
@blp.alt_response(503, schema=ReadySchema, description="Something the service needs does not answer: see checks")
def readyz():
    """Readiness: PostgreSQL, Redis and a live ticker (heartbeat younger than 3 x TICK_INTERVAL)."""
    postgres, ticker = _postgres_and_ticker()
    checks = {"postgres": postgres, "redis": _redis(), "ticker": ticker}
    ready = all(value == OK or value.startswith("not configured") for value in checks.values())
    database = tzdb.in_use()
    body = {"status": "ready" if ready else "not_ready", "checks": checks,
            "tz_database": {"version": database.version, "source": database.source}}
    return body, 200 if ready else 503, {"Cache-Control": "no-store"}


def _postgres_and_ticker() -> tuple[str, str]:
    settings = current_app.config["SETTINGS"]
    try:
        with db.service_transaction(get_db(), statement_timeout_ms=STATEMENT_TIMEOUT_MS) as cur:
            age = health.ticker_heartbeat_age(cur)
    except (psycopg2.Error, PoolTimeout) as error:
        return f"error: {_one_line(error)}", "unknown: PostgreSQL did not answer"
    limit = model.ticker_alive_within(settings.tick_interval)
    if age is None:
        return OK, f"no heartbeat in the last {limit:g} s (no ticker has one)"
    if age > limit:
        return OK, f"no heartbeat in the last {limit:g} s (the latest is {age:.0f} s old)"
    return OK, OK


def _redis() -> str:
    client = current_app.extensions.get("redis")
    if client is None:
        return "not configured (REDIS_URL is not set)"
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return f"error: {_one_line(error)}"
    return OK


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())}"[:300]
