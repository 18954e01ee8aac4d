"""Commands for the API's tenants and tokens.

    python -m api.cli create-account --name "Acme" [--plan pro]      prints the new account's id
    python -m api.cli mint-token --account-id UUID [--ttl-days 30] [--subject WHO]   prints a bearer token
    python -m api.cli login-link --account-id UUID [--ttl-minutes 5] [--subject WHO]  prints a console sign-in link

mint-token needs JWT_SECRET (the same as the web process; in development `python -m devtools.dev
mint-token` runs it with the one `make dev` keeps). login-link needs CONSOLE_SECRET or JWT_SECRET
(whichever the web process signs links with) and uses PUBLIC_BASE_URL for the address. create-account
needs DATABASE_URL. Nothing here imports devtools: the deployed API has none.
Errors are one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
import uuid

import psycopg2

from core.ops.clock import utcnow
from core.tenants import accounts, console_links
from core.ops import db
from core.ops.settings import SettingsError, load_settings
from core.tenants.access_tokens import mint_access_token


def _account_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {value!r}") from None


def _whole(unit: str, high: int):
    """An argparse type: a whole number of `unit` from 1 to `high`."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = 0
        if not 1 <= number <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number of {unit} from 1 to {high}, got {value!r}")
        return number
    return parse


_ttl_days = _whole("days", 3650)
_ttl_minutes = _whole("minutes", 1440)


def mint_token(args) -> str:
    settings = load_settings()
    settings.require("jwt_secret")
    if args.ttl_days > settings.jwt_max_lifetime_days:  # the API would refuse such a token
        raise SystemExit(f"error: --ttl-days must be at most JWT_MAX_LIFETIME_DAYS ({settings.jwt_max_lifetime_days})")
    return mint_access_token(settings.jwt_secret, args.account_id, ttl_seconds=args.ttl_days * 86400,
                             subject=args.subject)


def login_link(args) -> str:
    settings = load_settings()
    if not settings.console_secret:
        settings.require("jwt_secret")
    token = console_links.mint(settings.console_signing_secret, args.account_id, utcnow(),
                               ttl_seconds=args.ttl_minutes * 60, subject=args.subject)
    return console_links.url(settings.public_base_url, token)


def create_account(args) -> str:
    settings = load_settings()
    settings.require("database_url")
    conn = db.connect(settings.database_url, application_name="api-cli")
    try:
        with db.service_transaction(conn) as cur:
            return str(accounts.create(cur, args.name, args.plan))
    except psycopg2.errors.ForeignKeyViolation:
        raise SystemExit(f"error: unknown plan {args.plan!r}") from None
    finally:
        conn.close()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m api.cli",
                                  description="Schedules API commands: accounts, tokens, sign-in links")
    commands = top.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint-token", help="print a bearer token for an account")
    mint.add_argument("--account-id", required=True, type=_account_id)
    mint.add_argument("--ttl-days", type=_ttl_days, default=30)
    mint.add_argument("--subject", default="cli",
                      help="who uses the token (its `sub` claim; the change history names it); default cli")
    mint.set_defaults(run=mint_token)
    link = commands.add_parser("login-link", help="print a single-use console sign-in link for an account")
    link.add_argument("--account-id", required=True, type=_account_id)
    link.add_argument("--ttl-minutes", type=_ttl_minutes, default=console_links.DEFAULT_TTL_SECONDS // 60)
    link.add_argument("--subject", default=None,
                      help="who signs in (the change history names their console changes console:WHO)")
    link.set_defaults(run=login_link)
    create = commands.add_parser("create-account", help="create an account and print its id")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", default="pro")
    create.set_defaults(run=create_account)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        print(args.run(args))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg2.OperationalError as error:
        print(f"error: cannot reach the database: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
