"""Issue 29's probes, each run again against the app: every one is now a 4xx or refused.

The slow-client and chunked-body probes need a real server and real sockets: they are in
tests/api/test_slow_clients.py (gunicorn). The console's probes (NUL, sign-out, Origin) are in
tests/console/test_hardening.py.
"""
from __future__ import annotations

import jwt
import pytest

from tests.api.conftest import JWT_SECRET, SEED_001_BODY

DEEP = b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def _body_routes(client):
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                yield method.upper(), path


def test_json_nested_5000_deep_is_a_400_at_every_route_that_takes_a_body(client, auth, create):
    schedule_id = create()["id"]
    routes = list(_body_routes(client))
    assert ("POST", "/v1/email/unsubscribe") in routes and ("POST", "/v1/schedules") in routes
    for method, path in routes:
        url = path.replace("{schedule_id}", schedule_id).replace("{id}", schedule_id)
        url = url.replace("{calendar_id}", schedule_id)
        url = url.replace("{run_id}", "0190f3a0-0000-7000-8000-000000000000")  # the body is read before the run
        response = client.open(url, method=method, data=DEEP, headers={**auth, "Content-Type": "application/json"})
        assert response.status_code == 400, (method, path, response.status_code, response.get_data(as_text=True))
        assert response.is_json


def test_get_json_anywhere_refuses_nan_and_deep_documents(app):
    with app.test_request_context(data=DEEP, content_type="application/json"):
        from flask import request

        assert request.get_json(silent=True) is None
    with app.test_request_context(data=b'{"a": NaN}', content_type="application/json"):
        from flask import request

        assert request.get_json(silent=True) is None


def test_a_schedule_body_as_deep_as_task_parameters_allows_is_still_accepted(create):
    nested: dict = {}
    inner = nested
    for _ in range(15):
        inner["k"] = {}
        inner = inner["k"]
    assert create(task_parameters=nested)["task_parameters"] == nested


@pytest.fixture
def production_app_config(app_config):
    return {**app_config, "ENVIRONMENT": "production"}


def test_a_6to4_webhook_of_loopback_is_refused_at_save_in_production(production_app_config, account_id):
    from api import create_app
    from tests.api.conftest import bearer

    app = create_app(production_app_config)
    try:
        response = app.test_client().post("/v1/schedules", headers=bearer(account_id), json={
            **SEED_001_BODY, "channels": [{"type": "webhook", "url": "https://[2002:7f00:1::]/"}]})
    finally:
        app.extensions["db_pool"].close()
    assert response.status_code == 400
    assert "6to4 loopback" in str(response.get_json()["fields"])


@pytest.mark.parametrize("claims, reason", [
    ({"exp": "99999999999"}, "must be integers"),
    ({"exp": 10**30 * 31_557_600}, "longer than the maximum of 30 days"),
], ids=["exp-as-string", "exp-10^30-years-away"])
def test_tokens_with_a_string_or_far_exp_are_refused(client, account_id, claims, reason):
    token = jwt.encode({"account_id": str(account_id), **claims}, JWT_SECRET, algorithm="HS256")
    response = client.get("/v1/schedules", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and reason in response.get_json()["message"]
