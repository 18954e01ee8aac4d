"""The error shape for what is not a validation error: unknown routes, wrong methods, a crash, an
unreachable database. None of them leaks a stack trace or an internal detail."""
from __future__ import annotations

import io
import json

from api import create_app
from tests.api.conftest import bearer


def test_unknown_route_is_a_json_404(client, auth):
    response = client.get("/v1/nothing-here", headers=auth)
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": "not found"}


def test_wrong_method_is_a_json_405_with_allow(client, auth):
    response = client.put("/v1/schedules", json={}, headers=auth)
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_a_crash_is_a_bare_json_500(app_config, caplog):
    app = create_app(app_config)

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal_error", "message": "Internal server error"}
    assert b"secret" not in response.data and b"Traceback" not in response.data
    assert "secret internal detail" in caplog.text  # logged for us, not shown to them


def test_an_unreachable_database_is_a_503(app_config, account_id, tmp_path):
    app = create_app({**app_config, "DATABASE_URL": f"postgresql:///x?host={tmp_path}/nowhere"})
    response = app.test_client().get("/v1/schedules", headers=bearer(account_id))
    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"


def test_connections_go_back_to_the_pool(app_config, account_id):
    app = create_app({**app_config, "DB_POOL_SIZE": "1"})
    client, headers = app.test_client(), bearer(account_id)
    try:
        for _ in range(5):  # a pool of one would block (then 503) if a request kept its connection
            assert client.get("/v1/schedules", headers=headers).status_code == 200
            assert client.get("/v1/schedules/00000000-0000-0000-0000-000000000000", headers=headers).status_code == 404
    finally:
        app.extensions["db_pool"].close()


def test_a_chunked_body_over_the_limit_is_a_413_not_invalid_json(client, auth):
    """werkzeug cuts a body without Content-Length at MAX_REQUEST_BYTES without a word."""
    body = b'{"name": "' + b"a" * 2_000_000 + b'"}'
    for path, headers in (("/v1/schedules", auth), ("/v1/email/unsubscribe", {})):
        response = client.post(path, input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True},
                               headers={**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        assert response.status_code == 413, response.get_json()
        assert response.get_json()["error"] == "payload_too_large"


def test_a_chunked_body_under_the_limit_is_read_whole(client, auth):
    body = json.dumps({"name": "x" * 150, "cadence": "daily"}).encode()
    response = client.post("/v1/schedules", input_stream=io.BytesIO(body),
                           environ_overrides={"wsgi.input_terminated": True},
                           headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == "x" * 150
