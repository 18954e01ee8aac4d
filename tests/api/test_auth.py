"""Bearer tokens: anything but a valid, unexpired HS256 token of ours is a 401 JSON with a challenge."""
from __future__ import annotations

import time

import jwt
import pytest

from tests.api.conftest import JWT_SECRET, bearer

PROTECTED = [
    ("get", "/v1/schedules"), ("post", "/v1/schedules"), ("get", "/v1/schedules/stats"),
    ("get", "/v1/schedules/due"), ("post", "/v1/schedules/preview"),
    ("get", "/v1/schedules/00000000-0000-0000-0000-000000000001"),
    ("patch", "/v1/schedules/00000000-0000-0000-0000-000000000001"),
    ("delete", "/v1/schedules/00000000-0000-0000-0000-000000000001"),
    ("get", "/v1/schedules/00000000-0000-0000-0000-000000000001/runs"),
    ("post", "/v1/schedules/00000000-0000-0000-0000-000000000001/run"),
    ("post", "/v1/schedules/00000000-0000-0000-0000-000000000001/enable"),
    ("post", "/v1/schedules/00000000-0000-0000-0000-000000000001/disable"),
]


def _assert_401(response, message=None):
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="schedules"')
    if message:
        assert message in body["message"]


@pytest.mark.parametrize("method, path", PROTECTED)
def test_every_v1_route_needs_a_token(client, method, path):
    response = getattr(client, method)(path, json={})
    _assert_401(response, "missing bearer token")
    assert "error=" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", [
    "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer not.a.jwt", "Bearer a.b.c", "Token abc",
])
def test_malformed_authorization_is_a_401(client, header):
    _assert_401(client.get("/v1/schedules", headers={"Authorization": header}))


def test_a_token_signed_with_another_secret_is_a_401(client, account_id):
    token = jwt.encode({"account_id": str(account_id), "exp": int(time.time()) + 60}, "another-secret-" * 3,
                       algorithm="HS256")
    _assert_401(client.get("/v1/schedules", headers={"Authorization": f"Bearer {token}"}), "token is invalid")


def test_an_expired_token_is_a_401(client, account_id):
    headers = bearer(account_id, now=time.time() - 3600, ttl_seconds=60)
    _assert_401(client.get("/v1/schedules", headers=headers), "token has expired")


def test_an_unsigned_token_is_a_401(client, account_id):
    token = jwt.encode({"account_id": str(account_id), "exp": int(time.time()) + 60}, None, algorithm="none")
    _assert_401(client.get("/v1/schedules", headers={"Authorization": f"Bearer {token}"}))


def test_a_token_without_exp_or_account_is_a_401(client, account_id):
    no_exp = jwt.encode({"account_id": str(account_id)}, JWT_SECRET, algorithm="HS256")
    no_account = jwt.encode({"exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS256")
    bad_account = jwt.encode({"account_id": "nope", "exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS256")
    for token in (no_exp, no_account, bad_account):
        _assert_401(client.get("/v1/schedules", headers={"Authorization": f"Bearer {token}"}))


def test_a_valid_token_gets_in(client, auth):
    assert client.get("/v1/schedules", headers=auth).status_code == 200


def test_a_token_for_an_account_that_does_not_exist_cannot_create(client):
    import uuid

    response = client.post("/v1/schedules", json={"name": "x", "cadence": "daily"}, headers=bearer(uuid.uuid4()))
    _assert_401(response, "account does not exist")


def test_healthz_needs_no_token_and_no_database(app_config):
    from api import create_app

    app = create_app({**app_config, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_create_app_requires_jwt_secret_and_database_url(app_config):
    from api import create_app
    from core.ops.settings import SettingsError

    for missing in ("JWT_SECRET", "DATABASE_URL"):
        config = {name: value for name, value in app_config.items() if name != missing}
        with pytest.raises(SettingsError, match=missing):
            create_app(config)
