"""python -m api.cli: create-account prints an id, mint-token prints a token the API accepts."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.api.conftest import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, **env):
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def test_minted_token_works_as_a_bearer_token(client, account_id):
    result = _cli("mint-token", "--account-id", str(account_id), "--ttl-days", "2", JWT_SECRET=JWT_SECRET)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert len(result.stdout.splitlines()) == 1
    response = client.get("/v1/schedules", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_mint_token_refuses_a_life_longer_than_the_api_accepts(account_id):
    result = _cli("mint-token", "--account-id", str(account_id), "--ttl-days", "31", JWT_SECRET=JWT_SECRET)
    assert result.returncode == 1 and "--ttl-days must be at most JWT_MAX_LIFETIME_DAYS (30)" in result.stderr
    longer = _cli("mint-token", "--account-id", str(account_id), "--ttl-days", "90", JWT_SECRET=JWT_SECRET,
                  JWT_MAX_LIFETIME_DAYS="90")
    assert longer.returncode == 0, longer.stderr


def test_create_account_prints_the_new_id(database_url, conn):
    result = _cli("create-account", "--name", "Acme", "--plan", "free", DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    account_id = uuid.UUID(result.stdout.strip())
    with conn.cursor() as cur:
        cur.execute("SELECT name, plan FROM accounts WHERE id = %s", (account_id,))
        assert cur.fetchone() == {"name": "Acme", "plan": "free"}


def test_cli_errors_are_one_line(database_url):
    missing_secret = _cli("mint-token", "--account-id", str(uuid.uuid4()))
    assert missing_secret.returncode == 2
    assert missing_secret.stderr.strip().count("\n") == 0 and "JWT_SECRET" in missing_secret.stderr
    unknown_plan = _cli("create-account", "--name", "x", "--plan", "platinum", DATABASE_URL=database_url)
    assert unknown_plan.returncode == 1 and "unknown plan" in unknown_plan.stderr
    assert "Traceback" not in unknown_plan.stderr
    bad_id = _cli("mint-token", "--account-id", "nope", JWT_SECRET=JWT_SECRET)
    assert bad_id.returncode == 2 and "not a UUID" in bad_id.stderr


def test_changes_made_with_a_cli_token_are_recorded_as_cli(client, account_id):
    token = _cli("mint-token", "--account-id", str(account_id), JWT_SECRET=JWT_SECRET).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/v1/schedules", json={"name": "x", "cadence": "daily"}, headers=headers).get_json()
    change = client.get(f"/v1/schedules/{created['id']}/history", headers=headers).get_json()["history"][0]
    assert change["actor"] == "cli" and change["action"] == "create"


def test_login_link_prints_a_link_that_signs_in_once(client, account_id):
    result = _cli("login-link", "--account-id", str(account_id), JWT_SECRET=JWT_SECRET,
                  PUBLIC_BASE_URL="https://schedules.example.com")
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip()
    assert link.startswith("https://schedules.example.com/console/login?token=v1.")
    path = link.removeprefix("https://schedules.example.com")
    assert client.get(path).status_code == 302
    assert client.get(path).status_code == 403


def test_login_link_needs_a_secret():
    result = _cli("login-link", "--account-id", str(uuid.uuid4()))
    assert result.returncode == 2 and result.stderr.startswith("error: JWT_SECRET is not set")
