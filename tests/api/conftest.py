"""Fixtures for the API: an app on this test's own database and the test Redis, a client, tokens.

Built on tests/conftest.py (database_url, redis_url, conn, account_id, other_account_id). Tenant A
is `account_id` (`auth` headers), tenant B is `other_account_id` (`other_auth`).
"""
from __future__ import annotations

import pytest

from api import create_app
from core.tenants.access_tokens import mint_access_token

JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"

# Seed 001's create body, exactly as written there.
SEED_001_BODY = {
    "name": "Weekly Market Snapshot",
    "report_type": "market_snapshot",
    "city": "San Diego",
    "cadence": "weekly",
    "weekly_dow": 1,
    "send_hour": 9,
    "send_minute": 0,
    "recipients": ["client@example.com"],
    "active": True,
}


def bearer(account_id, **kwargs) -> dict:
    return {"Authorization": f"Bearer {mint_access_token(JWT_SECRET, account_id, **kwargs)}"}


@pytest.fixture
def app_config(database_url, redis_url):
    """Environment-style settings for create_app; tests may add to it before asking for `app`."""
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET}


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["db_pool"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(account_id):
    return bearer(account_id)


@pytest.fixture
def other_auth(other_account_id):
    return bearer(other_account_id)


@pytest.fixture
def create(client, auth):
    """POST a schedule for tenant A (seed 001's body plus overrides); returns the created JSON."""
    def create(headers=None, **overrides):
        response = client.post("/v1/schedules", json={**SEED_001_BODY, **overrides}, headers=headers or auth)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return create


def as_read(written: dict) -> dict:
    """A create/PATCH answer as GET answers it: the same schedule, without the write-only `warnings`."""
    return {key: value for key, value in written.items() if key != "warnings"}
