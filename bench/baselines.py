"""Two tickers to compare ours with, measured in the same run on the same data.

`seed_ticker` is the user's current design (seed 000), run back to back without sleeping: select 100
due, then per row: compute the next run with croniter, enqueue, insert the audit row, update the
schedule, commit. `batched_ticker` is the straightforward batched version: one claim statement per
batch, croniter per row, one multi-row INSERT, one UPDATE, one pipelined `enqueue_many`.
Both use croniter the obvious way, `croniter(expr, aware_local_now).get_next(datetime)`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import redis
from croniter import croniter
from psycopg2.extras import execute_values
from rq import Queue

from core.ops import db
from worker import entry_points

COLUMNS = ("id, account_id, name, report_type, city, zip_codes, lookback_days, cadence, weekly_dow, monthly_dom,"
           " send_hour, send_minute, cron_expression, interval_seconds, timezone, recipients, include_attachment")


def cron_for(row) -> str:
    m, h = row["send_minute"], row["send_hour"]
    return {
        "hourly": f"{m} * * * *",
        "daily": f"{m} {h} * * *",
        "weekly": f"{m} {h} * * {row['weekly_dow']}",
        "monthly": f"{m} {h} {row['monthly_dom']} * *",
        "cron": row["cron_expression"],
    }[row["cadence"]]


def croniter_next(row, now: datetime) -> datetime:
    if row["cadence"] == "interval":
        return now + timedelta(seconds=row["interval_seconds"])
    local = now.astimezone(ZoneInfo(row["timezone"]))
    return croniter(cron_for(row), local).get_next(datetime).astimezone(timezone.utc)


def params_for(row) -> dict:
    return {"report_type": row["report_type"], "city": row["city"], "zips": row["zip_codes"] or [],
            "lookback_days": row["lookback_days"], "filters": {}, "schedule_id": str(row["id"])}


def seed_ticker(database_url: str, redis_url: str, queue_name: str) -> int:
    """Seed 000's loop, repeated until nothing is due; returns the runs dispatched."""
    conn = db.connect(database_url, application_name="bench-seed")
    queue = Queue(queue_name, connection=redis.Redis.from_url(redis_url))
    dispatched = 0
    while True:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM schedules WHERE active = true"
                        " AND (next_run_at IS NULL OR next_run_at <= NOW())"
                        " ORDER BY COALESCE(next_run_at, '1970-01-01') ASC LIMIT 100")
            rows = cur.fetchall()
        conn.commit()
        if not rows:
            break
        for row in rows:
            with conn.cursor() as cur:
                next_run = croniter_next(row, datetime.now(timezone.utc))
                job = queue.enqueue(entry_points.RUN, str(row["account_id"]), params_for(row))
                cur.execute("INSERT INTO schedule_runs (schedule_id, account_id, status, scheduled_for, job_id,"
                            " created_at) VALUES (%s, %s, 'queued', NOW(), %s, NOW()) RETURNING id",
                            (row["id"], row["account_id"], job.id))
                cur.execute("UPDATE schedules SET last_run_at = NOW(), next_run_at = %s WHERE id = %s",
                            (next_run, row["id"]))
            conn.commit()
            dispatched += 1
    conn.close()
    return dispatched


def batched_ticker(database_url: str, redis_url: str, queue_name: str, batch_size: int = 500) -> int:
    """One claim, one INSERT, one UPDATE and one pipeline per batch; croniter per row."""
    conn = db.connect(database_url, application_name="bench-batched")
    redis_conn = redis.Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=redis_conn)
    dispatched = 0
    while True:
        now = datetime.now(timezone.utc)
        with conn.cursor() as cur:
            cur.execute(f"SELECT {COLUMNS}, next_run_at FROM schedules WHERE id IN ("
                        " SELECT id FROM schedules WHERE active AND next_run_at <= now()"
                        " ORDER BY next_run_at LIMIT %s FOR UPDATE SKIP LOCKED)", (batch_size,))
            rows = cur.fetchall()
            if not rows:
                conn.commit()
                break
            nexts = [croniter_next(row, now) for row in rows]
            runs = execute_values(
                cur, "INSERT INTO schedule_runs (schedule_id, account_id, status, scheduled_for) VALUES %s RETURNING id",
                [(row["id"], row["account_id"], "queued", row["next_run_at"]) for row in rows], fetch=True)
            execute_values(
                cur, "UPDATE schedules SET last_run_at = now(), next_run_at = v.next FROM (VALUES %s) AS v(id, next)"
                     " WHERE schedules.id = v.id",
                [(row["id"], nxt) for row, nxt in zip(rows, nexts)], template="(%s::uuid, %s::timestamptz)")
        conn.commit()
        with redis_conn.pipeline() as pipe:
            queue.enqueue_many([Queue.prepare_data(entry_points.RUN, args=(str(run["id"]),), job_id=f"run-{run['id']}")
                                for run in runs], pipeline=pipe)
            pipe.execute()
        dispatched += len(rows)
    conn.close()
    return dispatched
