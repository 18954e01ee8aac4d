"""The whole path as deployed, each process real: a schedule created through the API is dispatched by
`python -m ticker --once`, executed by `python -m worker --burst` (a real RQ worker), and emailed over
SMTP to a real server on loopback. The email's one-click unsubscribe link, POSTed as RFC 8058 says,
suppresses the address, and the next run skips it."""
import email
import email.policy
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api import create_app
from core.tenants.access_tokens import mint_access_token
from core.ops import db
from tests.worker.conftest import smtp_server  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"JWT_SECRET": "e2e-jwt-secret-0123456789abcdef0123456789",
           "UNSUBSCRIBE_SECRET": "e2e-unsubscribe-secret-0123456789abcdef"}


@pytest.fixture
def env(database_url, redis_url, smtp_server, tmp_path):  # noqa: F811
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SMTP_URL": smtp_server.url,
            "EMAIL_FROM": "Reports <reports@example.com>", "PUBLIC_BASE_URL": "https://schedules.example.com",
            "RQ_QUEUE": "e2e", "OUTBOX_DIR": str(tmp_path / "outbox"), "PATH": "/usr/bin:/bin", **SECRETS}


def run(module_args, env):
    result = subprocess.run([sys.executable, "-m", *module_args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stderr


def make_due(conn, schedule_id):
    """Seed 001's manual trigger: set next_run_at in the past."""
    with db.service_transaction(conn) as cur:
        cur.execute("UPDATE schedules SET next_run_at = NOW() - INTERVAL '1 minute' WHERE id = %s", (schedule_id,))


def test_schedule_to_email_to_one_click_unsubscribe(env, conn, account_id, smtp_server):  # noqa: F811
    app = create_app(env)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {mint_access_token(SECRETS['JWT_SECRET'], account_id)}"}
    created = client.post("/v1/schedules", headers=headers, json={
        "name": "Weekly Market Snapshot", "report_type": "market_snapshot", "city": "San Diego",
        "cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "send_minute": 0,
        "recipients": ["a@example.com", "b@example.com"], "active": True})
    assert created.status_code == 201
    schedule_id = created.get_json()["id"]

    make_due(conn, schedule_id)
    ticker_log = run(["ticker", "--once"], env)
    assert "Found 1 due schedule(s)" in ticker_log
    run(["worker", "--burst"], env)

    runs = client.get(f"/v1/schedules/{schedule_id}/runs", headers=headers).get_json()["runs"]
    assert [r["status"] for r in runs] == ["succeeded"]
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["a@example.com", "b@example.com"]
    to_a = next(email.message_from_bytes(m.content, policy=email.policy.default)
                for m in smtp_server.messages if m.rcpt_tos == ["a@example.com"])
    assert to_a["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = urlsplit(to_a["List-Unsubscribe"].strip("<>"))
    assert link.scheme == "https" and link.netloc == "schedules.example.com"

    # What a mail client does for RFC 8058 one-click: POST to the link with this exact body.
    response = client.post(f"{link.path}?{link.query}", data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200

    make_due(conn, schedule_id)
    run(["ticker", "--once"], env)
    run(["worker", "--burst"], env)
    assert [m.rcpt_tos[0] for m in smtp_server.messages[2:]] == ["b@example.com"]
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT status FROM schedule_runs WHERE schedule_id = %s", (schedule_id,))
        assert [r["status"] for r in cur.fetchall()] == ["succeeded", "succeeded"]
        cur.execute("SELECT run_count, success_count FROM schedules_with_stats WHERE id = %s", (schedule_id,))
        assert cur.fetchone() == {"run_count": 2, "success_count": 2}
        cur.execute("SELECT count(*) AS n FROM email_log WHERE error IS NULL")
        assert cur.fetchone()["n"] == 3
    app.extensions["db_pool"].close()
