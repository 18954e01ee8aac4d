"""A schedule's runs as the API and the console read them: a page of its history, one run with its
delivery ledger and resends, the ledgers of a page of runs. Each function takes a cursor opened by
`core.ops.db.tenant_transaction`; a Slack target is shown masked (its URL is a credential)."""
from __future__ import annotations

from core.deliveries import channel_types
from core.ops.sql import queries


def runs(cur, account_id, schedule_id, *, limit=50, status=None, trigger=None, before=None, from_=None, to=None):
    """A schedule's runs, newest first: of one status and trigger, for occurrences in [from_, to], older
    than the run `before` (cursor paging: the previous page's last run id)."""
    cur.execute(queries["list_schedule_runs"],
                {"account_id": account_id, "schedule_id": schedule_id, "limit": limit, "status": status,
                 "trigger": trigger, "before": before, "from": from_, "to": to})
    return cur.fetchall()


def run_detail(cur, account_id, schedule_id, run_id):
    """One run of a schedule with its deliveries (`deliveries`: the ledger rows, its resends' after its
    own) and its resends (`resends`), or None."""
    cur.execute(queries["get_run"], {"account_id": account_id, "schedule_id": schedule_id, "run_id": run_id})
    run = cur.fetchone()
    if run is None:
        return None
    cur.execute(queries["list_run_deliveries"], {"account_id": account_id, "run_id": run_id})
    deliveries = [{**row, "target": channel_types.shown_target(row["channel"], row["target"])} for row in cur.fetchall()]
    cur.execute(queries["list_run_resends"], {"account_id": account_id, "run_id": run_id})
    return {**run, "deliveries": deliveries, "resends": cur.fetchall()}


def deliveries_of_runs(cur, account_id, run_ids) -> dict:
    """{run id: [its delivery ledger rows]} for a page of runs, in one query."""
    if not run_ids:
        return {}
    cur.execute(queries["list_runs_deliveries"], {"account_id": account_id, "run_ids": list(run_ids)})
    found: dict = {run_id: [] for run_id in run_ids}
    for row in cur.fetchall():
        row["target"] = channel_types.shown_target(row["channel"], row["target"])  # a Slack URL is a credential
        found.setdefault(row.pop("run_id"), []).append(row)
    return found
