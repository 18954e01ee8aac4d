"""Sign-in, sign-out, the login check and CSRF protection of the console.

GET /console/login?token=... checks the link's signature and expiry, claims it in the link's tenant
transaction (a link works once: core.tenants.console_links) and starts a session there
(core.tenants.console_sessions): Flask's signed cookie holds the account id, the session's random id
and a random CSRF token. Every other console page needs a session the server still holds: not signed
out, used within CONSOLE_IDLE_MINUTES, younger than CONSOLE_SESSION_HOURS (else it leads to
/console/signed-out, which says how to get a link). Sign-out ends the session on the server, "sign out
everywhere" every session of the account, so a copy of the cookie is worth nothing after it.

Every POST must come from the console's own pages, checked twice (OWASP's CSRF defence in depth): its
`Origin` (or, without one, its `Referer`) must be this site, and it must carry the session's CSRF
token, as the `csrf_token` form field or the X-CSRF-Token header (the preview's fetch). And no query
or form value may hold text PostgreSQL cannot store (a NUL): a 400 naming the field, as in the API.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg2.errors
from flask import abort, current_app, g, redirect, render_template, request, session, url_for

from api.console import bp
from api.db import get_db
from api.fields import unstorable
from core.ops.clock import utcnow
from core.tenants import accounts, console_links, console_sessions
from core.ops import db

logger = logging.getLogger(__name__)

# Pages one may see without a session.
OPEN_ENDPOINTS = {"console.login", "console.signed_out", "console.static", "console.logout"}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


# A Jinja global (not a context processor), so the form macros imported by templates see it too.
bp.add_app_template_global(csrf_token)


def lifetime() -> console_sessions.Lifetime:
    settings = current_app.config["SETTINGS"]
    return console_sessions.Lifetime(idle=timedelta(minutes=settings.console_idle_minutes),
                                     max_age=timedelta(hours=settings.console_session_hours))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else url.lower()


def from_this_site() -> bool:
    """Whether a POST's Origin (else its Referer) is this site: the address it was sent to, or PUBLIC_BASE_URL.
    Without either header it is not a browser's cross-site form (browsers send Origin with every POST),
    and the CSRF token alone decides."""
    sent = request.headers.get("Origin") or request.headers.get("Referer")
    if sent is None:
        return True
    ours = {_origin(request.host_url), _origin(current_app.config["SETTINGS"].public_base_url)}
    return _origin(sent) in ours  # "null" (a sandboxed frame, a no-referrer page) is never ours


def refuse_unstorable_input() -> None:
    """The API's check (api.fields.unstorable) on every query and form value and name: a 400 naming it."""
    for source in (request.args, request.form) if request.method == "POST" else (request.args,):
        for name, value in source.items(multi=True):
            problem = unstorable(name) or unstorable(value)
            if problem:
                abort(400, description=f"{name if not unstorable(name) else 'A field name'}: {problem}")


@bp.before_request
def require_session():
    if request.method == "POST":
        if not from_this_site():
            logger.info("Console POST refused: Origin %r, Referer %r", request.headers.get("Origin"),
                        request.headers.get("Referer"))
            abort(400, description="This form was sent from another site (its Origin is not this console's).")
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, description="The form's security token is missing or out of date "
                                   "(CSRF protection). Go back, reload the page and try again.")
    refuse_unstorable_input()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not _session_alive():
        session.clear()
        if request.method == "GET":
            return redirect(url_for("console.signed_out"))
        abort(401, description="You are signed out.")
    g.account_id = uuid.UUID(session["account_id"])
    g.account_name = session.get("account_name") or str(g.account_id)
    return None


def _session_alive() -> bool:
    """Whether the cookie names a session the server still holds (and mark it used)."""
    account, session_id = session.get("account_id"), session.get("sid")
    if not account or not isinstance(session_id, str):
        return False  # no session, or a cookie from before sessions were kept on the server
    with db.tenant_transaction(get_db(), uuid.UUID(account)) as cur:
        return console_sessions.touch(cur, account, session_id, utcnow(), lifetime())


@bp.route("/login")
def login():
    settings = current_app.config["SETTINGS"]
    now = utcnow()
    try:
        link = console_links.verify(settings.console_signing_secret, request.args.get("token", ""), now)
        with db.tenant_transaction(get_db(), link.account_id) as cur:
            console_links.claim(cur, link, now)
            account_name = accounts.get_name(cur, link.account_id)
            session_id = console_sessions.start(cur, link.account_id, now, lifetime())
    except console_links.InvalidLink as error:
        logger.info("Console sign-in refused: %s", error)
        return _refused(str(error))
    except psycopg2.errors.ForeignKeyViolation:
        return _refused("This sign-in link is for an account that does not exist.")
    session.clear()
    session.permanent = True
    session["account_id"] = str(link.account_id)
    session["sid"] = session_id
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
    """Sign out: this session ends on the server; with `everywhere=1`, every session of the account."""
    account, session_id = session.get("account_id"), session.get("sid")
    if account and isinstance(session_id, str):
        with db.tenant_transaction(get_db(), uuid.UUID(account)) as cur:
            if request.form.get("everywhere") == "1":
                ended = console_sessions.end_all(cur, account)
                logger.info("Console: account %s signed out everywhere (%s sessions)", account, ended,
                            extra={"account_id": account})
            else:
                console_sessions.end(cur, account, session_id)
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
