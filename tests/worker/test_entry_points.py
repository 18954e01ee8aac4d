"""The worker's entry points (worker/entry_points.py): each path leads to its function, and core, which
is handed them by the ticker, names none of them itself."""
import re
from pathlib import Path

from rq.utils import import_attribute

from worker import alerts, entry_points, jobs

CORE = Path(__file__).resolve().parents[2] / "core"


def test_each_entry_point_leads_to_its_function():
    assert import_attribute(entry_points.RUN) is jobs.execute_run
    assert import_attribute(entry_points.ALERT) is alerts.deliver_alert


def test_core_names_no_worker_function():
    naming = [str(path.relative_to(CORE)) for path in CORE.rglob("*.py")
              if re.search(r"""["']worker\.""", path.read_text())]
    assert naming == []
