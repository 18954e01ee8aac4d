"""/openapi.json is an OpenAPI 3 document generated from the schemas, listing every route; /docs serves.

openapi-spec-validator is used when installed; otherwise the structure is checked here: version,
every route of the app with each of its methods, path parameters, the bearer scheme, and every $ref
pointing at something that exists.
"""
from __future__ import annotations

import re

import pytest

from core import runstates

DOC_ROUTES = {"/openapi.json", "/docs", "/static/<path:filename>"}
# The console's pages (HTML for people, api/console/) and `/` are not part of the JSON API.
PAGE_ENDPOINTS = ("console.", "docs.")


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _app_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule in DOC_ROUTES or rule.rule.startswith("/docs/") or rule.endpoint.startswith(PAGE_ENDPOINTS):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        yield path, {m.lower() for m in rule.methods} - {"head", "options"}


def test_the_document_is_openapi_3(spec):
    assert spec["openapi"] == "3.0.3"
    assert spec["info"]["title"] and spec["info"]["version"]
    try:
        from openapi_spec_validator import validate
    except ImportError:
        return
    validate(spec)


def test_every_route_is_listed_with_its_methods(app, spec):
    routes = list(_app_routes(app))
    assert len(routes) >= 10
    for path, methods in routes:
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, methods)
    assert {"/v1/schedules/stats", "/v1/schedules/due", "/v1/schedules/preview", "/healthz"} <= set(spec["paths"])


def test_path_parameters_are_declared(spec):
    for path, item in spec["paths"].items():
        for name in re.findall(r"{([^}]+)}", path):
            declared = [p for p in item.get("parameters", []) if p["in"] == "path" and p["name"] == name]
            assert declared and declared[0]["required"] is True, path
            if name == "email":
                assert declared[0]["schema"] == {"type": "string"}, path
            else:
                assert declared[0]["schema"].get("format") == "uuid", path


def test_the_run_lifecycle_routes_are_listed(spec):
    paths = spec["paths"]
    detail = paths["/v1/schedules/{schedule_id}/runs/{run_id}"]["get"]
    answer = detail["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/RunDetail"}
    assert "404" in detail["responses"]
    assert {"get", "post"} <= set(paths["/v1/email/suppressions"])
    assert {"204", "404"} <= set(paths["/v1/email/suppressions/{email}"]["delete"]["responses"])
    assert "201" in paths["/v1/email/suppressions"]["post"]["responses"]
    query = {p["name"]: p for p in paths["/v1/email/suppressions"]["get"]["parameters"]}
    assert set(query) == {"q", "page", "page_size"} and query["page_size"]["schema"]["maximum"] == 100


def test_run_and_delivery_statuses_are_enumerated(spec):
    schemas = spec["components"]["schemas"]
    for name in ("Run", "RunDetail", "RunNow"):
        assert schemas[name]["properties"]["status"]["enum"] == list(runstates.ALL), name
        assert "not_before" in schemas[name]["properties"], name
    deliveries = schemas["RunDetail"]["properties"]["deliveries"]
    assert deliveries["items"] == {"$ref": "#/components/schemas/Delivery"}
    delivery = schemas["Delivery"]["properties"]
    assert delivery["status"]["enum"] == list(runstates.DELIVERY_STATUSES)
    assert {"channel", "target", "attempts", "last_error", "message_id", "sent_at"} <= set(delivery)
    runs_query = {p["name"]: p for p in spec["paths"]["/v1/schedules/{schedule_id}/runs"]["get"]["parameters"]}
    assert runs_query["status"]["schema"]["enum"] == list(runstates.ALL)


def test_overlap_policy_is_enumerated_with_its_default(spec):
    policy = spec["components"]["schemas"]["Schedule"]["properties"]["overlap_policy"]
    assert policy["enum"] == list(runstates.OVERLAP_POLICIES)
    assert policy["default"] == "skip"


def test_bearer_security_applies_to_v1_and_not_to_healthz(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_schedule_schema_marks_server_fields_read_only(spec):
    schedule = spec["components"]["schemas"]["Schedule"]
    for name in ("id", "account_id", "next_run_at", "run_count", "created_at"):
        assert schedule["properties"][name]["readOnly"] is True, name
    assert set(schedule["required"]) == {"name", "cadence"}
    assert schedule["properties"]["recipients"]["items"]["format"] == "email"


def test_every_ref_resolves(spec):
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    refs = set(walk(spec))
    assert refs
    for ref in refs:
        target = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def test_operations_have_responses_and_error_shape(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["responses"], (path, method)
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert {"error", "message", "fields"} <= set(error)


def test_docs_page_is_served(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert b"swagger-ui" in response.data and b"/openapi.json" in response.data


def test_docs_assets_come_from_the_app_not_a_cdn(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page and "<script>" not in page
    for path in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert client.get(path).status_code == 200, path
    assert client.get("/docs/assets/index.html").status_code == 404  # only the files the page needs
