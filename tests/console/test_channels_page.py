"""The console's schedule page shows the schedule's webhook and Slack channels and their deliveries,
a Slack URL always masked (it is a credential), a disabled channel with why."""
from __future__ import annotations

from core.deliveries import channels
from core.ops import db
from tests.console.conftest import make_schedule

SLACK = "https://hooks.slack.com/services/T000/B000/topsecretWXYZ"


def test_the_schedule_page_shows_channels_and_their_deliveries_with_slack_masked(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    with db.service_transaction(conn) as cur:
        channels.save(cur, account_id, schedule["id"], [{"type": "webhook", "url": "https://example.com/hook"},
                                                        {"type": "slack", "url": SLACK}])
        cur.execute("UPDATE schedule_channels SET disabled_at = now(), disabled_reason = 'the receiver answered"
                    " 410 Gone on 2026-11-29 21:00 UTC' WHERE type = 'webhook'")
        cur.execute("INSERT INTO schedule_runs (schedule_id, account_id, status, trigger, scheduled_for, started_at)"
                    " VALUES (%s, %s, 'retrying', 'schedule', now(), now()) RETURNING id", (schedule["id"], account_id))
        run_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO deliveries (run_id, account_id, channel, target, status, attempts, last_error,"
                    " message_id) VALUES (%s, %s, 'slack', %s, 'pending', 1, 'answered 500', 'msg_1')",
                    (run_id, account_id, SLACK))
    page = signed_in.get(f"/console/schedules/{schedule['id']}").get_data(as_text=True)
    assert "topsecret" not in page
    assert "Slack https://hooks.slack.com/…WXYZ" in page and "Slack: https://hooks.slack.com/…WXYZ" in page
    assert "Webhook https://example.com/hook (disabled: the receiver answered 410 Gone" in page
