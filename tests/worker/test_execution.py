"""The worker's run lifecycle against real PostgreSQL, Redis and SMTP: success, failure and retries
(waiting in PostgreSQL, pushed by the ticker's unit), duplicates, the task registry, plan limits,
suppressions."""
import email
import email.policy
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from core.deliveries.email import unsubscribe_token
from core.ops import db
from core.ops.settings import load_settings
from core.runs import lifecycle
from core.runs.rq_jobs import job_id_for
from core.runs.run import retry_delay
from tests.worker.conftest import fetch, make_run, make_schedule
from worker.jobs import RunExecution, WorkerContext

ROOT = Path(__file__).resolve().parents[2]


def execute(conn, settings, registry, run_id, attempt=1):
    context = WorkerContext.build(settings, registry)
    try:
        return RunExecution(context, str(run_id), attempt).execute()
    finally:
        context.close()


def push_retry_now(conn, redis_url, run_id) -> list[str]:
    """The retry's time has come: the ticker's unit pushes the next attempt (returns the runs it queued)."""
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedule_runs SET not_before = now() - interval '1 second' WHERE id = %s", (run_id,))
    return lifecycle.push_due_retries(conn, redis.Redis.from_url(redis_url), "schedules-test",
                                      job_timeout=60, limit=10)


def run_row(conn, run_id):
    return fetch(conn, "SELECT * FROM schedule_runs WHERE id = %s", run_id)[0]


def schedule_row(conn, schedule_id):
    return fetch(conn, "SELECT * FROM schedules_with_stats WHERE id = %s", schedule_id)[0]


def test_a_run_executes_its_task_with_the_seed_params_and_succeeds(conn, settings, registry, account_id):
    schedule_id = make_schedule(conn, account_id, task_parameters='{"extra": 7}', filters='{"beds": 3}',
                                lookback_days=14)
    run_id = make_run(conn, schedule_id)
    assert execute(conn, settings, registry, run_id) == {"status": "succeeded", "emails_sent": 1}
    run = run_row(conn, run_id)
    assert run["status"] == "succeeded" and run["attempt"] == 1
    assert run["finished_at"] >= run["started_at"] and run["duration_ms"] >= 0
    assert run["result"]["account_id"] == str(account_id)
    assert run["result"]["params"] == {
        "report_type": "market_snapshot", "city": "San Diego", "zips": ["92101"], "lookback_days": 14,
        "filters": {"beds": 3}, "schedule_id": str(schedule_id), "run_id": str(run_id), "extra": 7,
    }
    schedule = schedule_row(conn, schedule_id)
    assert (schedule["run_count"], schedule["success_count"], schedule["failure_count"]) == (1, 1, 0)
    assert schedule["last_status"] == "succeeded"


def test_a_job_delivered_twice_executes_once(conn, settings, registry, account_id):
    run_id = make_run(conn, make_schedule(conn, account_id))
    assert execute(conn, settings, registry, run_id)["status"] == "succeeded"
    assert execute(conn, settings, registry, run_id) == {"status": "duplicate"}
    assert len(fetch(conn, "SELECT * FROM email_log")) == 1
    assert schedule_row(conn, run_row(conn, run_id)["schedule_id"])["run_count"] == 1


def test_a_pending_run_is_taken_too(conn, settings, registry, account_id):
    """The ticker marks a run queued after pushing its job; the worker may get there first."""
    run_id = make_run(conn, make_schedule(conn, account_id), status="pending")
    assert execute(conn, settings, registry, run_id)["status"] == "succeeded"


def test_a_failing_task_is_retried_with_back_off_then_fails_with_counters(conn, settings, registry, account_id,
                                                                          redis_url):
    schedule_id = make_schedule(conn, account_id, task="boom")
    run_id = make_run(conn, schedule_id)

    assert execute(conn, settings, registry, run_id, 1)["status"] == "retrying"
    run = run_row(conn, run_id)
    assert run["status"] == "retrying" and run["attempt"] == 1
    assert run["error"] == "ValueError: the report source is down"
    waits = (run["not_before"] - run["started_at"]).total_seconds()
    assert 29 <= waits <= 31  # the retry waits in PostgreSQL, not in Redis
    assert redis.Redis.from_url(redis_url).keys("rq:*") == []
    assert [retry_delay(n) for n in (1, 2, 3, 20)] == [30, 60, 120, 3600]
    assert push_retry_now(conn, redis_url, run_id) == [run_id]
    assert run_row(conn, run_id)["job_id"] == job_id_for(run_id, 2) == f"run-{run_id}-a2"

    # A late duplicate of attempt 1 cannot run while attempt 2 waits.
    assert execute(conn, settings, registry, run_id, 1) == {"status": "duplicate"}

    assert execute(conn, settings, registry, run_id, 2)["status"] == "retrying"
    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 3)["status"] == "failed"
    run = run_row(conn, run_id)
    assert run["status"] == "failed" and run["attempt"] == 3 and run["finished_at"] is not None
    schedule = schedule_row(conn, schedule_id)
    assert (schedule["run_count"], schedule["failure_count"], schedule["consecutive_failures"]) == (1, 1, 1)
    assert schedule["last_status"] == "failed"
    assert schedule["last_error"] == "ValueError: the report source is down"
    assert fetch(conn, "SELECT * FROM email_log") == []

    # A success afterwards resets the streak.
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET task = 'echo' WHERE id = %s", (schedule_id,))
    execute(conn, settings, registry, make_run(conn, schedule_id))
    schedule = schedule_row(conn, schedule_id)
    assert (schedule["run_count"], schedule["success_count"], schedule["consecutive_failures"]) == (2, 1, 0)
    assert schedule["last_error"] is None


def test_a_task_name_not_in_the_registry_fails_the_run_at_once(conn, settings, registry, account_id):
    run_id = make_run(conn, make_schedule(conn, account_id, task="os_system"))
    assert execute(conn, settings, registry, run_id)["status"] == "failed"
    run = run_row(conn, run_id)
    assert run["attempt"] == 1
    assert "task 'os_system' is not registered in TASKS" in run["error"]


def test_a_result_that_is_not_json_is_stored_as_text(conn, settings, registry, account_id):
    run_id = make_run(conn, make_schedule(conn, account_id, task="not_json", recipients=[]))
    assert execute(conn, settings, registry, run_id)["status"] == "succeeded"
    assert run_row(conn, run_id)["result"]["result"].startswith("<object object")


def test_runs_beyond_the_plans_monthly_limit_are_skipped_not_executed(conn, settings, registry):
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO plans (id, name, monthly_run_limit) VALUES ('tiny', 'Tiny', 2)")
        cur.execute("INSERT INTO accounts (name, plan) VALUES ('Small', 'tiny') RETURNING id")
        account = cur.fetchone()["id"]
    schedule_id = make_schedule(conn, account)
    statuses = [execute(conn, settings, registry, make_run(conn, schedule_id))["status"] for _ in range(3)]
    assert statuses == ["succeeded", "succeeded", "skipped_limit"]
    skipped = fetch(conn, "SELECT * FROM schedule_runs WHERE status = 'skipped_limit'")[0]
    assert skipped["result"] is None and skipped["attempt"] == 1  # taken, checked, not executed
    assert "monthly run limit of 2" in skipped["error"]
    schedule = schedule_row(conn, schedule_id)
    assert schedule["run_count"] == 2 and schedule["last_status"] == "skipped_limit"
    assert fetch(conn, "SELECT runs FROM account_usage")[0]["runs"] == 2


def test_email_goes_to_each_recipient_not_suppressed(conn, settings, registry, account_id, tmp_path):
    schedule_id = make_schedule(conn, account_id, recipients=["a@example.com", "B@example.com", "c@example.com"])
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO email_suppressions (account_id, email) VALUES (%s, 'b@example.com')", (account_id,))
    run_id = make_run(conn, schedule_id)
    assert execute(conn, settings, registry, run_id)["emails_sent"] == 2
    logged = fetch(conn, "SELECT to_emails, provider, error, run_id FROM email_log ORDER BY created_at")
    assert [row["to_emails"] for row in logged] == [["a@example.com"], ["c@example.com"]]
    assert {row["provider"] for row in logged} == {"outbox"}
    assert all(row["error"] is None and str(row["run_id"]) == run_id for row in logged)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_email_over_real_smtp_has_the_report_link_and_rfc_8058_headers(conn, worker_env, registry, account_id,
                                                                        smtp_server):
    settings = load_settings({**worker_env, "SMTP_URL": smtp_server.url, "EMAIL_FROM": "Reports <r@example.com>"})
    schedule_id = make_schedule(conn, account_id, task="generate_report", include_attachment=True)
    run_id = make_run(conn, schedule_id)
    assert execute(conn, settings, registry, run_id)["emails_sent"] == 1
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["client@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    token = unsubscribe_token("u" * 32, "client@example.com", account_id)
    link = (f"https://schedules.example.com/v1/email/unsubscribe?email=client%40example.com"
            f"&account_id={account_id}&token={token}")
    assert message["List-Unsubscribe"] == f"<{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@example.com>") and message["Date"]
    assert message["Subject"] == "Your report: Weekly Market Snapshot"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"https://reports.example.com/runs/{run_id}" in text and link in text
    assert f"https://reports.example.com/runs/{run_id}" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content().startswith("zip,median_price,listings")
    assert fetch(conn, "SELECT response_code, error FROM email_log") == [{"response_code": 250, "error": None}]


def test_the_worker_process_runs_a_pushed_job_end_to_end(conn, worker_env, account_id, redis_url):
    from core.runs.rq_jobs import push_runs

    run_id = make_run(conn, make_schedule(conn, account_id))
    push_runs(redis.Redis.from_url(redis_url), "schedules-test", [run_id])
    result = subprocess.run([sys.executable, "-m", "worker", "--burst"], cwd=ROOT, capture_output=True, text=True,
                            env={**worker_env, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert run_row(conn, run_id)["status"] == "succeeded"
    assert f"Run {run_id} of schedule 'Weekly Market Snapshot' succeeded" in result.stderr


@pytest.mark.parametrize("env, message", [
    ({"TASKS": "generate_report=no_such_module:generate_report"},
     "error: cannot import module 'no_such_module' for task 'no_such_module:generate_report'"),
    ({"REDIS_URL": ""}, "error: REDIS_URL is not set"),
])
def test_the_worker_refuses_to_start_with_one_line(worker_env, env, message):
    result = subprocess.run([sys.executable, "-m", "worker", "--burst"], cwd=ROOT, capture_output=True, text=True,
                            env={**worker_env, **env, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


def test_the_process_context_keeps_the_task_registry_it_is_given(settings):
    """A registry that has imported nothing yet is an empty dict, and falsy: it is still the one used."""
    from core.runs.tasks import TaskRegistry

    registry = TaskRegistry({"only": "tests.worker.sample_tasks:echo"})
    context = WorkerContext.build(settings, registry)
    try:
        assert context.registry is registry
    finally:
        context.close()
