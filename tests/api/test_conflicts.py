"""Conflict warnings (seed 003): a schedule that does exactly what another ACTIVE schedule of the account
does (same task, parameters, report fields and timing) is created or edited all the same, with a
warning naming the other; the warning goes when they differ again. Reads do not look for conflicts
(it would cost every GET a scan of the tenant's schedules), so only writes answer with warnings."""
from __future__ import annotations


def warning(other) -> str:
    return f"duplicates schedule {other['id']} ('{other['name']}'): same task, parameters and timing"


def patch(client, auth, schedule, **changes):
    response = client.patch(f"/v1/schedules/{schedule['id']}", json=changes, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_creating_a_duplicate_warns_and_still_creates(client, auth, create):
    first = create(task_parameters={"a": 1, "b": [1, 2]})
    assert first["warnings"] == []
    second = create(name="Copy", recipients=["other@example.com"], task_parameters={"b": [1, 2], "a": 1})
    assert second["warnings"] == [warning(first)]  # recipients and names are not what a schedule does
    assert "warnings" not in client.get(f"/v1/schedules/{second['id']}", headers=auth).get_json()
    third = create(name="Third", task_parameters={"a": 1, "b": [1, 2]})
    assert third["warnings"] == [warning(first), warning(second)]


def test_a_patch_that_makes_them_differ_clears_the_warning_and_one_back_brings_it(client, auth, create):
    first = create()
    second = create(name="Copy")
    assert patch(client, auth, second, send_hour=10)["warnings"] == []
    assert patch(client, auth, second, send_hour=9)["warnings"] == [warning(first)]
    assert patch(client, auth, second, city="Los Angeles")["warnings"] == []
    assert patch(client, auth, second, city="San Diego", task_parameters={"x": 1})["warnings"] == []
    assert patch(client, auth, second, task_parameters={}, timezone="America/New_York")["warnings"] == []
    assert patch(client, auth, second, timezone="UTC")["warnings"] == [warning(first)]


def test_only_active_schedules_of_the_same_account_count(client, auth, other_auth, create):
    first = create()
    second = create(name="Copy")
    assert second["warnings"] == [warning(first)]
    client.post(f"/v1/schedules/{first['id']}/disable", headers=auth)
    assert patch(client, auth, second, name="Copy 2")["warnings"] == []
    enabled = client.post(f"/v1/schedules/{first['id']}/enable", headers=auth).get_json()
    assert enabled["warnings"] == [warning({**second, "name": "Copy 2"})]
    assert create(headers=other_auth)["warnings"] == []


def test_the_warnings_field_is_documented_and_read_only(client, auth):
    spec = client.get("/openapi.json").get_json()
    schema = spec["components"]["schemas"]["ScheduleWithWarnings"]["properties"]["warnings"]
    assert schema["readOnly"] is True and schema["type"] == "array"
    response = client.post("/v1/schedules", json={"name": "x", "cadence": "daily", "warnings": []}, headers=auth)
    assert response.status_code == 400 and "warnings" in response.get_json()["fields"]


def test_schedules_that_share_occurrences_warn_however_their_rules_are_written(client, auth, create):
    weekly = create(timezone="America/New_York")  # Monday 09:00 New York
    as_cron = create(name="Cron", cadence="cron", cron_expression="0 9 * * 1", weekly_dow=None,
                     timezone="America/New_York")
    assert len(as_cron["warnings"]) == 1
    assert as_cron["warnings"][0].startswith(f"shares occurrences with schedule {weekly['id']} ('Weekly Market")
    daily = create(name="Daily", cadence="daily", weekly_dow=None, timezone="America/New_York")
    assert len(daily["warnings"]) == 2  # every Monday of the daily one is the others' Monday
    tuesday = create(name="Tuesday", weekly_dow=2, timezone="America/New_York")
    assert [w for w in tuesday["warnings"] if weekly["id"] in w or as_cron["id"] in w] == []
    other_work = create(name="Other city", city="Los Angeles", timezone="America/New_York")
    assert other_work["warnings"] == []
