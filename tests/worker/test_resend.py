"""Resend through the worker, a real SMTP server and PostgreSQL (row-level security on: the resend is
recorded in the tenant's transaction, as the API does it): a run whose one recipient was refused is
resent to a subset from its stored result, without running the task again; each resend is its own
ledger rows, listed with the run's deliveries with who asked; an address that unsubscribed stays
suppressed; the schedule's counters and run list do not count resends."""
from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest

from core.ops import db
from core.runs import reads
from core.runs import resend as resends
from tests.worker import sample_tasks
from tests.worker.conftest import fetch, make_run, make_schedule
from tests.worker.test_delivery import smtp_settings
from tests.worker.test_execution import execute, schedule_row

RECIPIENTS = ["a@example.com", "b@example.com", "c@example.com"]


def tenant_resend(conn, settings, account_id, schedule_id, run_id, **subset):
    with db.tenant_transaction(conn, account_id) as cur:
        return resends.resend(cur, settings, account_id, schedule_id, run_id, requested_by="alice",
                              now=datetime.now(timezone.utc), **subset)


def detail(conn, account_id, schedule_id, run_id):
    with db.tenant_transaction(conn, account_id) as cur:
        return reads.run_detail(cur, account_id, schedule_id, run_id)


def messages_to(smtp_server, address):
    return [email.message_from_bytes(e.content, policy=email.policy.compat32)
            for e in smtp_server.messages if e.rcpt_tos == [address]]


def test_resend_to_a_subset_after_a_refused_recipient_skips_the_suppressed_one(
        conn, worker_env, registry, account_id, smtp_server):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, task="counted", recipients=RECIPIENTS)
    run_id = make_run(conn, schedule_id)
    sample_tasks.CALLS.clear()
    smtp_server.inbox.refuse_to = {"b@example.com": "550 5.1.1 mailbox full"}
    assert execute(conn, settings, registry, run_id)["status"] == "delivery_failed"
    assert [len(messages_to(smtp_server, r)) for r in RECIPIENTS] == [1, 0, 1]
    first_b_id = fetch(conn, "SELECT message_id FROM deliveries WHERE run_id = %s AND target = 'b@example.com'",
                       run_id)[0]["message_id"]

    # b's mailbox is fixed; c unsubscribed meanwhile. Resend to b and C (any case) only.
    smtp_server.inbox.refuse_to = {}
    fetch(conn, "INSERT INTO email_suppressions (account_id, email, reason) VALUES (%s, 'c@example.com', "
                "'one_click') RETURNING email", account_id)
    resent = tenant_resend(conn, settings, account_id, schedule_id, run_id,
                           recipients=["b@example.com", "C@Example.com"])
    assert resent["trigger"] == "resend" and str(resent["resend_of"]) == run_id
    assert resent["status"] == "pending" and resent["requested_by"] == "alice"
    assert {(d["target"], d["status"]) for d in resent["deliveries"]} == {("b@example.com", "pending"),
                                                                        ("c@example.com", "suppressed")}
    assert execute(conn, settings, registry, resent["id"]) == {"status": "succeeded", "emails_sent": 1}
    assert sample_tasks.CALLS == [run_id]  # the stored result: the task never ran again

    [second_b] = messages_to(smtp_server, "b@example.com")
    assert second_b["Message-ID"] != first_b_id  # a new message, not a repeat to drop
    text = "".join(part.get_payload(decode=True).decode() for part in second_b.walk()
                   if part.get_content_type() == "text/plain")
    assert f"https://reports.example.com/{run_id}" in text  # the stored result's link
    assert len(messages_to(smtp_server, "c@example.com")) == 1  # only the first run's

    # The run's deliveries: its own three rows as they were, then the resend's two, with who asked.
    shown = detail(conn, account_id, schedule_id, run_id)
    assert shown["status"] == "delivery_failed"  # the run keeps its own outcome
    own = [(d["target"], d["status"]) for d in shown["deliveries"] if d["resend_id"] is None]
    assert own == [("a@example.com", "sent"), ("b@example.com", "failed"), ("c@example.com", "sent")]
    again = {d["target"]: d for d in shown["deliveries"] if d["resend_id"] is not None}
    assert {t: d["status"] for t, d in again.items()} == {"b@example.com": "sent", "c@example.com": "suppressed"}
    assert {d["requested_by"] for d in again.values()} == {"alice"}
    assert [(str(r["id"]), r["status"], r["requested_by"]) for r in shown["resends"]] == [
        (str(resent["id"]), "succeeded", "alice")]

    # A resend to everyone (no subset): every target of the run's own ledger; c stays suppressed.
    everyone = tenant_resend(conn, settings, account_id, schedule_id, run_id)
    assert sorted(d["target"] for d in everyone["deliveries"]) == RECIPIENTS
    assert execute(conn, settings, registry, everyone["id"]) == {"status": "succeeded", "emails_sent": 2}
    assert [len(messages_to(smtp_server, r)) for r in RECIPIENTS] == [2, 2, 1]

    # Resends are not runs of the schedule's own: not counted, not in the run list.
    schedule = schedule_row(conn, schedule_id)
    assert (schedule["run_count"], schedule["failure_count"], schedule["last_status"]) == (1, 1, "delivery_failed")
    with db.tenant_transaction(conn, account_id) as cur:
        assert [str(r["id"]) for r in reads.runs(cur, account_id, schedule_id)] == [run_id]
        assert len(reads.runs(cur, account_id, schedule_id, trigger="resend")) == 2
    assert fetch(conn, "SELECT usage_counted FROM schedule_runs WHERE id = %s", everyone["id"])[0]["usage_counted"]


def test_a_subset_naming_nobody_of_the_run_is_refused_field_by_field(conn, worker_env, registry, account_id,
                                                                    smtp_server):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, recipients=["a@example.com"])
    run_id = make_run(conn, schedule_id)
    execute(conn, settings, registry, run_id)
    with pytest.raises(resends.ResendRefused) as refused:
        tenant_resend(conn, settings, account_id, schedule_id, run_id,
                      recipients=["a@example.com", "z@example.com"], channel_ids=["7b0c5c5e-0000-4000-8000-000000000000"])
    assert refused.value.status == 400
    assert refused.value.fields == {"recipients": {"1": ["not a recipient of this run"]},
                                    "channels": {"0": ["not a channel of this schedule this run went to"]}}
    assert fetch(conn, "SELECT count(*) AS n FROM schedule_runs WHERE trigger = 'resend'")[0]["n"] == 0


def test_a_run_without_a_result_cannot_be_resent(conn, worker_env, registry, account_id, smtp_server):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, task="boom")
    run_id = make_run(conn, schedule_id)
    fetch(conn, "UPDATE schedule_runs SET status = 'failed', error = 'boom' WHERE id = %s RETURNING id", run_id)
    with pytest.raises(resends.ResendRefused) as refused:
        tenant_resend(conn, settings, account_id, schedule_id, run_id)
    assert (refused.value.status, refused.value.reason) == (409, "no_result")
    assert "no stored result" in refused.value.message
    # Another tenant's run is not found at all.
    other = fetch(conn, "INSERT INTO accounts (name) VALUES ('Other') RETURNING id")[0]["id"]
    assert tenant_resend(conn, settings, other, schedule_id, run_id) is None


def test_a_resend_neither_closes_nor_counts_into_the_schedules_alert(
        conn, worker_env, registry, account_id, smtp_server):
    settings = smtp_settings(worker_env, smtp_server)
    schedule_id = make_schedule(conn, account_id, task="counted", recipients=["a@example.com", "b@example.com"])
    run_id = make_run(conn, schedule_id)
    smtp_server.inbox.refuse_to = {"b@example.com": "550 5.1.1 mailbox full"}
    assert execute(conn, settings, registry, run_id)["status"] == "delivery_failed"
    alert_of = "SELECT status, failures FROM alerts WHERE schedule_id = %s"
    [opened] = [dict(row) for row in fetch(conn, alert_of, schedule_id)]
    assert opened["status"] == "open"

    failing = tenant_resend(conn, settings, account_id, schedule_id, run_id, recipients=["b@example.com"])
    assert execute(conn, settings, registry, failing["id"])["status"] == "delivery_failed"
    smtp_server.inbox.refuse_to = {}
    fixed = tenant_resend(conn, settings, account_id, schedule_id, run_id, recipients=["b@example.com"])
    assert execute(conn, settings, registry, fixed["id"])["status"] == "succeeded"
    assert len(messages_to(smtp_server, "b@example.com")) == 1
    assert [dict(row) for row in fetch(conn, alert_of, schedule_id)] == [opened]  # still open, not counted
