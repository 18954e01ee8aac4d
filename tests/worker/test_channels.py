"""Webhook and Slack delivery against real HTTP receivers on loopback: signed with Standard Webhooks
(verified with the `standardwebhooks` package), delivered once, retried with one webhook-id, a 410
disabling the endpoint, redirects not followed, non-public addresses refused at send time, and one
run delivered by email, webhook and Slack at once, each exactly once."""
from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.deliveries import channels, signing
from core.ops import db
from core.ops.settings import load_settings
from tests.receivers import Receiver
from tests.worker.conftest import fetch, make_run, make_schedule
from tests.worker.test_execution import execute, push_retry_now, run_row


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def slack():
    server = Receiver(answers=[(200, {"Content-Type": "text/plain"}, b"ok")]).start()
    yield server
    server.stop()


@pytest.fixture
def dev(worker_env):
    """The worker's settings in development, with loopback receivers allowed (as tests and make dev do)."""
    return load_settings({**worker_env, "WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_TIMEOUT": "2"})


def with_channels(conn, account_id, entries, **fields):
    schedule_id = make_schedule(conn, account_id, **{"recipients": [], **fields})
    with db.service_transaction(conn) as cur:
        channels.save(cur, account_id, schedule_id, entries)
    return schedule_id


def learn_secret(conn, account_id) -> str:
    """The account's secret as its owner learns it: from a rotation (the only answer that shows it whole)."""
    with db.service_transaction(conn) as cur:
        return signing.rotate(cur, account_id, 0)["secret"]


def ledger(conn, run_id, channel):
    return fetch(conn, "SELECT * FROM deliveries WHERE run_id = %s AND channel = %s", run_id, channel)


def test_a_receiver_verifies_the_signed_webhook_with_the_standardwebhooks_package(
        conn, dev, registry, account_id, receiver):
    secret = learn_secret(conn, account_id)
    run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}],
                                          timezone="Europe/Paris"))
    assert execute(conn, dev, registry, run_id)["status"] == "succeeded"

    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)  # raises unless the signature matches
    [row] = ledger(conn, run_id, "webhook")
    assert (row["status"], row["attempts"], row["target"]) == ("sent", 1, receiver.url())
    assert request.headers["webhook-id"] == row["message_id"] and row["message_id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now(timezone.utc).timestamp()) < 30
    assert payload["type"] == "report.ready"
    data = payload["data"]
    assert data["run"]["id"] == run_id and data["run"]["trigger"] == "manual"
    assert data["schedule"]["name"] == "Weekly Market Snapshot" and data["schedule"]["timezone"] == "Europe/Paris"
    assert data["result"] == {k: v for k, v in run_row(conn, run_id)["result"].items() if k != "attachment"}
    assert data["report_url"] == run_row(conn, run_id)["result"]["report_url"]
    with pytest.raises(WebhookVerificationError):  # another secret does not verify it
        Webhook(signing.new_secret()).verify(request.body, request.headers)


def test_during_a_rotation_the_old_and_the_new_secret_both_verify(conn, dev, registry, account_id, receiver):
    old = learn_secret(conn, account_id)
    with db.service_transaction(conn) as cur:
        new = signing.rotate(cur, account_id, 3600)["secret"]
    run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}]))
    assert execute(conn, dev, registry, run_id)["status"] == "succeeded"
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(request.body, request.headers)


def test_receiver_down_then_up_gets_the_webhook_once(conn, dev, registry, account_id, redis_url):
    receiver = Receiver()  # not started: connections to its port are refused
    run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}]))
    assert execute(conn, dev, registry, run_id)["status"] == "retrying"
    [row] = ledger(conn, run_id, "webhook")
    assert row["status"] == "pending" and row["attempts"] == 1 and "ConnectionRefusedError" in row["last_error"]

    receiver.start()
    try:
        push_retry_now(conn, redis_url, run_id)
        assert execute(conn, dev, registry, run_id, 2)["status"] == "succeeded"
        push_retry_now(conn, redis_url, run_id)  # nothing to push: the run is final
        assert execute(conn, dev, registry, run_id, 2)["status"] == "duplicate"
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1
    [row] = ledger(conn, run_id, "webhook")
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert receiver.requests[0].headers["webhook-id"] == row["message_id"]


def test_a_500_then_a_200_is_retried_once_with_the_same_webhook_id(conn, dev, registry, account_id, redis_url):
    receiver = Receiver(answers=[(500, {}, b"database on fire"), (200, {}, b"")]).start()
    try:
        secret = learn_secret(conn, account_id)
        run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}]))
        assert execute(conn, dev, registry, run_id)["status"] == "retrying"
        [row] = ledger(conn, run_id, "webhook")
        assert row["status"] == "pending" and row["last_error"] == "answered 500: database on fire"
        push_retry_now(conn, redis_url, run_id)
        assert execute(conn, dev, registry, run_id, 2)["status"] == "succeeded"
    finally:
        receiver.stop()
    first, second = receiver.requests
    [row] = ledger(conn, run_id, "webhook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row["message_id"]
    assert first.body == second.body  # the same message; only its timestamp and signature are the attempt's
    for request in (first, second):
        Webhook(secret).verify(request.body, request.headers)
    assert run_row(conn, run_id)["status"] == "succeeded"


def test_a_410_disables_the_endpoint_and_later_runs_do_not_send_to_it(conn, dev, registry, account_id):
    receiver = Receiver(answers=[(410, {}, b"gone")]).start()
    try:
        schedule_id = with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}])
        run_id = make_run(conn, schedule_id)
        assert execute(conn, dev, registry, run_id)["status"] == "delivery_failed"
        [row] = ledger(conn, run_id, "webhook")
        assert row["status"] == "failed" and row["attempts"] == 1
        assert "answered 410" in row["last_error"] and "disabled" in row["last_error"]
        [channel] = fetch(conn, "SELECT * FROM schedule_channels WHERE schedule_id = %s", schedule_id)
        assert channel["disabled_at"] is not None and "410 Gone" in channel["disabled_reason"]

        later = make_run(conn, schedule_id)
        assert execute(conn, dev, registry, later)["status"] == "succeeded"  # nothing left to deliver
        assert ledger(conn, later, "webhook") == []
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed(conn, dev, registry, account_id):
    elsewhere = Receiver().start()
    receiver = Receiver(answers=[(302, {"Location": elsewhere.url("/elsewhere")}, b"")]).start()
    try:
        run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}]))
        assert execute(conn, dev, registry, run_id)["status"] == "retrying"
    finally:
        receiver.stop()
        elsewhere.stop()
    assert len(receiver.requests) == 1 and elsewhere.requests == []
    [row] = ledger(conn, run_id, "webhook")
    assert row["status"] == "pending"
    assert row["last_error"] == f"answered 302: redirects are not followed (Location: {elsewhere.url('/elsewhere')})"


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/hook", "http://localhost:{port}/hook",
                                 "https://localhost:{port}/hook", "https://10.1.2.3/hook",
                                 "https://169.254.169.254/latest/meta-data", "https://[::1]:{port}/hook"])
def test_in_production_a_non_public_address_is_refused_at_send_time(conn, worker_env, registry, account_id,
                                                                    receiver, url):
    """Saved while allowed (or resolving elsewhere, as with DNS rebinding), refused when sending: not retried."""
    production = load_settings({**worker_env, "ENVIRONMENT": "production"})
    url = url.format(port=receiver.port)
    run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": url}]))
    assert execute(conn, production, registry, run_id)["status"] == "delivery_failed"
    [row] = ledger(conn, run_id, "webhook")
    assert row["status"] == "failed" and row["last_error"].startswith("refused: ")
    assert ("https://" in row["last_error"]) if url.startswith("http:") else ("address" in row["last_error"])
    assert receiver.requests == []


def test_a_slow_receiver_times_out_and_is_retried(conn, worker_env, registry, account_id):
    settings = load_settings({**worker_env, "WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_TIMEOUT": "0.3"})
    receiver = Receiver(delay=1.5).start()
    try:
        run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}]))
        started = datetime.now(timezone.utc)
        assert execute(conn, settings, registry, run_id)["status"] == "retrying"
        assert (datetime.now(timezone.utc) - started).total_seconds() < 1.5
    finally:
        receiver.stop()
    [row] = ledger(conn, run_id, "webhook")
    assert row["status"] == "pending" and "timed out" in row["last_error"]


def test_a_huge_answer_is_read_only_up_to_the_cap(conn, worker_env, registry, account_id):
    settings = load_settings({**worker_env, "WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_MAX_RESPONSE_BYTES": "1024"})
    receiver = Receiver(answers=[(500, {}, b"x" * 5_000_000)]).start()
    try:
        run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()}]))
        assert execute(conn, settings, registry, run_id)["status"] == "retrying"
    finally:
        receiver.stop()
    [row] = ledger(conn, run_id, "webhook")
    assert row["last_error"] == "answered 500: " + "x" * 200


def test_a_slack_receiver_gets_the_title_the_link_and_the_time_in_the_schedule_zone(
        conn, dev, registry, account_id, slack):
    schedule_id = with_channels(conn, account_id, [{"type": "slack", "url": slack.url("/services/T1/B2/secret")}],
                                task="generate_report", timezone="America/New_York")
    run_id = make_run(conn, schedule_id)
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedule_runs SET scheduled_for = '2026-03-09T13:00:00Z' WHERE id = %s", (run_id,))
    assert execute(conn, dev, registry, run_id)["status"] == "succeeded"

    [request] = slack.requests
    assert request.path == "/services/T1/B2/secret"
    assert request.headers["content-type"] == "application/json"
    assert "webhook-signature" not in request.headers
    result = run_row(conn, run_id)["result"]
    assert result["title"] == "Market Snapshot for San Diego"
    when = "Mon 09 Mar 2026, 09:00 EDT (America/New_York)"
    assert request.json() == {
        "text": f"Market Snapshot for San Diego: {result['report_url']} (run of {when})",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text":
                    f"*<{result['report_url']}|Market Snapshot for San Diego>*\n"
                    f"Run of {when} · schedule “Weekly Market Snapshot”"}}],
    }
    [row] = ledger(conn, run_id, "slack")
    assert row["status"] == "sent"


def test_one_run_is_delivered_by_email_webhook_and_slack_each_exactly_once(
        conn, dev, worker_env, registry, account_id, receiver, slack, smtp_server, redis_url):
    settings = load_settings({**worker_env, "WEBHOOK_ALLOW_LOOPBACK": "true", "SMTP_URL": smtp_server.url})
    secret = learn_secret(conn, account_id)
    schedule_id = with_channels(conn, account_id, [{"type": "webhook", "url": receiver.url()},
                                                   {"type": "slack", "url": slack.url("/services/T/B/x")}],
                                recipients=["client@example.com"], task="generate_report")
    run_id = make_run(conn, schedule_id)
    assert execute(conn, settings, registry, run_id) == {"status": "succeeded", "emails_sent": 3}
    # The same job delivered again (or a presumed-dead worker waking up) sends nothing more.
    assert execute(conn, settings, registry, run_id)["status"] == "duplicate"
    push_retry_now(conn, redis_url, run_id)

    rows = fetch(conn, "SELECT channel, status, attempts, message_id FROM deliveries WHERE run_id = %s"
                       " ORDER BY channel", run_id)
    assert [(r["channel"], r["status"], r["attempts"]) for r in rows] == [
        ("email", "sent", 1), ("slack", "sent", 1), ("webhook", "sent", 1)]
    [mail] = smtp_server.messages
    assert email.message_from_bytes(mail.content, policy=email.policy.compat32)["Message-ID"] == rows[0]["message_id"]
    assert len(slack.requests) == 1 and len(receiver.requests) == 1
    Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    assert receiver.requests[0].headers["webhook-id"] == rows[2]["message_id"]
    assert run_row(conn, run_id)["status"] == "succeeded"


def test_a_failing_slack_url_is_masked_in_the_run_error_and_the_log(conn, dev, registry, account_id, caplog):
    slack = Receiver(answers=[(500, {}, b"internal")]).start()
    try:
        url = slack.url("/services/T1/B2/topsecretWXYZ")
        run_id = make_run(conn, with_channels(conn, account_id, [{"type": "slack", "url": url}]))
        assert execute(conn, dev, registry, run_id)["status"] == "retrying"
    finally:
        slack.stop()
    error = run_row(conn, run_id)["error"]
    assert f"http://127.0.0.1:{slack.port}/…WXYZ: answered 500: internal" in error
    assert "topsecret" not in error and "topsecret" not in caplog.text
    assert f"127.0.0.1:{slack.port}/…WXYZ" in caplog.text
