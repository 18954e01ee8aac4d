"""/v1/calendars and schedules that follow one: create, use, edit, refuse deletion while used,
another tenant's calendar, and previews whose reasons name the holiday."""
from __future__ import annotations


def make_calendar(client, auth, **overrides):
    body = {"name": "US office", "country": "US", **overrides}
    response = client.post("/v1/calendars", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_read_list_and_edit(client, auth):
    created = make_calendar(client, auth, subdivision="ny", add_dates=["2027-12-27"])
    assert (created["country"], created["subdivision"], created["weekend"]) == ("US", "NY", [6, 7])
    assert created["add_dates"] == ["2027-12-27"] and created["remove_dates"] == []
    assert client.get(f"/v1/calendars/{created['id']}", headers=auth).get_json() == created
    listed = client.get("/v1/calendars", headers=auth).get_json()
    assert listed["count"] == 1 and listed["calendars"][0]["id"] == created["id"]
    patched = client.patch(f"/v1/calendars/{created['id']}", json={"remove_dates": ["2027-12-24"]}, headers=auth)
    assert patched.status_code == 200 and patched.get_json()["remove_dates"] == ["2027-12-24"]


def test_bad_calendars_are_a_400_naming_the_field(client, auth):
    for body, field in [({"name": "x", "country": "XX"}, "country"),
                        ({"name": "x", "country": "GB", "subdivision": "QQ"}, "subdivision"),
                        ({"name": "x", "country": "US", "weekend": [0]}, "weekend"),
                        ({"name": "x", "country": "US", "add_dates": ["2027-13-01"]}, "add_dates"),
                        ({"name": "x", "country": "US", "add_dates": ["2027-01-04"], "remove_dates": ["2027-01-04"]},
                         "remove_dates"),
                        ({"country": "US"}, "name")]:
        response = client.post("/v1/calendars", json=body, headers=auth)
        assert response.status_code == 400, (body, response.get_json())
        assert field in response.get_json()["fields"], (body, response.get_json())


def test_a_schedule_follows_a_calendar_and_its_deletion_is_refused_while_used(client, auth, create):
    calendar = make_calendar(client, auth, country="GB", subdivision="ENG")
    schedule = create(cadence="cron", cron_expression="0 8 * * 1-5", timezone="Europe/London",
                      calendar_id=calendar["id"], on_holiday="skip", name="Weekday report")
    assert (schedule["calendar_id"], schedule["on_holiday"]) == (calendar["id"], "skip")
    refused = client.delete(f"/v1/calendars/{calendar['id']}", headers=auth)
    assert refused.status_code == 409
    answer = refused.get_json()
    assert answer["error"] == "calendar_in_use" and "'Weekday report'" in answer["message"]
    assert answer["schedules"] == [{"id": schedule["id"], "name": "Weekday report"}]
    assert client.patch(f"/v1/schedules/{schedule['id']}", json={"calendar_id": None, "on_holiday": "run"},
                        headers=auth).status_code == 200
    assert client.delete(f"/v1/calendars/{calendar['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/calendars/{calendar['id']}", headers=auth).status_code == 404


def test_preview_explains_skips_and_moves_with_the_holidays_name(client, auth, create):
    calendar = make_calendar(client, auth)
    body = {"cadence": "cron", "cron_expression": "0 9 25 * *", "timezone": "America/New_York",
            "calendar_id": calendar["id"], "on_holiday": "next_business_day"}
    response = client.post("/v1/schedules/preview?after=2027-12-01T00:00:00Z&count=2", json=body, headers=auth)
    assert response.status_code == 200, response.get_json()
    first = response.get_json()["runs"][0]
    assert first["local"] == "2027-12-27T09:00:00-05:00"
    assert first["reasons"] == [{"code": "holiday_moved", "detail": "25 December 2027 is Christmas Day (US): "
                                 "moved to the next business day, 27 December 2027"}]
    saved = create(**body)
    runs = client.get(f"/v1/schedules/{saved['id']}/preview?after=2027-12-01T00:00:00Z&count=1",
                      headers=auth).get_json()["runs"]
    assert runs[0]["reasons"] == first["reasons"]
    skip = {**body, "cron_expression": "0 9 * * *", "on_holiday": "skip"}
    runs = client.post("/v1/schedules/preview?after=2027-12-24T15:00:00Z&count=1", json=skip,
                       headers=auth).get_json()["runs"]
    assert {"code": "holiday_skipped", "detail": "25 December 2027 is Christmas Day (US)"} in runs[0]["reasons"]


def test_the_done_when_schedules(client, auth):
    """09:00 New York on the first Monday; 17:00 Paris on the last business day; weekdays 08:00 London
    except UK public holidays."""
    fr = make_calendar(client, auth, name="Paris", country="FR")
    gb = make_calendar(client, auth, name="London", country="GB", subdivision="ENG")
    first_monday = {"cadence": "monthly", "monthly_week": 1, "monthly_dow": 1, "send_hour": 9,
                    "timezone": "America/New_York"}
    runs = client.post("/v1/schedules/preview?after=2027-01-01T00:00:00Z&count=3", json=first_monday,
                       headers=auth).get_json()["runs"]
    assert [r["local"] for r in runs] == ["2027-01-04T09:00:00-05:00", "2027-02-01T09:00:00-05:00",
                                          "2027-03-01T09:00:00-05:00"]
    last_business = {"cadence": "cron", "cron_expression": "0 17 L * *", "timezone": "Europe/Paris",
                     "calendar_id": fr["id"], "on_holiday": "previous_business_day"}
    runs = client.post("/v1/schedules/preview?after=2027-07-01T00:00:00Z&count=2", json=last_business,
                       headers=auth).get_json()["runs"]
    # 31 July 2027 is a Saturday: Friday the 30th; 31 August is a Tuesday.
    assert [r["local"] for r in runs] == ["2027-07-30T17:00:00+02:00", "2027-08-31T17:00:00+02:00"]
    assert runs[0]["reasons"][0]["code"] == "holiday_moved"
    weekdays = {"cadence": "cron", "cron_expression": "0 8 * * 1-5", "timezone": "Europe/London",
                "calendar_id": gb["id"], "on_holiday": "skip"}
    runs = client.post("/v1/schedules/preview?after=2027-12-24T12:00:00Z&count=1", json=weekdays,
                       headers=auth).get_json()["runs"]
    assert runs[0]["local"] == "2027-12-29T08:00:00+00:00"


def test_another_tenants_calendar_is_not_found_and_cannot_be_followed(client, auth, other_auth):
    calendar = make_calendar(client, other_auth)
    assert client.get(f"/v1/calendars/{calendar['id']}", headers=auth).status_code == 404
    assert client.delete(f"/v1/calendars/{calendar['id']}", headers=auth).status_code == 404
    body = {"cadence": "daily", "calendar_id": calendar["id"], "on_holiday": "skip"}
    response = client.post("/v1/schedules/preview", json=body, headers=auth)
    assert response.status_code == 400 and "calendar_id" in response.get_json()["fields"]
