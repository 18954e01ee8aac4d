"""The console's deliver_when field, resend and bulk forms without a browser: what each POST saves,
and the one-line refusals (nothing ticked, a bad e-mail, a disabled schedule), never a 500."""
from __future__ import annotations

from core.ops import db
from tests.console.conftest import csrf_of, make_schedule
from tests.console.test_pages import FORM


def _page(response) -> str:
    return response.get_data(as_text=True)


def test_deliver_when_is_set_on_the_form_and_recorded_in_the_history(signed_in, conn, account_id):
    response = signed_in.post("/console/schedules/new", data={**FORM, "deliver_when": "not_empty",
                                                               "csrf_token": csrf_of(signed_in)})
    assert response.status_code == 302
    schedule_id = response.headers["Location"].rsplit("/", 1)[1]
    page = _page(signed_in.get(f"/console/schedules/{schedule_id}"))
    assert "only when the report is not empty" in page
    edit = _page(signed_in.get(f"/console/schedules/{schedule_id}/edit"))
    assert '<option value="not_empty" selected>' in edit
    refused = signed_in.post(f"/console/schedules/{schedule_id}/edit",
                             data={**FORM, "deliver_when": "sometimes", "csrf_token": csrf_of(signed_in)})
    assert refused.status_code == 400 and "Must be one of: always, not_empty, changed." in _page(refused)
    signed_in.post(f"/console/schedules/{schedule_id}/edit",
                   data={**FORM, "deliver_when": "changed", "csrf_token": csrf_of(signed_in)})
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT changes FROM schedule_changes WHERE schedule_id = %s ORDER BY version DESC LIMIT 1",
                    (schedule_id,))
        assert cur.fetchone()["changes"] == {"deliver_when": {"old": "not_empty", "new": "changed"}}


def test_resend_with_nothing_ticked_or_without_a_result_says_why(signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, scheduled_for) VALUES (%s, 'failed', now())"
                    " RETURNING id", (schedule["id"],))
        run_id = cur.fetchone()["id"]
    url = f"/console/schedules/{schedule['id']}/runs/{run_id}/resend"
    nothing = signed_in.post(url, data={"csrf_token": csrf_of(signed_in)}, follow_redirects=True)
    assert "Nothing resent: tick the deliveries to send again, or resend to all." in _page(nothing)
    no_result = signed_in.post(url, data={"csrf_token": csrf_of(signed_in), "all": "1"}, follow_redirects=True)
    assert "has no stored result to resend" in _page(no_result)
    assert signed_in.post(f"/console/schedules/{schedule['id']}/runs/{schedule['id']}/resend",
                          data={"csrf_token": csrf_of(signed_in), "all": "1"}).status_code == 404


def test_bulk_refusals_are_one_line_and_change_nothing(signed_in, conn, account_id):
    on = make_schedule(conn, account_id, name="On")
    off = make_schedule(conn, account_id, name="Off", active=False)
    csrf = csrf_of(signed_in)
    none = signed_in.post("/console/bulk", data={"csrf_token": csrf, "action": "pause"}, follow_redirects=True)
    assert "Nothing changed: tick the schedules to change first." in _page(none)
    bad = signed_in.post("/console/bulk", data={"csrf_token": csrf, "action": "add_recipient", "ids": [on["id"]],
                                                "email": "not-an-address"}, follow_redirects=True)
    assert "Nothing changed: email: Not a valid email address." in _page(bad)
    review = signed_in.post("/console/bulk", data={"csrf_token": csrf, "action": "pause",
                                                   "ids": [on["id"], off["id"]]})
    page = _page(review)
    assert review.status_code == 200 and "1 of 2 selected schedules would change" in page
    assert "not possible: the schedule is disabled" in page
    done = signed_in.post("/console/bulk", data={"csrf_token": csrf, "action": "pause", "confirm": "1",
                                                 "ids": [on["id"], off["id"]]}, follow_redirects=True)
    assert "Pause: 1 schedule(s) changed, 1 refused." in _page(done)
