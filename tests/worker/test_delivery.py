"""The delivery ledger against a real SMTP server on loopback: one row per (run, recipient), sent at
most once, retried while the mail server is down, never re-running the task; the run's final status
says what happened; a worker presumed dead cannot finish a run that moved on."""
from __future__ import annotations

import email
import email.policy

import redis

from core.deliveries import delivery
from core.ops import db
from core.ops.settings import load_settings
from core.runs import lifecycle
from tests.worker import sample_tasks
from tests.worker.conftest import fetch, make_run, make_schedule
from tests.worker.test_execution import execute, push_retry_now, run_row, schedule_row

RECIPIENTS = ["a@example.com", "b@example.com", "c@example.com"]


def ledger(conn, run_id):
    return {row["target"]: row for row in
            fetch(conn, "SELECT * FROM deliveries WHERE run_id = %s ORDER BY target", run_id)}


def smtp_settings(worker_env, smtp_server, **extra):
    return load_settings({**worker_env, "SMTP_URL": smtp_server.url, **extra})


def received(smtp_server):
    return sorted((e.rcpt_tos[0], email.message_from_bytes(e.content, policy=email.policy.compat32)["Message-ID"])
                  for e in smtp_server.messages)


def test_each_recipient_gets_one_message_with_a_stable_message_id(conn, worker_env, registry, account_id,
                                                                 smtp_server):
    settings = smtp_settings(worker_env, smtp_server)
    run_id = make_run(conn, make_schedule(conn, account_id, recipients=RECIPIENTS, task="counted"))
    assert execute(conn, settings, registry, run_id) == {"status": "succeeded", "emails_sent": 3}
    rows = ledger(conn, run_id)
    assert {t: r["status"] for t, r in rows.items()} == dict.fromkeys(RECIPIENTS, "sent")
    assert all(r["attempts"] == 1 and r["sent_at"] is not None and r["last_error"] is None for r in rows.values())
    assert received(smtp_server) == sorted((t, rows[t]["message_id"]) for t in RECIPIENTS)
    assert len({r["message_id"] for r in rows.values()}) == 3
    assert all(r["message_id"].startswith(f"<run-{run_id}.") for r in rows.values())


def test_smtp_down_then_up_delivers_each_message_once_without_running_the_task_again(
        conn, worker_env, registry, account_id, smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, recipients=RECIPIENTS, task="counted")
    run_id = make_run(conn, schedule_id)
    sample_tasks.CALLS.clear()
    smtp_server.stop()

    assert execute(conn, settings, registry, run_id)["status"] == "retrying"
    run = run_row(conn, run_id)
    assert run["status"] == "retrying" and run["result"]["report_url"]  # the result is kept
    assert "3 delivery(ies) to retry" in run["error"] and "ConnectionRefusedError" in run["error"]
    assert 29 <= (run["not_before"] - run["started_at"]).total_seconds() <= 31
    rows = ledger(conn, run_id)
    assert {r["status"] for r in rows.values()} == {"pending"}
    # The server is down: the first failure ends the pass, the others wait untried.
    assert sorted(r["attempts"] for r in rows.values()) == [0, 0, 1]
    assert schedule_row(conn, schedule_id)["run_count"] == 0  # not final, so not counted yet

    # Still down at the second attempt: retried again, later.
    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 2)["status"] == "retrying"
    assert 59 <= (run_row(conn, run_id)["not_before"] - run_row(conn, run_id)["started_at"]).total_seconds() <= 61

    smtp_server.start()
    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 3) == {"status": "succeeded", "emails_sent": 3}
    assert sample_tasks.CALLS == [run_id]  # the task ran once, on the first attempt
    assert sorted(to for to, _ in received(smtp_server)) == RECIPIENTS
    run = run_row(conn, run_id)
    assert run["status"] == "succeeded" and run["attempt"] == 3 and run["error"] is None
    schedule = schedule_row(conn, schedule_id)
    assert (schedule["run_count"], schedule["success_count"], schedule["last_status"]) == (1, 1, "succeeded")
    log = fetch(conn, "SELECT to_emails[1] AS target, error IS NULL AS ok FROM email_log ORDER BY created_at")
    assert [row["ok"] for row in log] == [False, False, True, True, True]  # every attempt is logged

    # A late copy of any attempt's job sends nothing.
    for attempt in (1, 2, 3):
        assert execute(conn, settings, registry, run_id, attempt) == {"status": "duplicate"}
    assert len(smtp_server.messages) == 3


def test_a_sent_recipient_is_never_sent_again_when_others_are_retried(conn, worker_env, registry, account_id,
                                                                     smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server)
    run_id = make_run(conn, make_schedule(conn, account_id, recipients=RECIPIENTS))
    smtp_server.inbox.refuse = "451 4.3.0 try again later"  # a transient refusal, per message
    assert execute(conn, settings, registry, run_id)["status"] == "retrying"
    assert {r["status"] for r in ledger(conn, run_id).values()} == {"pending"}
    smtp_server.inbox.refuse = None
    with db.service_transaction(conn) as cur:  # as if an earlier attempt had reached a@ before the refusals
        cur.execute("UPDATE deliveries SET status = 'sent', sent_at = now() WHERE run_id = %s AND target = %s",
                    (run_id, "a@example.com"))
    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 2)["emails_sent"] == 2
    assert sorted(to for to, _ in received(smtp_server)) == ["b@example.com", "c@example.com"]


def test_a_permanent_refusal_fails_that_recipient_and_the_run_ends_delivery_failed(
        conn, worker_env, registry, account_id, smtp_server):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, recipients=["a@example.com"])
    run_id = make_run(conn, schedule_id)
    smtp_server.inbox.refuse = "550 5.1.1 mailbox unavailable"
    assert execute(conn, settings, registry, run_id)["status"] == "delivery_failed"
    [row] = ledger(conn, run_id).values()
    assert row["status"] == "failed" and "550" in row["last_error"] and row["attempts"] == 1
    run = run_row(conn, run_id)
    assert run["status"] == "delivery_failed" and run["finished_at"] is not None
    assert run["error"].startswith("1 of 1 deliveries failed; last: a@example.com: ")
    schedule = schedule_row(conn, schedule_id)
    assert (schedule["run_count"], schedule["failure_count"], schedule["consecutive_failures"]) == (1, 1, 1)
    assert schedule["last_status"] == "delivery_failed"


def test_delivery_gives_up_after_its_attempts_and_the_run_says_so(conn, worker_env, registry, account_id,
                                                                  smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server, DELIVERY_MAX_ATTEMPTS="2")
    run_id = make_run(conn, make_schedule(conn, account_id, recipients=["a@example.com"]))
    smtp_server.stop()
    assert execute(conn, settings, registry, run_id)["status"] == "retrying"
    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 2)["status"] == "delivery_failed"
    [row] = ledger(conn, run_id).values()
    assert row["status"] == "failed" and row["attempts"] == 2
    assert row["last_error"].endswith("(gave up after 2 attempt(s))")
    assert run_row(conn, run_id)["status"] == "delivery_failed"


def test_suppressed_recipients_get_a_suppressed_row_and_no_message(conn, worker_env, registry, account_id,
                                                                  smtp_server):
    settings = smtp_settings(worker_env, smtp_server)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO email_suppressions (account_id, email) VALUES (%s, 'B@example.com')", (account_id,))
    run_id = make_run(conn, make_schedule(conn, account_id, recipients=RECIPIENTS))
    assert execute(conn, settings, registry, run_id)["status"] == "succeeded"
    assert {t: r["status"] for t, r in ledger(conn, run_id).items()} == {
        "a@example.com": "sent", "b@example.com": "suppressed", "c@example.com": "sent"}
    assert sorted(to for to, _ in received(smtp_server)) == ["a@example.com", "c@example.com"]


def test_a_worker_presumed_dead_cannot_finish_a_run_that_moved_on(conn, settings, registry, account_id, redis_url):
    schedule_id = make_schedule(conn, account_id, task="counted")
    run_id = make_run(conn, schedule_id)
    with db.service_transaction(conn) as cur:  # worker A takes attempt 1 ...
        run = lifecycle.take(cur, run_id, 1, worker="host.1", lease_seconds=60).run
    with db.service_transaction(conn) as cur:  # ... and stops renewing its lease
        cur.execute("UPDATE schedule_runs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (run_id,))
    [recovered] = lifecycle.recover_expired_leases(conn, settings, limit=10)
    assert recovered.outcome == "retrying" and "worker lost: host.1 stopped renewing its lease" in recovered.error
    assert run_row(conn, run_id)["status"] == "retrying"

    # Worker A wakes up: every write it tries finds no row.
    with db.service_transaction(conn) as cur:
        assert delivery.open_ledger(cur, run, [("email", "a@example.com", "<a@x>")], result={"report_url": "x"}) is None
        assert not lifecycle.finish(cur, run, "succeeded")
        assert not lifecycle.retry(cur, run, "late", delay=0)
    assert run_row(conn, run_id)["status"] == "retrying" and run_row(conn, run_id)["result"] is None
    # Attempt 2 runs it properly.
    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 2)["status"] == "succeeded"
    assert schedule_row(conn, schedule_id)["run_count"] == 1


def lose_worker_while_sending_to_a(conn, account_id, run_id):
    """Attempt 1 ran the task, made the ledger, was sending to a@ when its worker was lost."""
    with db.service_transaction(conn) as cur:
        run = lifecycle.take(cur, run_id, 1, worker="host.1", lease_seconds=60).run
        assert delivery.open_ledger(cur, run, [], result={"report_url": "https://reports.example.com/r"}) == []
        cur.execute("INSERT INTO deliveries (run_id, account_id, target, status, attempts, sending_attempt, message_id)"
                    " VALUES (%s, %s, 'a@example.com', 'sending', 1, 1, '<a@x>'),"
                    "        (%s, %s, 'b@example.com', 'pending', 0, NULL, '<b@x>')",
                    (run_id, account_id, run_id, account_id))
        cur.execute("UPDATE schedule_runs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (run_id,))


def test_a_target_left_sending_by_a_lost_worker_is_sent_again_with_the_same_message_id(
        conn, worker_env, registry, account_id, smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server)
    assert settings.unknown_outcome == "resend"
    schedule_id = make_schedule(conn, account_id, recipients=["a@example.com", "b@example.com"])
    run_id = make_run(conn, schedule_id)
    lose_worker_while_sending_to_a(conn, account_id, run_id)
    [recovered] = lifecycle.recover_expired_leases(conn, settings, limit=10)
    assert recovered.outcome == "retrying"
    a = ledger(conn, run_id)["a@example.com"]
    assert (a["status"], a["unknown_outcomes"]) == ("pending", 1)
    assert a["last_error"].startswith("outcome unknown: the worker sending it was lost mid-send; sent again")

    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 2)["status"] == "succeeded"
    # a@ gets it (again, if the first send had arrived) under the Message-ID it had: a mailbox drops a repeat.
    assert received(smtp_server) == [("a@example.com", "<a@x>"), ("b@example.com", "<b@x>")]
    rows = ledger(conn, run_id)
    assert [(rows[t]["status"], rows[t]["unknown_outcomes"]) for t in ("a@example.com", "b@example.com")] == [
        ("sent", 1), ("sent", 0)]


def test_with_unknown_outcome_give_up_a_target_left_sending_is_never_sent_again(
        conn, worker_env, registry, account_id, smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server, UNKNOWN_OUTCOME="give_up")
    schedule_id = make_schedule(conn, account_id, recipients=["a@example.com", "b@example.com"])
    run_id = make_run(conn, schedule_id)
    lose_worker_while_sending_to_a(conn, account_id, run_id)
    [recovered] = lifecycle.recover_expired_leases(conn, settings, limit=10)
    assert recovered.outcome == "retrying"
    rows = ledger(conn, run_id)
    assert (rows["a@example.com"]["status"], rows["a@example.com"]["unknown_outcomes"]) == ("failed", 1)
    assert rows["a@example.com"]["last_error"].startswith("outcome unknown: the worker sending it was lost")

    push_retry_now(conn, redis_url, run_id)
    assert execute(conn, settings, registry, run_id, 2)["status"] == "delivery_failed"
    assert [to for to, _ in received(smtp_server)] == ["b@example.com"]
    run = run_row(conn, run_id)
    assert run["status"] == "delivery_failed" and "outcome unknown" in run["error"]


def test_a_run_lost_on_its_last_attempt_fails_saying_the_worker_was_lost(conn, settings, registry, account_id):
    schedule_id = make_schedule(conn, account_id)
    run_id = make_run(conn, schedule_id)
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedule_runs SET attempt = %s WHERE id = %s", (settings.worker_max_attempts - 1, run_id))
        lifecycle.take(cur, run_id, settings.worker_max_attempts, worker="host.9", lease_seconds=60)
        cur.execute("UPDATE schedule_runs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (run_id,))
    [recovered] = lifecycle.recover_expired_leases(conn, settings, limit=10)
    assert recovered.outcome == "failed"
    run = run_row(conn, run_id)
    assert run["status"] == "failed" and run["error"].startswith("worker lost: host.9")
    assert run["error"].endswith("no attempt left (3 of 3)")
    schedule = schedule_row(conn, schedule_id)
    assert (schedule["failure_count"], schedule["last_status"]) == (1, "failed")
    assert lifecycle.recover_expired_leases(conn, settings, limit=10) == []  # once


def test_the_lease_is_renewed_while_the_task_runs(conn, worker_env, registry, account_id):
    settings = load_settings({**worker_env, "RUN_LEASE_SECONDS": "2"})
    run_id = make_run(conn, make_schedule(conn, account_id, task="slow", task_parameters='{"sleep": 2.5}'))
    # 2.5 s of task on a 2 s lease: only renewals keep the run from being recovered meanwhile.
    assert execute(conn, settings, registry, run_id)["status"] == "succeeded"
    assert lifecycle.recover_expired_leases(conn, settings, limit=10) == []
    assert run_row(conn, run_id)["attempt"] == 1


def test_redis_is_not_needed_by_the_worker_for_retries(conn, settings, registry, account_id, redis_url):
    run_id = make_run(conn, make_schedule(conn, account_id, task="boom"))
    redis.Redis.from_url(redis_url).flushdb()
    assert execute(conn, settings, registry, run_id)["status"] == "retrying"
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_an_attempt_that_lost_its_run_sends_nothing_more(conn, worker_env, registry, account_id, smtp_server):
    """A worker presumed dead wakes up mid-delivery: its claims are refused, so it cannot send."""
    from core.deliveries.email import EmailChannel, MailerPool

    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, recipients=RECIPIENTS)
    run_id = make_run(conn, schedule_id)
    with db.service_transaction(conn) as cur:
        taken = lifecycle.take(cur, run_id, 1, worker="host.1", lease_seconds=60)
        run, schedule = taken.run, taken.schedule
        delivery.open_ledger(cur, run, [("email", t, f"<{t}>") for t in RECIPIENTS],
                             result={"report_url": "https://reports.example.com/r"})
        cur.execute("UPDATE schedule_runs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (run_id,))
    assert lifecycle.recover_expired_leases(conn, settings, limit=10)[0].outcome == "retrying"
    mailers, pool = MailerPool(settings, 1), db.ConnectionPool(settings.database_url, 1)
    counts = delivery.deliver_pending(pool, run, schedule, {"report_url": "x"},
                                      {"email": EmailChannel(settings, mailers)})
    mailers.close()
    pool.close()
    assert counts == {"sent": 0, "failed": 0, "retry": 0, "lost": True} and smtp_server.messages == []
    with db.service_transaction(conn) as cur:
        assert lifecycle.conclude_delivery(cur, run, settings).outcome == "lost"
    # The first target was claimed with the ledger, then the lease ran out: its outcome is unknown, so it
    # is pending again (for the next attempt to send with the same Message-ID); this attempt sent nothing.
    rows = ledger(conn, run_id).values()
    assert sorted((r["status"], r["unknown_outcomes"]) for r in rows) == [("pending", 0)] * (len(RECIPIENTS) - 1) + [
        ("pending", 1)]


def test_a_failure_with_no_error_recorded_still_names_the_run_error(conn, settings, registry, account_id):
    """The final status comes from the ledger in SQL (finish_run): a failed target whose channel gave
    no error still yields a run error, not NULL."""
    schedule_id = make_schedule(conn, account_id, recipients=["a@example.com"])
    run_id = make_run(conn, schedule_id)
    with db.service_transaction(conn) as cur:
        run = lifecycle.take(cur, run_id, 1, worker="host.1", lease_seconds=60).run
        [target] = delivery.open_ledger(cur, run, [("email", "a@example.com", "<a@x>")], result={"report_url": "x"})
        assert target["claimed"]
        delivery.record(cur, target, run, "failed", delivery.Sent(False, None, permanent=True))
        concluded = lifecycle.conclude_delivery(cur, run, settings)
    assert concluded.outcome == "delivery_failed" and concluded.summary["failed"] == 1
    row = run_row(conn, run_id)
    assert row["status"] == "delivery_failed"
    assert row["error"] == "1 of 1 deliveries failed; last: none recorded"
    assert schedule_row(conn, schedule_id)["failure_count"] == 1
