"""Tasks for the e2e benchmark: a report that waits on I/O, and RQ's no-op job for the baselines."""
from __future__ import annotations

import time

from core.runs.demo_tasks import generate_report


def wait_io(account_id: str, params: dict) -> dict:
    """The demo report after waiting 0.5 s, as a real report waits on listings, a PDF renderer and an
    upload (a sleep releases the GIL as a socket read does)."""
    time.sleep(float(params.get("wait", 0.5)))
    return generate_report(account_id, params)


def noop() -> None:
    """The job of the plain RQ workers the e2e benchmark compares with: RQ's cost alone."""
