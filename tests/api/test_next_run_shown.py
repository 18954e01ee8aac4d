"""next_run_at tells the truth while a schedule is paused or off (issue 26): null when nothing is
promised (paused with no end, disabled), the first run after the pause when it has an end (as the
saved schedule's preview lists it), in every answer that shows a schedule."""
from __future__ import annotations

from freezegun import freeze_time

from tests.api.conftest import bearer

NEW_YORK_WEEKLY = {"name": "Mondays", "cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "send_minute": 0,
                   "timezone": "America/New_York", "recipients": ["ann@example.com"]}


def _shown_everywhere(client, headers, sid) -> set:
    """next_run_at as GET, the list and the list of inactive ones show it."""
    one = client.get(f"/v1/schedules/{sid}", headers=headers).get_json()["next_run_at"]
    listed = client.get("/v1/schedules?active_only=false", headers=headers).get_json()["schedules"]
    return {one, *(row["next_run_at"] for row in listed if row["id"] == sid)}


def test_paused_until_an_instant_shows_the_first_run_after_it_as_the_preview_does(client, account_id):
    with freeze_time("2026-03-04 15:00:00"):  # a Wednesday
        headers = bearer(account_id)
        sid = client.post("/v1/schedules", json=NEW_YORK_WEEKLY, headers=headers).get_json()["id"]
        paused = client.post(f"/v1/schedules/{sid}/pause", json={"until": "2026-03-20T00:00:00Z"}, headers=headers)
        assert paused.get_json()["next_run_at"] == "2026-03-23T13:00:00Z"  # the Monday after, 09:00 EDT
        assert _shown_everywhere(client, headers, sid) == {"2026-03-23T13:00:00Z"}
        preview = client.get(f"/v1/schedules/{sid}/preview?count=1", headers=headers).get_json()
        assert preview["runs"][0]["dispatch_at"] == "2026-03-23T13:00:00Z"


def test_paused_with_no_end_or_disabled_shows_no_next_run(client, account_id):
    with freeze_time("2026-03-04 15:00:00"):
        headers = bearer(account_id)
        paused = client.post("/v1/schedules", json=NEW_YORK_WEEKLY, headers=headers).get_json()["id"]
        off = client.post("/v1/schedules", json={**NEW_YORK_WEEKLY, "name": "Off"}, headers=headers).get_json()["id"]
        response = client.post(f"/v1/schedules/{paused}/pause", json={"note": "holiday"}, headers=headers)
        assert response.status_code == 200
        assert client.post(f"/v1/schedules/{off}/disable", headers=headers).status_code == 200
        assert _shown_everywhere(client, headers, paused) == {None}
        assert _shown_everywhere(client, headers, off) == {None}
        resumed = client.post(f"/v1/schedules/{paused}/resume", headers=headers).get_json()
        assert resumed["next_run_at"] == "2026-03-09T13:00:00Z"
