"""/openapi.json is an OpenAPI 3 document generated from the schemas, listing every route; /docs serves.

openapi-spec-validator is used when installed; otherwise the structure is checked here: version,
every route of the app with each of its methods, path parameters, the bearer scheme, and every $ref
pointing at something that exists.
"""
from __future__ import annotations

import re

import pytest

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
            assert declared[0]["schema"].get("format") == "uuid"


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
