"""`make dev`: the whole service on one laptop, with nothing installed but Python.

Starts an embedded PostgreSQL and Redis (data kept in .devdata/, so it survives restarts) unless
DATABASE_URL / REDIS_URL are set, applies the migrations, makes sure a demo account and a demo schedule
exist, prints a bearer token and a ready-to-paste curl, then runs the Procfile's web, ticker and worker
through honcho, their logs interleaved and prefixed by process name. Ctrl-C stops everything, the
embedded servers last.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from core import db
from core.migrate import apply_migrations
from core.settings import SettingsError, load_settings
from core.sql import queries
from core.tokens import mint_access_token
from devtools.embedded import EmbeddedPostgres, EmbeddedRedis, create_database

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".devdata"
DEMO_ACCOUNT_ID = "912014c3-6deb-4b40-a28d-489ef3923a3a"  # the account of seed 000's examples
DEMO_SCHEDULE = {  # every client field, as the API's schema would fill them in
    "name": "Demo: market snapshot every 2 minutes", "description": "Made by make dev",
    "task": "generate_report", "task_parameters": {}, "report_type": "market_snapshot",
    "city": "San Diego", "zip_codes": ["92101", "92103"], "lookback_days": 30, "filters": {},
    "recipients": ["demo@example.com"], "include_attachment": True,
    "cadence": "cron", "weekly_dow": None, "monthly_dom": None, "send_hour": 9, "send_minute": 0,
    "cron_expression": "*/2 * * * *", "interval_seconds": None, "timezone": "America/New_York",
    "start_at": None, "end_at": None, "misfire_grace_seconds": None, "active": True, "tags": ["demo"],
    "overlap_policy": "skip",
}
PORT = int(os.environ.get("PORT", "8000"))


def main() -> int:
    # `kill`, `timeout` and process managers send SIGTERM: stop as cleanly as on Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    env = dict(os.environ)
    servers = []
    try:
        if not env.get("DATABASE_URL"):
            postgres = EmbeddedPostgres(DATA / "postgres")
            servers.append(postgres)
            env["DATABASE_URL"] = create_database(postgres.admin_url, "schedules", if_missing=True)
        if not env.get("REDIS_URL"):
            redis_server = EmbeddedRedis(DATA / "redis")
            servers.append(redis_server)
            env["REDIS_URL"] = redis_server.url
        for name, value in _dev_secrets().items():
            env.setdefault(name, value)
        env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{PORT}")
        env.setdefault("OUTBOX_DIR", str(DATA / "outbox"))
        if env.get("ENVIRONMENT", "").lower() != "production":  # webhooks to a receiver on this machine
            env.setdefault("WEBHOOK_ALLOW_LOOPBACK", "true")
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            settings = load_settings(env)
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        apply_migrations(settings.database_url)
        _ensure_demo_data(settings.database_url)
        token = mint_access_token(settings.jwt_secret, DEMO_ACCOUNT_ID)
        _print_banner(env, token)
        return _run_processes(env)
    finally:
        for server in reversed(servers):
            server.stop()


def _dev_secrets() -> dict[str, str]:
    """Random secrets made once and kept in .devdata, so tokens and unsubscribe links survive restarts."""
    path = DATA / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    DATA.mkdir(parents=True, exist_ok=True)
    made = {"JWT_SECRET": secrets.token_urlsafe(48), "UNSUBSCRIBE_SECRET": secrets.token_urlsafe(48)}
    path.write_text(json.dumps(made))
    path.chmod(0o600)
    return made


def _ensure_demo_data(database_url: str) -> None:
    """The demo account, and its demo schedule made through the API's own path unless it exists."""
    from core import schedules

    conn = db.connect(database_url, application_name="make-dev")
    try:
        with db.service_transaction(conn) as cur:
            cur.execute(queries["ensure_account"], {"id": DEMO_ACCOUNT_ID, "name": "Demo account", "plan": "pro"})
        with db.tenant_transaction(conn, DEMO_ACCOUNT_ID) as cur:
            existing, _ = schedules.list_page(cur, DEMO_ACCOUNT_ID, active_only=False, page_size=100)
            if not any(row["name"] == DEMO_SCHEDULE["name"] for row in existing):
                schedules.create(cur, DEMO_ACCOUNT_ID, DEMO_SCHEDULE, datetime.now(timezone.utc))
    finally:
        conn.close()


def _print_banner(env: dict, token: str) -> None:
    base = f"http://localhost:{PORT}"
    print(f"""
==============================================================================
 Schedule service (development)
   API          {base}   (docs: {base}/docs)
   DATABASE_URL {env['DATABASE_URL']}
   REDIS_URL    {env['REDIS_URL']}
   Demo account {DEMO_ACCOUNT_ID}
   Emails       written to {env['OUTBOX_DIR']} (no SMTP_URL set)

 Bearer token for the demo account (valid 30 days):
   export TOKEN={token}

 Try it:
   curl -s {base}/v1/schedules -H "Authorization: Bearer $TOKEN"
   curl -s -X POST {base}/v1/schedules -H "Authorization: Bearer $TOKEN" \\
     -H "Content-Type: application/json" \\
     -d '{{"name": "Weekly Market Snapshot", "report_type": "market_snapshot", "city": "San Diego",
          "cadence": "weekly", "weekly_dow": 1, "send_hour": 9, "send_minute": 0,
          "recipients": ["client@example.com"], "active": true}}'

 Ctrl-C stops everything.
==============================================================================
""", flush=True)


def _available_processes() -> list[str]:
    """The Procfile processes whose code exists yet (each later piece of work plugs itself in)."""
    present = {
        "web": (ROOT / "api" / "__init__.py").exists()
        and "def create_app" in (ROOT / "api" / "__init__.py").read_text(),
        "ticker": (ROOT / "ticker" / "__main__.py").exists(),
        "worker": (ROOT / "worker" / "__main__.py").exists(),
    }
    return [name for name, exists in present.items() if exists]


def _run_processes(env: dict) -> int:
    names = _available_processes()
    if not names:
        print("No process to run yet.", flush=True)
        return 0
    command = [sys.executable, "-m", "honcho", "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT),
               "-p", str(PORT), *names]
    honcho = subprocess.Popen(command, env={**env, "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
    while True:
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to honcho as well; it stops the processes. Wait for it.
            honcho.send_signal(signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
