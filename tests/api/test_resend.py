"""POST /v1/schedules/{id}/runs/{run_id}/resend: the resend is recorded (a pending run of its own,
trigger resend, with its ledger made now) and shown among the run's deliveries with who asked; bad
subsets are 400s naming each entry, a run without a result a 409, another tenant's run a 404. The worker's
part (delivery, suppression, counters) is tested in tests/worker/test_resend.py."""
from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import bearer
from tests.api.test_run_detail import add_delivery, add_run


@pytest.fixture
def delivered(create, conn):
    """A run that delivered to a@ and failed b@ (b's mailbox refused it), with its stored result."""
    schedule = create(recipients=["a@example.com", "b@example.com"],
                      channels=[{"type": "webhook", "url": "https://93.184.215.14/hooks"}])
    run_id = add_run(conn, schedule["id"], "delivery_failed", result='{"report_url": "https://r.example.com/1"}')
    add_delivery(conn, run_id, "a@example.com", "sent", attempts=1)
    add_delivery(conn, run_id, "b@example.com", "failed", attempts=1, last_error="550 mailbox full")
    add_delivery(conn, run_id, "https://93.184.215.14/hooks", "sent", channel="webhook")
    return schedule, run_id


def resend(client, headers, schedule_id, run_id, body=None):
    return client.post(f"/v1/schedules/{schedule_id}/runs/{run_id}/resend", json=body, headers=headers)


def test_a_resend_to_one_recipient_is_recorded_and_listed_with_who_asked(client, account_id, delivered):
    schedule, run_id = delivered
    headers = bearer(account_id, subject="alice")
    response = resend(client, headers, schedule["id"], run_id, {"recipients": ["B@example.com"]})
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert (answer["trigger"], answer["status"], answer["resend_of"], answer["requested_by"]) == (
        "resend", "pending", run_id, "alice")
    assert answer["result"] == {"report_url": "https://r.example.com/1"}
    assert [(d["target"], d["status"]) for d in answer["deliveries"]] == [("b@example.com", "pending")]

    run = client.get(f"/v1/schedules/{schedule['id']}/runs/{run_id}", headers=headers).get_json()
    assert run["status"] == "delivery_failed"
    rows = [(d["target"], d["status"], d["resend_id"], d["requested_by"]) for d in run["deliveries"]]
    assert rows[-1] == ("b@example.com", "pending", answer["id"], "alice")
    assert [row[2] for row in rows[:3]] == [None, None, None]
    assert [(r["id"], r["status"], r["requested_by"]) for r in run["resends"]] == [(answer["id"], "pending", "alice")]
    # Not among the schedule's runs, unless asked for by trigger.
    runs = client.get(f"/v1/schedules/{schedule['id']}/runs", headers=headers).get_json()["runs"]
    assert [r["id"] for r in runs] == [run_id]
    resends = client.get(f"/v1/schedules/{schedule['id']}/runs?trigger=resend", headers=headers).get_json()["runs"]
    assert [r["id"] for r in resends] == [answer["id"]]


def test_a_resend_to_everyone_and_to_a_channel(client, auth, delivered):
    schedule, run_id = delivered
    everyone = resend(client, auth, schedule["id"], run_id).get_json()
    assert sorted(d["target"] for d in everyone["deliveries"]) == [
        "a@example.com", "b@example.com", "https://93.184.215.14/hooks"]
    channel_id = schedule["channels"][0]["id"]
    hook = resend(client, auth, schedule["id"], run_id, {"channels": [channel_id], "recipients": None}).get_json()
    assert [(d["channel"], d["target"]) for d in hook["deliveries"]] == [("webhook", "https://93.184.215.14/hooks")]
    # Resending a resend resends its original.
    again = resend(client, auth, schedule["id"], hook["id"], {"recipients": ["a@example.com"]}).get_json()
    assert again["resend_of"] == run_id


@pytest.mark.parametrize("body, fields", [
    ({"recipients": ["z@example.com", "a@example.com"]}, {"recipients": {"0": ["not a recipient of this run"]}}),
    ({"channels": [str(uuid.uuid4())]}, {"channels": {"0": ["not a channel of this schedule this run went to"]}}),
    ({"recipients": [], "channels": []},
     {"recipients": ["name at least one recipient or channel (or leave both out: everyone)"]}),
    ({"recipients": "a@example.com", "channels": ["x"], "extra": 1},
     {"recipients": ["Not a valid list."], "channels": {"0": ["Not a valid UUID."]}, "extra": ["Unknown field."]}),
])
def test_a_bad_subset_is_a_400_naming_each_entry(client, auth, delivered, body, fields):
    schedule, run_id = delivered
    response = resend(client, auth, schedule["id"], run_id, body)
    assert response.status_code == 400
    assert response.get_json()["fields"] == fields


def test_a_run_without_a_result_is_a_409_and_another_tenants_run_a_404(client, auth, other_auth, create, conn,
                                                                       delivered):
    schedule = create()
    failed = add_run(conn, schedule["id"], "failed", error="boom")
    response = resend(client, auth, schedule["id"], failed)
    assert response.status_code == 409
    assert response.get_json()["reason"] == "no_result" and "no stored result" in response.get_json()["message"]
    theirs, run_id = delivered
    assert resend(client, other_auth, theirs["id"], run_id).status_code == 404
    assert resend(client, auth, schedule["id"], run_id).status_code == 404  # another schedule's run
    assert resend(client, auth, theirs["id"], uuid.uuid4()).status_code == 404
