"""The console's schedule page shows the schedule's webhook and Slack channels and their deliveries,
a Slack URL always masked (it is a credential), a disabled channel with why."""
from __future__ import annotations

import re

from core.deliveries import channels
from core.ops import db
from core.schedule import schedules
from tests.console.conftest import csrf_of, make_schedule

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
    assert '<span class="url">https://hooks.slack.com/…WXYZ</span>' in page
    assert "Slack: https://hooks.slack.com/…WXYZ" in page
    assert re.search(r'https://example.com/hook</span> <span class="status status-failed">disabled</span> '
                     r'<span class="muted">the receiver answered 410 Gone', page)


def test_a_channel_disabled_by_a_410_is_re_enabled_from_the_schedule_page(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    with db.service_transaction(conn) as cur:
        channels.save(cur, account_id, schedule["id"], [{"type": "webhook", "url": "https://example.com/hook"}])
        cur.execute("UPDATE schedule_channels SET disabled_at = now(), disabled_reason = '410 Gone' RETURNING id")
        channel_id = cur.fetchone()["id"]
    page = signed_in.get(f"/console/schedules/{schedule['id']}").get_data(as_text=True)
    assert f'data-enable-channel="{channel_id}"' in page
    response = signed_in.post(f"/console/schedules/{schedule['id']}/channels/{channel_id}/enable",
                              data={"csrf_token": csrf_of(signed_in)})
    assert response.status_code == 302
    with db.tenant_transaction(conn, account_id) as cur:
        assert [c["status"] for c in schedules.get(cur, account_id, schedule["id"])["channels"]] == ["active"]
    page = signed_in.get(f"/console/schedules/{schedule['id']}").get_data(as_text=True)
    assert "data-enable-channel" not in page
