"""Sign-in, sign-out, the login check and CSRF protection of the console.

GET /console/login?token=... checks the link's signature and expiry, claims it in the link's tenant
transaction (a link works once: core.tenants.console_links) and starts a session: Flask's signed cookie
holds the account id and a random CSRF token. Every other console page needs that session (else it
leads to /console/signed-out, which says how to get a link), and every POST must carry the session's
CSRF token, as the `csrf_token` form field or the X-CSRF-Token header (the preview's fetch).
"""
from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from datetime import datetime, timezone

import psycopg2.errors
from flask import abort, current_app, g, redirect, render_template, request, session, url_for

from api.console import bp
from api.db import get_db
from core.tenants import accounts, console_links
from core.ops import db

logger = logging.getLogger(__name__)

# Pages one may see without a session.
OPEN_ENDPOINTS = {"console.login", "console.signed_out", "console.static"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


# A Jinja global (not a context processor), so the form macros imported by templates see it too.
bp.add_app_template_global(csrf_token)


@bp.before_request
def require_session():
    if request.method == "POST":
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, description="The form's security token is missing or out of date "
                                   "(CSRF protection). Go back, reload the page and try again.")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    account = session.get("account_id")
    if not account:
        if request.method == "GET":
            return redirect(url_for("console.signed_out"))
        abort(401, description="You are signed out.")
    g.account_id = uuid.UUID(account)
    g.account_name = session.get("account_name") or str(g.account_id)
    return None


@bp.route("/login")
def login():
    settings = current_app.config["SETTINGS"]
    now = utcnow()
    try:
        link = console_links.verify(settings.console_signing_secret, request.args.get("token", ""), now)
        with db.tenant_transaction(get_db(), link.account_id) as cur:
            console_links.claim(cur, link, now)
            account_name = accounts.get_name(cur, link.account_id)
    except console_links.InvalidLink as error:
        logger.info("Console sign-in refused: %s", error)
        return _refused(str(error))
    except psycopg2.errors.ForeignKeyViolation:
        return _refused("This sign-in link is for an account that does not exist.")
    session.clear()
    session.permanent = True
    session["account_id"] = str(link.account_id)
    session["account_name"] = account_name if account_name is not None else str(link.account_id)
    session["subject"] = link.subject  # who the change history names (api/console/who.py)
    session["csrf"] = secrets.token_urlsafe(32)
    logger.info("Console sign-in for account %s", link.account_id, extra={"account_id": link.account_id})
    response = redirect(url_for("console.schedule_list"))
    response.headers["Referrer-Policy"] = "no-referrer"  # the link's token never leaves in a Referer
    return response


def _refused(reason: str):
    session.clear()
    response = render_template("console/refused.html", reason=reason), 403
    return response


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("console.signed_out", bye=1))


@bp.route("/signed-out")
def signed_out():
    return render_template("console/signed_out.html", bye=bool(request.args.get("bye")))


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(404)
@bp.errorhandler(405)
def error_page(error):
    """Errors of the console are pages, not the API's JSON; another tenant's schedule is this 404."""
    titles = {400: "Request refused", 401: "Signed out", 404: "Not found", 405: "Not allowed"}
    message = error.description if error.code != 404 else "There is no such page or schedule in this account."
    return render_template("console/error.html", title=titles.get(error.code, "Error"), message=message,
                           status=error.code), error.code
