"""An EXAMPLE task, so the default set-up runs end to end. Replace it with your own through TASKS.

A task is any function `task(account_id: str, params: dict) -> dict` registered in TASKS. `params`
holds the schedule's report fields (report_type, city, zips, lookback_days, filters), schedule_id,
run_id and the schedule's task_parameters. Return a JSON-serialisable dict; `report_url` is the link
emailed to the recipients, and `attachment` ({filename, content_type, content}) is attached when the
schedule has include_attachment; `empty` and `content_key` serve the schedule's deliver_when
(core/runs/tasks.py). Raise to fail the run (it is retried, then recorded as failed).
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
from datetime import datetime, timezone


def generate_report(account_id: str, params: dict) -> dict:
    if params.get("fail"):  # lets a schedule's task_parameters exercise the failure path in a demo
        raise RuntimeError(f"demo report failed on request: {params['fail']}")
    generated_at = datetime.now(timezone.utc)
    zips = params.get("zips") or []
    rng = random.Random(f"{params.get('city')}:{generated_at:%Y-%m-%d}")
    rows = [{"zip": z, "median_price": rng.randrange(400_000, 1_500_000, 1000), "listings": rng.randrange(5, 200)}
            for z in (zips or ["all"])] if not params.get("empty") else []  # task_parameters {"empty": true}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["zip", "median_price", "listings"])
    writer.writeheader()
    writer.writerows(rows)
    return {
        # A real task would upload the report somewhere and return its link.
        "report_url": f"https://reports.example.com/runs/{params['run_id']}",
        "title": f"{(params.get('report_type') or 'report').replace('_', ' ').title()}"
                 f" for {params.get('city') or 'all cities'}",
        "generated_at": generated_at.isoformat(),
        "lookback_days": params.get("lookback_days"),
        "rows": len(rows),
        # The task contract (core/runs/tasks.py): nothing to report, and what the content is, for
        # deliver_when not_empty and changed (the link and the time differ on every run).
        "empty": not rows,
        "content_key": hashlib.sha256(buffer.getvalue().encode()).hexdigest(),
        "attachment": {"filename": "report.csv", "content_type": "text/csv", "content": buffer.getvalue()},
    }
