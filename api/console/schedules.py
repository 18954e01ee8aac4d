"""The schedules list, the schedule page with its run history, run now and delete (the schedule's
other actions are in actions.py).

Every page is one tenant transaction (api.db.tenant) through the same core functions as the API, so
another tenant's schedule is a 404, and the words are the API's: a paused schedule (POST .../pause:
who, why, until when) is not a disabled one (POST .../disable). Actions are POSTs (CSRF-checked in
session.py) that redirect back with a one-line flash message.
"""
from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, render_template, request, url_for

from api.console import bp, words
from api.console.who import actor
from api.db import tenant
from core import model
from core.alerts import incidents
from core.engine.explain import explained_runs, reasons
from core.engine.timing import TimingError
from core.ops.clock import utcnow
from core.runs import reads
from core.schedule import pauses, schedules

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
HISTORY_SIZE = 20
# The list's state filter: the API's `state` values (GET /v1/schedules?state=...), and all.
STATES = ("all",) + model.SCHEDULE_STATES


def _page_number(text) -> int:
    return int(text) if str(text or "").isdigit() and 0 < int(text) <= 1_000_000 else 1


@bp.route("/")
def schedule_list():
    q = (request.args.get("q") or "").strip()[:200]
    state = _one_of("state", ("",) + STATES) or "all"
    cadence = _one_of("cadence", ("",) + model.CADENCES) or None
    tag = (request.args.get("tag") or "").strip()[:50] or None
    page = _page_number(request.args.get("page"))
    now = utcnow()
    with tenant() as cur:
        rows, total, exact = schedules.list_page(cur, g.account_id, active_only=False,
                                          state=None if state == "all" else state, cadence=cadence,
                                          name=q, tag=tag, page=page, page_size=PAGE_SIZE)
        tags = schedules.tags(cur, g.account_id)
    items = []
    for row in rows:
        next_run = pauses.next_run_shown(row)[1]
        items.append({**row, "cadence_words": words.cadence_in_words(row), "state": schedules.state_of(row),
                      "next_run": next_run,
                      "next_local": words.local(next_run, row["timezone"]),
                      "next_relative": words.relative(next_run, now)})
    filters = {"q": q, "state": state, "tag": tag or "", "cadence": cadence or ""}
    return render_template("console/schedules.html", items=items, total=total, total_exact=exact, page=page,
                           pages=schedules.pages(total, PAGE_SIZE), filters=filters, tags=tags,
                           cadences=list(model.CADENCE_LABELS.items()), bulk_actions=list(ACTION_WORDS.items()))


# The list's bulk actions (api/console/bulk.py), in the words its select shows.
ACTION_WORDS = {"pause": "Pause", "resume": "Resume", "enable": "Turn on", "disable": "Turn off (disable)",
                "delete": "Delete", "add_recipient": "Add a recipient", "remove_recipient": "Remove a recipient"}


def _one_of(name: str, allowed: tuple[str, ...]) -> str:
    """A filter's value; one the API would refuse is refused here too (400 naming it), never taken as "all"."""
    value = request.args.get(name) or ""
    if value not in allowed:
        abort(400, description=f"{name} must be one of: {', '.join(item for item in allowed if item)}.")
    return value


def get_or_404(cur, schedule_id):
    row = schedules.get(cur, g.account_id, schedule_id)
    if row is None:
        abort(404)
    return row


def history(cur, row):
    """The schedule's newest runs, each with its delivery ledger (its resends' rows after its own, each
    with who asked), a count per delivery status of its own rows, and whether it can be resent (a
    final run with a stored result); each own row carries `pick`, what the resend form sends for it
    (`email:<address>`, or `channel:<id>` while the schedule still has that channel)."""
    runs = reads.runs(cur, g.account_id, row["id"], limit=HISTORY_SIZE)
    ledger = reads.deliveries_of_runs(cur, g.account_id, [run["id"] for run in runs])
    channel_ids = {(c["type"], c["url"]): str(c["id"]) for c in row.get("channels") or []}
    for run in runs:
        run["deliveries"] = ledger.get(run["id"], [])
        counts: dict = {}
        for delivery in run["deliveries"]:
            if delivery["resent"]:
                continue
            counts[delivery["status"]] = counts.get(delivery["status"], 0) + 1
            if delivery["channel"] == "email":
                delivery["pick"] = f"email:{delivery['target']}"
            elif (delivery["channel"], delivery["target"]) in channel_ids:
                delivery["pick"] = f"channel:{channel_ids[(delivery['channel'], delivery['target'])]}"
        run["delivery_counts"] = counts
        run["unfinished"] = run["status"] in model.UNFINISHED
        # The history refreshes itself while a run, or a resend of it, is still delivering.
        run["following"] = run["unfinished"] or any(d["resent"] and d["status"] in ("pending", "sending")
                                                    for d in run["deliveries"])
        run["resendable"] = run["result"] is not None and not run["unfinished"] and any(
            d.get("pick") for d in run["deliveries"])
    return runs


@bp.route("/schedules/<uuid:schedule_id>")
def schedule_page(schedule_id):
    now = utcnow()
    with tenant() as cur:
        row = get_or_404(cur, schedule_id)
        runs = history(cur, row)
        alerts = incidents.schedule_alerts(cur, g.account_id, schedule_id)
        open_alerts = incidents.list_alerts(cur, g.account_id, schedule_id=schedule_id, status="open", limit=1)
    return render_template("console/schedule.html", s=row, runs=runs,
                           alerts_enabled=alerts["enabled"], open_alert=open_alerts[0] if open_alerts else None,
                           upcoming=upcoming(row, now), now=now, words=words, state=schedules.state_of(row),
                           next_run=pauses.next_run_shown(row)[1],
                           pause_until_min=words.local_input(now, row["timezone"]))


def upcoming(row, now) -> list[dict]:
    """The next runs as GET .../preview lists them: the stored next run first while it is on (the
    ticker's), from the end of its pause when paused until an instant, none when paused with no end
    or off."""
    state = schedules.state_of(row)
    if state == "disabled" or (state == "paused" and row["paused_until"] is None):
        return []
    try:
        if state == "active" and row["next_run_at"] is not None:
            occurrence = row.get("next_occurrence_at") or row["next_run_at"]
            stored = {"at": row["next_run_at"], "reasons": reasons(row, occurrence, row["next_run_at"], first=True,
                                                                   after=now)}
            runs = [stored, *explained_runs(row, row["next_run_at"], 4)]
        else:
            runs = explained_runs(row, now, 5, paused_until=row["paused_until"])
    except TimingError:
        return []
    return words.upcoming(row, runs, now)


@bp.route("/schedules/<uuid:schedule_id>/history")
def schedule_history(schedule_id):
    """The run history alone (the schedule page's script refreshes it while a run is unfinished)."""
    with tenant() as cur:
        row = get_or_404(cur, schedule_id)
        runs = history(cur, row)
    return render_template("console/_history.html", s=row, runs=runs, words=words)


@bp.route("/schedules/<uuid:schedule_id>/run", methods=["POST"])
def run_now(schedule_id):
    """Run now: a pending manual run, committed in the tenant transaction. The ticker is woken by
    the insert (NOTIFY) and pushes it, exactly as it does for the API's run-now."""
    with tenant() as cur:
        get_or_404(cur, schedule_id)
        run = schedules.add_manual_run(cur, g.account_id, schedule_id, utcnow())
    logger.info("Run %s of schedule %s requested from the console", run["id"], schedule_id,
                extra={"run_id": run["id"], "schedule_id": schedule_id, "account_id": g.account_id})
    flash("Run started: it appears in the history below and updates as it goes.")
    return redirect(url_for("console.schedule_page", schedule_id=schedule_id, _anchor="history"))


def back(schedule_id) -> str:
    target = request.form.get("next") or ""
    # Only our own pages: a relative path, never another host.
    if target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.schedule_page", schedule_id=schedule_id)


@bp.route("/schedules/<uuid:schedule_id>/delete", methods=["GET", "POST"])
def delete(schedule_id):
    """GET asks for confirmation; POST deletes the schedule and its runs."""
    with tenant() as cur:
        row = get_or_404(cur, schedule_id)
        if request.method == "POST":
            schedules.delete(cur, g.account_id, schedule_id, actor())
    if request.method == "GET":
        return render_template("console/delete.html", s=row)
    flash(f"Deleted “{row['name']}” and its run history.")
    return redirect(url_for("console.schedule_list"))
