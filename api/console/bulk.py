"""Bulk changes in the console: tick schedules on the list, pick an action, review what it would change
(POST /v1/schedules/bulk's dry run, rendered), confirm. The body is validated by the API's own schema
(api.schemas.BulkSchema) and done by core.schedule.bulk, with the person signed in as the actor, so
each schedule changed gets its own history entry, as from the API.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from api.console import bp, forms
from api.console.schedules import ACTION_WORDS, utcnow
from api.console.who import actor
from api.db import tenant
from api.schemas import BulkSchema
from core.engine.timing import TimingError
from core.schedule import bulk

bulk_schema = BulkSchema()


def _body(form) -> dict:
    """The API's body from the list's form: the ticked ids, the action and what it takes."""
    body = {"filter": {"ids": form.getlist("ids")}, "action": form.get("action") or "",
            "dry_run": not form.get("confirm")}
    if (form.get("note") or "").strip():
        body["note"] = form["note"].strip()
    if (form.get("until") or "").strip():
        body["until"] = forms._local_time(form["until"].strip(), "UTC")
    if (form.get("email") or "").strip():
        body["email"] = form["email"].strip()
    return body


def _back() -> str:
    target = request.form.get("next") or ""
    if target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.schedule_list")


@bp.route("/bulk", methods=["POST"])
def bulk_change():
    """Without `confirm`: what the action would change, and a form to confirm it; with it: done."""
    if not request.form.getlist("ids"):
        flash("Nothing changed: tick the schedules to change first.", "error")
        return redirect(_back())
    try:
        args = bulk_schema.load(_body(request.form))
    except ValidationError as error:
        flash("Nothing changed: " + _messages(error.messages), "error")
        return redirect(_back())
    try:
        with tenant() as cur:
            rows = bulk.match(cur, g.account_id, ids=args["filter"]["ids"])
            answered = bulk.apply(cur, g.account_id, rows, args["action"], now=utcnow(), actor=actor(),
                                  dry_run=args["dry_run"], note=args["note"], until=args["until"],
                                  email=args.get("email"),
                                  max_recipients=current_app.config["SETTINGS"].max_recipients)
    except (TimingError, bulk.TooMany) as error:
        flash(f"Nothing changed: {getattr(error, 'message', error)}", "error")
        return redirect(_back())
    if args["dry_run"]:
        return render_template("console/bulk.html", answered=answered, args=args, form=request.form,
                               words=ACTION_WORDS[args["action"]], next=_back(),
                               changing=sum(1 for a in answered if a["outcome"] == "would_change"))
    changed = sum(1 for a in answered if a["outcome"] == "changed")
    flash(f"{ACTION_WORDS[args['action']]}: {changed} schedule(s) changed"
          + "".join(f", {sum(1 for a in answered if a['outcome'] == o)} {o}" for o in ("unchanged", "refused")
                    if any(a["outcome"] == o for a in answered)) + ".")
    return redirect(_back())


def _messages(messages, prefix: str = "") -> str:
    """A marshmallow error dict as one line: `field: message`."""
    parts = []
    for field, value in messages.items():
        name = prefix + ("" if field == "_schema" else str(field))
        if isinstance(value, dict):
            parts.append(_messages(value, f"{name}." if name else ""))
        else:
            parts.append(f"{name}: {' '.join(value)}" if name else " ".join(value))
    return "; ".join(parts)
