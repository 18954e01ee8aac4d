"""LOG_FORMAT=json: a real `python -m ticker --once` prints one JSON object per line, with level, logger
and message, and the ids of the schedule, run and job on the lines about one."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests.seeds import SEED_000_TEST_SCHEDULE
from tests.ticker.conftest import ensure_seed_account, fetch, make_schedule


def test_once_with_json_logs_prints_json_lines_with_the_ids(conn, account_id, start_ticker):
    ensure_seed_account(conn)
    fetch(conn, SEED_000_TEST_SCHEDULE)
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    missed = make_schedule(conn, account_id, name="Late", cadence="daily", misfire_grace_seconds=60,
                           next_run_at=hour_ago)
    broken = make_schedule(conn, account_id, name="Broken", cadence="weekly", weekly_dow=None, next_run_at=hour_ago)

    process = start_ticker("--once", LOG_FORMAT="json")
    assert process.proc.wait(timeout=30) == 0
    lines = [json.loads(line) for line in process.output.splitlines()]  # each line, or JSONDecodeError

    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert {line["logger"] for line in lines} == {"ticker"}
    [seed_run] = fetch(conn, "SELECT r.id, r.schedule_id, r.job_id FROM schedule_runs r"
                             " JOIN schedules s ON s.id = r.schedule_id WHERE s.name = 'Test Weekly Snapshot'")
    [processed] = [line for line in lines if line["message"].startswith("Processed schedule")]
    assert processed["level"] == "INFO"
    assert (processed["schedule_id"], processed["run_id"], processed["job_id"]) == (
        str(seed_run["schedule_id"]), str(seed_run["id"]), seed_run["job_id"])
    [late] = [line for line in lines if line["message"].startswith("Missed schedule 'Late'")]
    assert late["level"] == "WARNING" and late["schedule_id"] == str(missed) and late["run_id"]
    [failed] = [line for line in lines if line["message"].startswith("Failed to process schedule")]
    assert failed["level"] == "ERROR" and failed["schedule_id"] == str(broken)
    found = [int(line["message"].split()[1]) for line in lines if line["message"].startswith("Found ")]
    assert sum(found) == 3  # in one batch or two: the ticker's two lanes may share them
