"""The floor the API's throughput is compared with: a minimal Flask + psycopg2 app serving the same three
routes with the same SQL (core's queries, the statements the API runs for these requests, in the same
tenant transactions, through a plain psycopg2 pool) and nothing else: no schema validation, no OpenAPI
layer, no idempotency, no metrics, no request buffering. A create runs the statements the API's create
runs for a body without channels or an Idempotency-Key: the insert, its history row, the read back, and
the look-up of schedules doing the same work (its first five rows read, as the API's duplicate check
usually stops at five warnings), without working out which of them share occurrences. Run by
bench/api_load.py under gunicorn with the same workers and threads (gthread), in the same run. Never
part of the service.

    gunicorn 'bench.minimal_api:create_app()' -k gthread --workers 2 --threads 4
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, request
from psycopg2.extras import Json
from psycopg2.pool import ThreadedConnectionPool

from core.tenants.access_tokens import account_from_access_token
from core.ops import db
from core.ops.sql import queries
from core.schedule.schedules import CLIENT_FIELDS, LATER_FIELD_DEFAULTS, SAME_WORK_CANDIDATES, first_dispatch

DEFAULTS = {"description": None, "task": "generate_report", "task_parameters": {}, "zip_codes": [],
            "lookback_days": 7, "filters": {}, "include_attachment": False, "monthly_dom": None,
            "cron_expression": None, "interval_seconds": None, "timezone": "UTC", "start_at": None,
            "end_at": None, "misfire_grace_seconds": 3600, "tags": [], "overlap_policy": "skip",
            "report_type": None, "city": None, "weekly_dow": None, "send_hour": 9, "send_minute": 0,
            **LATER_FIELD_DEFAULTS}


def create_app() -> Flask:
    app = Flask(__name__)
    secret = os.environ["JWT_SECRET"]
    pool = app.extensions["pool"] = ThreadedConnectionPool(1, 8, os.environ["DATABASE_URL"],
                                                           connection_factory=db.Connection, cursor_factory=db.Cursor)

    def dumps(value) -> str:
        return json.dumps(value, default=str)

    def answer(body, status=200) -> Response:
        return Response(dumps(body), status=status, mimetype="application/json")

    def in_tenant(work):
        account_id = account_from_access_token(secret, request.headers["Authorization"].split()[1])
        conn = pool.getconn()
        try:
            with db.tenant_transaction(conn, account_id) as cur:
                return work(cur, account_id)
        finally:
            pool.putconn(conn)

    @app.get("/healthz")
    def healthz():
        return answer({"status": "ok"})

    @app.get("/v1/schedules")
    def list_schedules():
        def work(cur, account_id):
            # What the API's list runs for a first page without filters: the page, its schedules'
            # channels, and the total from the account's maintained counts.
            params = {"account_id": account_id, "active_only": True, "cadence": None, "task": None, "tag": None,
                      "active": None, "state": None, "name_pattern": None, "name_few": False,
                      "limit": int(request.args.get("page_size", 50)), "offset": 0,
                      "after_created_at": None, "after_id": None}
            cur.execute(queries["list_schedules"], params)
            rows = cur.fetchall()
            cur.execute(queries["list_schedule_channels"],
                        {"account_id": account_id, "schedule_ids": [str(row["id"]) for row in rows]})
            for row, channels in zip(rows, _by_schedule(rows, cur.fetchall())):
                row["channels"] = channels
            cur.execute(queries["schedule_counts_by_cadence"], {"account_id": account_id})
            total = sum(row["enabled"] for row in cur.fetchall())
            return answer({"schedules": rows, "total": total})
        return in_tenant(work)

    @app.get("/v1/schedules/<uuid:schedule_id>")
    def get_schedule(schedule_id):
        def work(cur, account_id):
            cur.execute(queries["get_schedule"], {"id": schedule_id, "account_id": account_id})
            return answer(cur.fetchone())
        return in_tenant(work)

    @app.post("/v1/schedules")
    def create_schedule():
        values = {**DEFAULTS, **request.get_json()}

        def work(cur, account_id):
            now = datetime.now(timezone.utc)
            schedule_id = uuid.uuid4()
            occurrence, next_run = first_dispatch({**values, "created_at": now, "id": schedule_id}, now)
            params = {name: values.get(name) for name in CLIENT_FIELDS}
            params.update(task_parameters=Json(values["task_parameters"]), filters=Json(values["filters"]),
                          account_id=account_id, id=schedule_id, next_run_at=next_run, next_occurrence_at=None,
                          now=now)
            cur.execute(queries["insert_schedule"], params)
            written = cur.fetchone()
            cur.execute(queries["insert_schedule_change"], {
                "schedule_id": schedule_id, "account_id": account_id, "version": written["version"],
                "action": "create", "actor": "api", "now": now, "note": None,
                "changes": Json({name: {"old": None, "new": values.get(name)} for name in CLIENT_FIELDS}, dumps=dumps)})
            cur.execute(queries["get_schedule"], {"id": schedule_id, "account_id": account_id})
            row = cur.fetchone()
            cur.execute(queries["find_same_work_schedules"], {**params, "limit": SAME_WORK_CANDIDATES})
            row["same_work"] = [other["id"] for other in cur.fetchmany(5)]
            return answer(row, 201)
        return in_tenant(work)

    return app


def _by_schedule(rows: list[dict], channels: list[dict]) -> list[list[dict]]:
    """Each row's channels, in the rows' order."""
    found: dict[str, list[dict]] = {}
    for channel in channels:
        found.setdefault(str(channel["schedule_id"]), []).append(channel)
    return [found.get(str(row["id"]), []) for row in rows]
