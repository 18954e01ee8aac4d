"""GET /v1/schedules and /v1/schedules/{id}: seed 001's list shape, filters, pages, and 404s."""
from __future__ import annotations


import pytest

from tests.api.conftest import as_read


def test_get_returns_the_schedule(client, auth, create):
    created = create()
    response = client.get(f"/v1/schedules/{created['id']}", headers=auth)
    assert response.status_code == 200
    assert response.get_json() == as_read(created)


# A fixed id no schedule has (each test's database starts empty): the same ids in every xdist worker.
@pytest.mark.parametrize("schedule_id", ["3b241101-e2bb-4255-8caf-4136c566a962", "not-a-uuid", "123", "stats-x",
                                         "%00"])
def test_missing_or_malformed_id_is_a_404(client, auth, schedule_id):
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(f"/v1/schedules/{schedule_id}", json={}, headers=auth)
        assert response.status_code == 404, (method, response.get_json())
        assert response.get_json()["error"] == "not_found"
    for action in ("runs", "run", "enable", "disable"):
        method = "get" if action == "runs" else "post"
        response = getattr(client, method)(f"/v1/schedules/{schedule_id}/{action}", json={}, headers=auth)
        assert response.status_code == 404, (action, response.get_json())


def test_list_has_seed_001s_shape(client, auth, create):
    create(name="one")
    create(name="two")
    body = client.get("/v1/schedules", headers=auth).get_json()
    assert body["count"] == 2 and body["total"] == 2
    assert body["page"] == 1 and body["page_size"] == 50 and body["pages"] == 1
    assert [s["name"] for s in body["schedules"]] == ["two", "one"]  # newest first


def test_list_is_active_only_by_default(client, auth, create):
    create(name="on")
    create(name="off", active=False)
    assert [s["name"] for s in client.get("/v1/schedules", headers=auth).get_json()["schedules"]] == ["on"]
    every = client.get("/v1/schedules?active_only=false", headers=auth).get_json()
    assert {s["name"] for s in every["schedules"]} == {"on", "off"}


def test_list_filters_by_cadence_task_and_tag(client, auth, create):
    create(name="weekly-ops", tags=["ops"])
    create(name="daily", cadence="daily", tags=["ops", "sales"])
    create(name="weekly-sales", tags=["sales"])

    def names(query):
        response = client.get(f"/v1/schedules?{query}", headers=auth)
        assert response.status_code == 200, response.get_json()
        return {s["name"] for s in response.get_json()["schedules"]}

    assert names("cadence=daily") == {"daily"}
    assert names("tag=ops") == {"weekly-ops", "daily"}
    assert names("tag=sales&cadence=weekly") == {"weekly-sales"}
    assert names("task=generate_report") == {"weekly-ops", "daily", "weekly-sales"}
    assert names("task=other") == set()


def test_pagination(client, auth, create):
    for i in range(5):
        create(name=f"s{i}")
    pages = [client.get(f"/v1/schedules?page={page}&page_size=2", headers=auth).get_json() for page in (1, 2, 3, 4)]
    assert [[s["name"] for s in page["schedules"]] for page in pages] == [["s4", "s3"], ["s2", "s1"], ["s0"], []]
    assert all(page["total"] == 5 and page["pages"] == 3 and page["page_size"] == 2 for page in pages)
    assert [page["count"] for page in pages] == [2, 2, 1, 0]
    assert [page["page"] for page in pages] == [1, 2, 3, 4]


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page_size=101", "page_size"), ("page_size=0", "page_size"), ("page=x", "page"),
    ("cadence=yearly", "cadence"), ("active_only=perhaps", "active_only"), ("tag=" + "x" * 51, "tag"),
])
def test_bad_list_arguments_are_a_400(client, auth, query, field):
    response = client.get(f"/v1/schedules?{query}", headers=auth)
    assert response.status_code == 400
    assert field in response.get_json()["fields"]


def test_timestamps_are_rfc3339_utc(client, auth, create):
    created = create(timezone="America/New_York", start_at="2030-06-01T12:00:00+02:00")
    body = client.get(f"/v1/schedules/{created['id']}", headers=auth).get_json()
    assert body["start_at"] == "2030-06-01T10:00:00Z"
    for name in ("next_run_at", "created_at", "updated_at"):
        assert body[name].endswith("Z"), name
