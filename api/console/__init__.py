"""The console: the service's pages for one account at a time, in the browser.

Server-rendered Flask templates (templates/console/, one base layout) and a little JavaScript
(static/console.js: the live preview, the run history refreshing itself), every asset served by
the app. Entered through a short-lived single-use sign-in link (core/tenants/console_links.py, the
`login-link` CLI), kept as Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure in
production). Every page runs in the API's tenant transaction (api.db.tenant), so another tenant's
schedule is a 404 here too, and it calls the same domain functions the API calls (core.schedule.schedules,
core.deliveries.suppressions) and validates with the API's schemas.

    session.py        sign-in, sign-out, the login check and CSRF on every state-changing request
    schedules.py      the list, the schedule page and its run history, run now, delete
    actions.py        pause (until, note) and resume, disable and enable, re-enable a channel, backfill,
                      resend a run's stored result
    bulk.py           change the schedules ticked on the list at once: review (a dry run), confirm
    who.py            who the change history names for a console action
    edit.py           create and edit, and the live preview endpoint
    words.py          a schedule in words: its cadence, durations, local and relative times, and the
                      engine's daylight-saving reasons (core/engine/explain.py) worded as notes
    suppressions.py   unsubscribed addresses and resubscribe
    alerts.py         alert settings, the alerts and their messages, a schedule's alert switch
    calendars.py      business calendars: the list, a new one, a calendar's page (its days off in the
                      coming 12 months, the schedules that follow it), save (changes only), delete
    docs.py           `/` and `/docs` (Swagger UI from the pinned swagger-ui-bundle package)
    headers.py        Content-Security-Policy (no inline scripts) and the other security headers
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import Blueprint

from core.deliveries import channel_types

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")


def channel_labels() -> str:
    """The registered channel types' labels in words ("Webhook and Slack"), for the forms' headings."""
    labels = [kind.label for kind in channel_types.TYPES.values()]
    return " and ".join(filter(None, (", ".join(labels[:-1]), labels[-1])))


# Every page reads the channel types from their registry: labels, choices (core/deliveries/channel_types.py).
bp.add_app_template_global(channel_types.TYPES, "channel_types")
bp.add_app_template_global(channel_types.label, "channel_label")
bp.add_app_template_global(channel_labels)


def init_app(app, settings) -> None:
    # Flask signs the session cookie with SECRET_KEY: a key derived from the console's secret for
    # this use alone, so a leaked cookie key says nothing about the sign-in links or bearer tokens.
    app.secret_key = hmac.new(settings.console_signing_secret.encode(), b"schedules console session",
                              hashlib.sha256).hexdigest()
    app.config.update(
        SESSION_COOKIE_NAME="schedules_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.console_session_hours),
    )
    from api.console import (actions, alerts, bulk, calendars, docs, edit, headers, schedules,  # noqa: F401 (routes)
                             session, suppressions)

    app.register_blueprint(bp)
    app.register_blueprint(docs.bp)
