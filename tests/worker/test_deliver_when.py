"""A schedule's deliver_when across several runs, through the worker, a real SMTP server and
PostgreSQL: `not_empty` delivers nothing when the task says its result is empty, `changed` nothing when
the result's content is the last delivered one's; either way the run succeeds, its ledger rows
`skipped` with the reason. Retried runs (a task that failed first, a delivery that was retried) are
judged once, on the result they delivered or stored."""
from __future__ import annotations

import pytest

from core.deliveries.delivery import content_hash, is_empty
from tests.worker import sample_tasks
from tests.worker.conftest import fetch, make_run, make_schedule
from tests.worker.test_delivery import received, smtp_settings
from tests.worker.test_execution import execute, push_retry_now, run_row, schedule_row

RECIPIENTS = ["a@example.com", "b@example.com"]
EMPTY_REASON = "the task said its result is empty (deliver_when: not_empty)"
SAME_REASON = "the result is the same as the last delivered one (deliver_when: changed)"


@pytest.fixture(autouse=True)
def fresh_news():
    sample_tasks.NEWS.clear()
    yield
    sample_tasks.NEWS.clear()


def ledger_statuses(conn, run_id):
    rows = fetch(conn, "SELECT target, status, skip_reason FROM deliveries WHERE run_id = %s ORDER BY target", run_id)
    return [(row["target"], row["status"], row["skip_reason"]) for row in rows]


def run_once(conn, settings, registry, schedule_id, redis_url, *results, attempts=1):
    """One run of the schedule whose task returns (or raises) `results` in turn, executed through
    `attempts` attempts (each retry pushed as the ticker does); returns the run id."""
    sample_tasks.NEWS.extend(results)
    run_id = make_run(conn, schedule_id)
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            push_retry_now(conn, redis_url, run_id)
        execute(conn, settings, registry, run_id, attempt)
    return run_id


def test_the_task_contract_says_empty_and_content():
    assert is_empty({"empty": True}) and not is_empty({"empty": 1}) and not is_empty({"rows": 0})
    assert not is_empty({"empty": "yes"}) and not is_empty(None)
    # content_key wins over what changes every run (a link); without it, the whole result but `empty`.
    assert content_hash({"content_key": "rows:1", "report_url": "x"}) == content_hash({"content_key": "rows:1"})
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1, "empty": False})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_not_empty_across_several_runs_including_a_retried_run(conn, worker_env, registry, account_id,
                                                             smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, task="news", recipients=RECIPIENTS, deliver_when="not_empty")

    first = run_once(conn, settings, registry, schedule_id, redis_url, {"rows": 3, "empty": False})
    assert run_row(conn, first)["status"] == "succeeded" and run_row(conn, first)["skip_reason"] is None
    assert [status for _, status, _ in ledger_statuses(conn, first)] == ["sent", "sent"]

    empty = run_once(conn, settings, registry, schedule_id, redis_url, {"rows": 0, "empty": True})
    run = run_row(conn, empty)
    assert (run["status"], run["skip_reason"], run["error"]) == ("succeeded", EMPTY_REASON, None)
    assert ledger_statuses(conn, empty) == [(r, "skipped", EMPTY_REASON) for r in RECIPIENTS]

    # The task fails on the first attempt and says "empty" on the second: judged on what it returned.
    retried = run_once(conn, settings, registry, schedule_id, redis_url,
                       RuntimeError("source down"), {"rows": 0, "empty": True}, attempts=2)
    run = run_row(conn, retried)
    assert (run["status"], run["attempt"], run["skip_reason"]) == ("succeeded", 2, EMPTY_REASON)
    assert [status for _, status, _ in ledger_statuses(conn, retried)] == ["skipped", "skipped"]

    # Not empty again, after a failed first attempt: delivered.
    news = run_once(conn, settings, registry, schedule_id, redis_url,
                    RuntimeError("source down"), {"rows": 5}, attempts=2)
    assert run_row(conn, news)["status"] == "succeeded" and run_row(conn, news)["skip_reason"] is None

    assert len(smtp_server.messages) == 4  # two runs of news, two recipients each
    assert {to for to, _ in received(smtp_server)} == set(RECIPIENTS)
    schedule = schedule_row(conn, schedule_id)  # a run with no news is a success, not a failure
    assert (schedule["run_count"], schedule["success_count"], schedule["consecutive_failures"]) == (4, 4, 0)


def test_changed_across_several_runs_including_retried_runs(conn, worker_env, registry, account_id,
                                                           smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, task="news", recipients=RECIPIENTS, deliver_when="changed")
    a, b = {"content_key": "rows: 1, 2"}, {"content_key": "rows: 1, 2, 3"}

    first = run_once(conn, settings, registry, schedule_id, redis_url, a)
    assert run_row(conn, first)["status"] == "succeeded" and len(smtp_server.messages) == 2
    assert run_row(conn, first)["result_hash"] == content_hash(a)

    # The same content under a new link: nothing new, skipped.
    same = run_once(conn, settings, registry, schedule_id, redis_url, a)
    assert (run_row(conn, same)["status"], run_row(conn, same)["skip_reason"]) == ("succeeded", SAME_REASON)
    assert ledger_statuses(conn, same) == [(r, "skipped", SAME_REASON) for r in RECIPIENTS]
    assert len(smtp_server.messages) == 2

    # New content whose delivery is retried (the mail server is down on the first attempt): judged once,
    # when its ledger was made, and delivered on the second attempt.
    smtp_server.stop()
    changed = run_once(conn, settings, registry, schedule_id, redis_url, b)
    assert run_row(conn, changed)["status"] == "retrying"
    assert [status for _, status, _ in ledger_statuses(conn, changed)] == ["pending", "pending"]
    smtp_server.start()
    push_retry_now(conn, redis_url, changed)
    assert execute(conn, settings, registry, changed, 2) == {"status": "succeeded", "emails_sent": 2}
    assert len(smtp_server.messages) == 4

    # The task fails first, then returns b again: the same as the last delivered, skipped.
    retried = run_once(conn, settings, registry, schedule_id, redis_url, RuntimeError("source down"), b, attempts=2)
    assert (run_row(conn, retried)["status"], run_row(conn, retried)["skip_reason"]) == ("succeeded", SAME_REASON)

    # A result nobody got (every recipient refused it) is not "delivered": the same content next time is sent.
    c = {"content_key": "rows: 4"}
    smtp_server.inbox.refuse = "550 5.1.1 mailbox unavailable"
    refused = run_once(conn, settings, registry, schedule_id, redis_url, c)
    assert run_row(conn, refused)["status"] == "delivery_failed"
    smtp_server.inbox.refuse = None
    again = run_once(conn, settings, registry, schedule_id, redis_url, c)
    assert run_row(conn, again)["status"] == "succeeded" and run_row(conn, again)["skip_reason"] is None
    assert len(smtp_server.messages) == 6

    # Back to a: it differs from the last delivered (c), so it is sent.
    back = run_once(conn, settings, registry, schedule_id, redis_url, a)
    assert run_row(conn, back)["skip_reason"] is None and len(smtp_server.messages) == 8
    stats = fetch(conn, "SELECT delivered_hash FROM schedule_stats WHERE schedule_id = %s", schedule_id)[0]
    assert stats["delivered_hash"] == content_hash(a)


def test_always_delivers_an_empty_result_and_suppressed_stays_suppressed(conn, worker_env, registry, account_id,
                                                                        smtp_server, redis_url):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, task="news", recipients=RECIPIENTS)
    fetch(conn, "INSERT INTO email_suppressions (account_id, email, reason) VALUES (%s, 'b@example.com', 'manual')"
                " RETURNING email", account_id)
    run_id = run_once(conn, settings, registry, schedule_id, redis_url, {"empty": True})
    assert [status for _, status, _ in ledger_statuses(conn, run_id)] == ["sent", "suppressed"]
    sample_tasks.NEWS.append({"empty": True})
    fetch(conn, "UPDATE schedules SET deliver_when = 'not_empty' WHERE id = %s RETURNING id", schedule_id)
    skipped = run_once(conn, settings, registry, schedule_id, redis_url)
    # An unsubscribed address says so even when nothing would have been sent.
    assert [(t, s) for t, s, _ in ledger_statuses(conn, skipped)] == [("a@example.com", "skipped"),
                                                                     ("b@example.com", "suppressed")]
