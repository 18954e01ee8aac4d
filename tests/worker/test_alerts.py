"""Alerts to the account owner, end to end through the worker's code and a real SMTP server on loopback:
one alert per incident (the first failure opens it, repeats are counted into it), one recovery message
when the schedule next succeeds, each through the delivery ledger, exactly once, as RQ jobs the
ticker's unit pushed."""
from __future__ import annotations

import email
import email.policy
import json
import os

import pytest
import redis
from rq.job import Job

import worker.jobs
from core.alerts import ledger
from core.alerts import settings as alert_settings
from core.deliveries.delivery import Senders
from core.ops import db
from core.ops.settings import load_settings
from core.runs.tasks import TaskRegistry
from tests.worker.conftest import fetch, make_run, make_schedule
from tests.worker.test_execution import execute

OWNER = "owner@example.com"
QUEUE = "schedules-test"


@pytest.fixture
def smtp_settings(worker_env, smtp_server):
    return load_settings({**worker_env, "SMTP_URL": smtp_server.url, "WORKER_MAX_ATTEMPTS": "1",
                          "EMAIL_FROM": "Schedules <alerts@example.com>"})


@pytest.fixture
def alert_worker(smtp_settings):
    """worker.alerts.deliver_alert's process context, as a worker process has it."""
    worker.jobs._context = worker.jobs.WorkerContext.build(smtp_settings, TaskRegistry(smtp_settings.tasks))
    yield worker.jobs._context
    worker.jobs._context.close()
    worker.jobs._context = None


def use_settings(context, settings) -> None:
    """Give the process context other settings, and senders made with them (a process makes its
    senders once, with the settings it started with)."""
    context.settings = settings
    context.senders = Senders(settings, context.mailers, context.pool)


def configure(conn, account_id, **values):
    with db.tenant_transaction(conn, account_id) as cur:
        return alert_settings.save(cur, account_id, **{"emails": [OWNER], "channels": [],
                                                      "events": list(alert_settings.EVENTS), **values})


def push_and_work(conn, redis_url) -> list[str]:
    """The ticker's unit pushes the due alert messages; each job is then performed as RQ stored it."""
    r = redis.Redis.from_url(redis_url)
    pushed = ledger.push_due(conn, r, QUEUE, job_timeout=60, limit=100)
    while (job_id := r.lpop(f"rq:queue:{QUEUE}")) is not None:
        job = Job.fetch(job_id.decode(), connection=r)
        assert job.func_name == "worker.alerts.deliver_alert"
        job.func(*job.args, **job.kwargs)
    return pushed


def mails(smtp_server) -> list:
    return [email.message_from_bytes(e.content, policy=email.policy.default) for e in smtp_server.messages]


def dump(name: str, messages) -> None:
    """Keep what the alerts said, to read them, when ALERT_MESSAGES_DIR names a folder."""
    folder = os.environ.get("ALERT_MESSAGES_DIR")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{name}.json"), "w") as out:
        json.dump([{"subject": m["Subject"], "to": m["To"], "message_id": m["Message-ID"],
                    "text": m.get_body(("plain",)).get_content()} for m in messages], out, indent=2)


def set_task(conn, schedule_id, task):
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET task = %s WHERE id = %s", (task, schedule_id))


def test_three_failures_in_a_row_give_one_alert_with_a_count_then_one_recovery(
        conn, account_id, smtp_settings, smtp_server, redis_url, alert_worker):
    configure(conn, account_id)
    registry = TaskRegistry(smtp_settings.tasks)
    schedule_id = make_schedule(conn, account_id, task="boom", recipients=["client@example.com"])
    runs = []
    for _ in range(3):
        runs.append(make_run(conn, schedule_id))
        assert execute(conn, smtp_settings, registry, runs[-1])["status"] == "failed"
        push_and_work(conn, redis_url)
    alerts = fetch(conn, "SELECT * FROM alerts WHERE schedule_id = %s", schedule_id)
    assert len(alerts) == 1
    assert alerts[0]["status"] == "open" and alerts[0]["failures"] == 3 and alerts[0]["opened_by"] == "failed"
    assert str(alerts[0]["first_run_id"]) == runs[0] and str(alerts[0]["last_run_id"]) == runs[2]
    sent = mails(smtp_server)
    assert len(sent) == 1 and sent[0]["To"] == OWNER
    assert sent[0]["Subject"] == 'Failing: "Weekly Market Snapshot"'
    text = sent[0].get_body(("plain",)).get_content()
    assert "ValueError: the report source is down" in text
    assert f"https://schedules.example.com/console/schedules/{schedule_id}#run-{runs[0]}" in text
    assert sent[0]["List-Unsubscribe"].startswith("<https://schedules.example.com/v1/email/unsubscribe?")

    set_task(conn, schedule_id, "echo")
    ok = make_run(conn, schedule_id)
    assert execute(conn, smtp_settings, registry, ok)["status"] == "succeeded"
    assert push_and_work(conn, redis_url)
    assert push_and_work(conn, redis_url) == []  # nothing is sent twice
    sent = mails(smtp_server)
    alert_mails = [m for m in sent if m["To"] == OWNER]
    assert [m["Subject"] for m in alert_mails] == ['Failing: "Weekly Market Snapshot"',
                                                   'Back to normal: "Weekly Market Snapshot"']
    recovery = alert_mails[1].get_body(("plain",)).get_content()
    assert "which counted 3 failed or missed runs" in recovery
    alert = fetch(conn, "SELECT * FROM alerts WHERE schedule_id = %s", schedule_id)[0]
    assert alert["status"] == "closed" and str(alert["closed_run_id"]) == ok and alert["failures"] == 3
    ledger_rows = fetch(conn, "SELECT d.status, d.attempts, m.event FROM deliveries d JOIN alert_messages m"
                              " ON m.id = d.alert_message_id WHERE m.alert_id = %s ORDER BY m.created_at", alert["id"])
    assert [(r["event"], r["status"], r["attempts"]) for r in ledger_rows] == [("opened", "sent", 1),
                                                                              ("recovered", "sent", 1)]
    dump("three_failures", alert_mails)

    # The next failure opens a new incident, with its own message.
    set_task(conn, schedule_id, "boom")
    assert execute(conn, smtp_settings, registry, make_run(conn, schedule_id))["status"] == "failed"
    push_and_work(conn, redis_url)
    assert len(fetch(conn, "SELECT 1 FROM alerts WHERE schedule_id = %s", schedule_id)) == 2
    assert len([m for m in mails(smtp_server) if m["To"] == OWNER]) == 3


def test_a_delivery_failed_alert_names_the_channel_that_failed_and_why(
        conn, account_id, worker_env, smtp_server, redis_url, alert_worker):
    from tests.receivers import Receiver

    settings = load_settings({**worker_env, "SMTP_URL": smtp_server.url, "WEBHOOK_ALLOW_LOOPBACK": "true"})
    use_settings(alert_worker, settings)
    configure(conn, account_id)
    slack = Receiver(answers=[(404, {}, b"no_service")]).start()
    try:
        schedule_id = make_schedule(conn, account_id, task="echo", recipients=["client@example.com"])
        with db.service_transaction(conn) as cur:
            cur.execute("INSERT INTO schedule_channels (schedule_id, account_id, type, url)"
                        " VALUES (%s, %s, 'slack', %s)",
                        (schedule_id, account_id, slack.url("/services/T/B/secretXYZW")))
        run_id = make_run(conn, schedule_id)
        assert execute(conn, settings, TaskRegistry(settings.tasks), run_id)["status"] == "delivery_failed"
        push_and_work(conn, redis_url)
    finally:
        slack.stop()
    [alert_mail] = [m for m in mails(smtp_server) if m["To"] == OWNER]
    assert alert_mail["Subject"] == 'Delivery failed: "Weekly Market Snapshot"'
    text = alert_mail.get_body(("plain",)).get_content()
    assert f"http://127.0.0.1:{slack.port}/…XYZW (answered 404: no_service)" in text
    assert "secretXYZW" not in text  # a Slack URL is a credential: masked
    dump("delivery_failed", [alert_mail])


def test_a_schedule_paused_after_failures_adds_one_message_to_its_open_alert(
        conn, account_id, smtp_settings, smtp_server, redis_url, alert_worker):
    configure(conn, account_id)
    registry = TaskRegistry(smtp_settings.tasks)
    schedule_id = make_schedule(conn, account_id, task="boom", pause_after_failures=2)
    for _ in range(2):
        assert execute(conn, smtp_settings, registry, make_run(conn, schedule_id))["status"] == "failed"
    push_and_work(conn, redis_url)
    # The two messages are delivered by one push, in whichever order the worker's threads finish.
    sent = sorted((m for m in mails(smtp_server) if m["To"] == OWNER), key=lambda m: m["Subject"])
    assert [m["Subject"] for m in sent] == ['Failing: "Weekly Market Snapshot"',
                                           'Paused after failures: "Weekly Market Snapshot"']
    assert "paused after 2 consecutive failed runs" in sent[1].get_body(("plain",)).get_content()
    [alert] = fetch(conn, "SELECT * FROM alerts WHERE schedule_id = %s", schedule_id)
    assert alert["failures"] == 2 and alert["status"] == "open"
    dump("paused", sent[1:])
