"""/openapi.json is an OpenAPI 3.1 document generated from the schemas, listing every route; /docs serves.

openapi-spec-validator checks the document; the tests here check what it says: every route with its
methods, path parameters, the bearer scheme, the per-cadence bodies, the status codes and links.
What the live API does against it is test_openapi_conformance.py's (schemathesis, a generated client).
"""
from __future__ import annotations

import re

import pytest

from core import model

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


def test_the_document_is_valid_openapi_3_1(spec):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] and spec["info"]["version"]
    assert list(OpenAPIV31SpecValidator(spec).iter_errors()) == []


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
        assert schemas[name]["properties"]["status"]["enum"] == list(model.RUN_STATUSES), name
        assert "not_before" in schemas[name]["properties"], name
    deliveries = schemas["RunDetail"]["properties"]["deliveries"]
    assert deliveries["items"] == {"$ref": "#/components/schemas/Delivery"}
    delivery = schemas["Delivery"]["properties"]
    assert delivery["status"]["enum"] == list(model.DELIVERY_STATUSES)
    assert {"channel", "target", "attempts", "last_error", "message_id", "sent_at"} <= set(delivery)
    runs_query = {p["name"]: p for p in spec["paths"]["/v1/schedules/{schedule_id}/runs"]["get"]["parameters"]}
    assert runs_query["status"]["schema"]["enum"] == list(model.RUN_STATUSES)


def test_overlap_policy_is_enumerated_with_its_default(spec):
    policy = spec["components"]["schemas"]["Schedule"]["properties"]["overlap_policy"]
    assert policy["enum"] == list(model.OVERLAP_POLICIES)
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
    assert "null" in schedule["properties"]["next_run_at"]["type"]
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


def _resolve(spec, node):
    while "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@pytest.mark.parametrize("path", ["/v1/schedules", "/v1/schedules/preview"])
def test_schedule_bodies_are_one_schema_per_cadence_with_its_required_fields(spec, path):
    from core.model import CADENCES, REQUIRED_BY_CADENCE

    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "cadence"
    mapping = body["discriminator"]["mapping"]
    assert set(mapping) == set(CADENCES) and [{"$ref": ref} for ref in mapping.values()] == body["oneOf"]
    for cadence, ref in mapping.items():
        variant = _resolve(spec, {"$ref": ref})
        assert variant["properties"]["cadence"]["enum"] == [cadence]
        assert set(REQUIRED_BY_CADENCE[cadence]) | {"cadence"} <= set(variant["required"])
        for name in REQUIRED_BY_CADENCE[cadence]:
            assert "null" not in variant["properties"][name].get("type", []), (cadence, name)
    assert ("name" in _resolve(spec, {"$ref": mapping["daily"]})["required"]) == (path == "/v1/schedules")


def test_patch_is_the_partial_form_with_the_same_bounds(spec):
    body = spec["paths"]["/v1/schedules/{schedule_id}"]["patch"]["requestBody"]
    patch = _resolve(spec, body["content"]["application/json"]["schema"])
    assert body.get("required") is False and "required" not in patch
    assert not [name for name, prop in patch["properties"].items() if "default" in prop]  # absent = unchanged
    weekly = _resolve(spec, {"$ref": "#/components/schemas/ScheduleWeekly"})
    for name in ("weekly_dow", "send_hour", "interval_seconds", "timezone", "cron_expression", "start_at"):
        assert patch["properties"][name].items() >= {k: v for k, v in weekly["properties"][name].items()
                                                     if k in ("minimum", "maximum", "format")}.items(), name


def test_bounds_formats_and_patterns_are_what_validation_enforces(spec):
    weekly = _resolve(spec, {"$ref": "#/components/schemas/ScheduleWeekly"})["properties"]
    assert (weekly["weekly_dow"]["minimum"], weekly["weekly_dow"]["maximum"]) == (0, 6)
    assert weekly["monthly_dom"]["not"] == {"const": 0}
    assert weekly["interval_seconds"]["minimum"] == 60
    assert weekly["timezone"]["format"] == "iana-time-zone"
    assert weekly["start_at"]["format"] == "date-time" and weekly["start_at"]["pattern"].startswith("^(19")
    assert weekly["task"]["enum"] == ["generate_report"]
    assert weekly["recipients"]["maxItems"] == 50
    assert weekly["name"]["pattern"] == "^[^\\u0000]*$" and weekly["name"]["maxLength"] == 200
    assert weekly["cron_expression"]["format"] == "cron"


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def test_every_operation_documents_the_errors_it_can_answer(spec):
    for path, method, operation in _operations(spec):
        statuses = set(operation["responses"])
        if operation.get("security") != []:
            assert "401" in statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= statuses, (method, path)
        if path.startswith("/v1/"):
            assert "503" in statuses, (method, path)
    assert "409" in spec["paths"]["/v1/schedules/{schedule_id}/run"]["post"]["responses"]
    assert "409" in spec["paths"]["/v1/schedules/{schedule_id}/enable"]["post"]["responses"]


def test_unsubscribe_routes_document_the_page_and_the_form_post(spec):
    page = spec["paths"]["/v1/email/unsubscribe"]["get"]
    assert set(page["responses"]["200"]["content"]) == {"text/html"}
    assert {p["name"] for p in page["parameters"] if p.get("required")} == {"email", "account_id", "token"}
    post = spec["paths"]["/v1/email/unsubscribe"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    form = _resolve(spec, post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"])
    assert form["properties"]["List-Unsubscribe"]["enum"] == ["One-Click"]
    assert set(post["responses"]["200"]["content"]) == {"application/json", "text/html"}


def test_create_links_to_every_item_route(spec):
    links = spec["paths"]["/v1/schedules"]["post"]["responses"]["201"]["links"]
    item_operations = {operation["operationId"] for path, _, operation in _operations(spec)
                       if re.findall(r"{([^}]+)}", path) == ["schedule_id"]}
    assert set(links) == item_operations and len(item_operations) >= 7
    for link in links.values():
        assert link["parameters"] == {"schedule_id": "$response.body#/id"}
        method = link["operationRef"].rsplit("/", 1)[1]
        path = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)[0].replace("~1", "/").replace("~0", "~")
        assert method in spec["paths"][path]


def test_operation_ids_are_unique(spec):
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids))


def test_docs_assets_come_from_the_app_not_a_cdn(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page and "<script>" not in page
    for path in re.findall(r'(?:src|href)="([^"]+)"', page):
        # The link back to the console leads to its sign-in page when signed out; every asset is served.
        assert client.get(path).status_code == (302 if path == "/console/" else 200), path
    assert client.get("/docs/assets/index.html").status_code == 404  # only the files the page needs
    assert client.get("/favicon.ico").status_code == 200


def test_json_bodies_take_integers_and_booleans_as_the_document_types_them(app):
    """`type: integer` admits 3.0 and `type: boolean` only true/false: a strict marshmallow Integer
    (which refuses 3.0) or a plain Boolean (which takes "yes" and 1) in a body schema would make the API
    disagree with its document; api/fields.py's JsonInteger and StrictBoolean agree with it. Walks the
    body schemas of every route (flask-smorest's @arguments), so a new one is checked too."""
    import marshmallow

    from api.fields import JsonInteger, StrictBoolean

    def fields_of(schema, seen):
        for name, field in schema.fields.items():
            if isinstance(field, marshmallow.fields.Nested) and id(field.schema) not in seen:
                seen.add(id(field.schema))
                yield from fields_of(field.schema, seen)
            inner = getattr(field, "inner", None)
            if isinstance(inner, marshmallow.fields.Nested):
                yield from fields_of(inner.schema, seen)
            yield f"{type(schema).__name__}.{name}", field

    views = []
    for view in app.view_functions.values():
        view_class = getattr(view, "view_class", None)
        views += [getattr(view_class, m) for m in ("get", "post", "patch", "put", "delete") if hasattr(view_class, m)] \
            if view_class else [view]
    arguments = [p for view in views for p in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])]
    bodies = [p["schema"] for p in arguments if p.get("in") == "json"]
    assert len(bodies) >= 5
    for schema in bodies:
        schema = schema() if isinstance(schema, type) else schema
        for where, field in fields_of(schema, set()):
            if field.dump_only:
                continue
            if isinstance(field, marshmallow.fields.Integer):
                assert isinstance(field, JsonInteger), where
            if isinstance(field, marshmallow.fields.Boolean):
                assert isinstance(field, StrictBoolean), where


def test_the_document_made_on_first_use_is_one_document_however_many_ask_at_once(app, app_config):
    """The document is made when first asked for (api/base.py): requests that ask at the same moment
    all get the document a single request makes (the one the tests above check), byte for byte."""
    from concurrent.futures import ThreadPoolExecutor

    from api import create_app

    def fetch(_):
        response = app.test_client().get("/openapi.json")
        return response.status_code, response.data

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(fetch, range(8)))
    alone = create_app(app_config)
    try:
        made_alone = alone.test_client().get("/openapi.json").data
    finally:
        alone.extensions["db_pool"].close()
    assert answers == [(200, made_alone)] * 8
    assert fetch(None) == (200, made_alone)
