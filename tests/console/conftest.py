"""Fixtures for the console: an app on this test's own database, a signed-in test client, sample rows.

Built on tests/conftest.py (database_url, redis_url, conn, account_id, other_account_id). Tenant A
is `account_id`; `signed_in` is a test client with tenant A's console session.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from core.tenants import console_links
from core.ops import db
from core.schedule import schedules
from core.deliveries import suppressions
# The API's app fixtures (an app on this test's database and Redis, its test client), shared.
from tests.api.conftest import JWT_SECRET, app, app_config, client  # noqa: F401

SCHEDULE = {  # every client field, as the API's schema fills them in
    "name": "Weekly Market Snapshot", "description": None, "task": "generate_report", "task_parameters": {},
    "report_type": "market_snapshot", "city": "San Diego", "zip_codes": None, "lookback_days": 30,
    "filters": {}, "recipients": ["ann@example.com", "bob@example.com"], "include_attachment": False,
    "cadence": "weekly", "weekly_dow": 1, "monthly_dom": None, "send_hour": 9, "send_minute": 0,
    "cron_expression": None, "interval_seconds": None, "timezone": "America/New_York", "start_at": None,
    "end_at": None, "misfire_grace_seconds": None, "active": True, "tags": ["reports"], "overlap_policy": "skip",
}


def login_link(account_id, *, now=None, ttl_seconds=300, secret=JWT_SECRET, subject=None) -> str:
    token = console_links.mint(secret, account_id, now or datetime.now(timezone.utc), ttl_seconds=ttl_seconds,
                               subject=subject)
    return "/console/login?token=" + token


@pytest.fixture
def signed_in(app, account_id):
    client = app.test_client()
    response = client.get(login_link(account_id))
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf_of(client) -> str:
    """The session's CSRF token, as the pages embed it in their forms."""
    page = client.get("/console/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def make_schedule(conn, account_id, **overrides):
    with db.tenant_transaction(conn, account_id) as cur:
        return schedules.create(cur, account_id, {**SCHEDULE, **overrides}, datetime.now(timezone.utc))


def suppress(conn, account_id, email, reason="one-click"):
    with db.tenant_transaction(conn, account_id) as cur:
        suppressions.suppress(cur, account_id, email, reason)
