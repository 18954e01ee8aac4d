"""`make dev`: the whole service on one laptop, with nothing installed but Python.

Starts an embedded PostgreSQL and Redis (data kept in .devdata/, or DEV_DATA_DIR, so it survives
restarts) unless DATABASE_URL / REDIS_URL are set, applies the migrations, makes sure a demo account
and a demo schedule exist, prints a console sign-in link, a bearer token and a ready-to-paste curl,
then runs the Procfile's
web, ticker and worker (devtools/procfile.py), their logs interleaved and prefixed by process name.
The API listens on 127.0.0.1 only (its development routes hand out unsubscribe tokens) unless
WEB_HOST says otherwise. Ctrl-C stops everything, the embedded servers last, whatever became of
stdout (`make dev | tee out` loses its reader first).

`python -m devtools.dev login-link` (`make login-link`) prints a fresh console sign-in link for the
demo account, signed with the secrets `make dev` keeps in .devdata/; `python -m devtools.dev
mint-token --account-id UUID [...]` is `python -m api.cli mint-token` signed with the JWT_SECRET kept
there when JWT_SECRET is unset (a token for another account, no secret copied). devtools stands on
api, never the other way: the deployed API has no devtools.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from core.ops.clock import utcnow
from core.tenants.access_tokens import mint_access_token
from core.ops import db
from core.ops.migrate import apply_migrations
from core.ops.settings import SettingsError, load_settings
from core.tenants import accounts, console_links
from devtools import devdata
from devtools.embedded import EmbeddedPostgres, EmbeddedRedis, create_database
from devtools.procfile import Output, Runner, read_procfile

ROOT = devdata.ROOT
DEMO_ACCOUNT_ID = "912014c3-6deb-4b40-a28d-489ef3923a3a"  # the account the README's examples use
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
# Longer than the production default (5 minutes): the banner may sit in a terminal a while.
DEV_LINK_TTL_SECONDS = 30 * 60
# Who make dev's token and sign-in links act as: the change history names `dev` (API) and `console:dev`.
DEV_SUBJECT = "dev"


def stop_on_signals() -> None:
    """SIGINT and SIGTERM both stop make dev, as Ctrl-C does, however it was started.

    A job a script starts in the background (`setsid make dev > log &`) inherits SIGINT *ignored*, and
    Python then installs no handler of its own: Ctrl-C and `kill -INT` did nothing. So both are set
    here, explicitly; `kill`, `timeout` and process managers send SIGTERM. The processes started after
    this inherit the default action for both (a handled signal is reset by exec; an ignored one is not),
    so gunicorn, the ticker and the worker stop on the SIGINT the runner sends them."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)


def main() -> int:
    stop_on_signals()
    env = dict(os.environ)
    data = devdata.data_dir()
    output = Output()
    servers = []
    try:
        if not env.get("DATABASE_URL"):
            postgres = EmbeddedPostgres(data / "postgres")
            servers.append(postgres)
            env["DATABASE_URL"] = create_database(postgres.admin_url, "schedules", if_missing=True)
        if not env.get("REDIS_URL"):
            redis_server = EmbeddedRedis(data / "redis")
            servers.append(redis_server)
            env["REDIS_URL"] = redis_server.url
        for name, value in devdata.ensure_secrets().items():
            env.setdefault(name, value)
        env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{PORT}")
        env.setdefault("OUTBOX_DIR", str(data / "outbox"))
        env.setdefault("WEB_HOST", "127.0.0.1")
        env["PORT"] = str(PORT)
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
        token = mint_access_token(settings.jwt_secret, DEMO_ACCOUNT_ID, subject=DEV_SUBJECT)
        output.line(_banner(env, token, _login_link(settings)))
        return _run_processes(env, output)
    finally:
        for server in reversed(servers):
            server.stop()


def _ensure_demo_data(database_url: str) -> None:
    """The demo account, and its demo schedule made through the API's own path unless it exists."""
    from core.schedule import schedules

    conn = db.connect(database_url, application_name="make-dev")
    try:
        with db.service_transaction(conn) as cur:
            accounts.ensure(cur, DEMO_ACCOUNT_ID, "Demo account", "pro")
        with db.tenant_transaction(conn, DEMO_ACCOUNT_ID) as cur:
            existing = schedules.list_page(cur, DEMO_ACCOUNT_ID, active_only=False, page_size=100).rows
            if not any(row["name"] == DEMO_SCHEDULE["name"] for row in existing):
                schedules.create(cur, DEMO_ACCOUNT_ID, DEMO_SCHEDULE, utcnow())
    finally:
        conn.close()


def _login_link(settings) -> str:
    link = console_links.mint(settings.console_signing_secret, DEMO_ACCOUNT_ID, utcnow(),
                              ttl_seconds=DEV_LINK_TTL_SECONDS, subject=DEV_SUBJECT)
    return console_links.url(f"http://localhost:{PORT}", link)


def print_login_link() -> int:
    """`make login-link`: a fresh sign-in link (each works once), with make dev's secrets."""
    env = {**devdata.ensure_secrets(),
           **{k: v for k, v in os.environ.items() if k in ("JWT_SECRET", "CONSOLE_SECRET")}}
    print(_login_link(load_settings(env)))
    return 0


def mint_token(argv: list[str]) -> int:
    """`python -m devtools.dev mint-token ...`: api.cli's mint-token, with make dev's JWT_SECRET when
    JWT_SECRET is unset (outside production), and saying so on stderr."""
    from api import cli

    secret = devdata.read_secrets().get("JWT_SECRET")
    production = os.environ.get("ENVIRONMENT", "").lower() == "production"
    if not os.environ.get("JWT_SECRET") and secret and not production:
        os.environ["JWT_SECRET"] = secret
        print(f"(JWT_SECRET is unset: using make dev's, from {devdata.secrets_path()})", file=sys.stderr)
    return cli.main(["mint-token", *argv])


def _command(argv: list[str]) -> int:
    if argv == ["login-link"]:
        return print_login_link()
    if argv[:1] == ["mint-token"]:
        return mint_token(argv[1:])
    return main()


def _banner(env: dict, token: str, link: str) -> str:
    base = f"http://localhost:{PORT}"
    return f"""
==============================================================================
 Schedule service (development)

 Console: open this sign-in link (works once, for 30 minutes; `make login-link` prints another):
   {link}

   API          {base}   (docs: {base}/docs; listening on {env['WEB_HOST']})
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

 Another account's token:  .venv/bin/python -m devtools.dev mint-token --account-id <UUID>
 Ctrl-C stops everything.
==============================================================================
"""


def _available_processes() -> list[str]:
    """The Procfile processes whose code exists yet (each later piece of work plugs itself in)."""
    present = {
        "web": (ROOT / "api" / "__init__.py").exists()
        and "def create_app" in (ROOT / "api" / "__init__.py").read_text(),
        "ticker": (ROOT / "ticker" / "__main__.py").exists(),
        "worker": (ROOT / "worker" / "__main__.py").exists(),
    }
    return [name for name, exists in present.items() if exists]


def _run_processes(env: dict, output: Output) -> int:
    procfile = read_procfile(ROOT / "Procfile")
    commands = {name: procfile[name] for name in _available_processes()}
    if not commands:
        output.line("No process to run yet.")
        return 0
    env = {**env, "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"}
    return Runner(commands, env=env, cwd=ROOT, output=output).run()


if __name__ == "__main__":
    sys.exit(_command(sys.argv[1:]))
