"""The account's suppressed (unsubscribed) addresses, searchable and a page at a time, with resubscribe."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from api.console import bp
from api.console.schedules import _page_number
from api.db import tenant
from core.deliveries import suppressions
from core.schedule import schedules

PAGE_SIZE = 50


@bp.route("/suppressions")
def suppression_list():
    q = (request.args.get("q") or "").strip()[:254]
    page = _page_number(request.args.get("page"))
    with tenant() as cur:
        rows, total = suppressions.list_page(cur, g.account_id, q=q, page=page, page_size=PAGE_SIZE)
    return render_template("console/suppressions.html", rows=rows, total=total, q=q, page=page,
                           pages=schedules.pages(total, PAGE_SIZE))


@bp.route("/suppressions/resubscribe", methods=["POST"])
def resubscribe():
    email = (request.form.get("email") or "").strip()
    with tenant() as cur:
        removed = suppressions.remove(cur, g.account_id, email) if email else False
    if removed:
        flash(f"{email} is subscribed again: the next runs email it.")
    else:
        flash(f"{email or 'That address'} was not suppressed.", "warning")
    return redirect(url_for("console.suppression_list", q=request.form.get("q") or None))
