"""Every process reads the pinned tzdata package unless PYTHONTZPATH says otherwise (core/engine/tzdb.py).

Each case runs a fresh interpreter, as a ticker or worker starts: what zoneinfo reads is decided when
the engine is imported, before any zone is loaded. America/Edmonton tells the two databases apart on
this machine's kind (Debian's 2025b keeps Alberta's winter time at UTC-7; the pin, 2026f, has UTC-6
from 2027), so a daily 09:00 Edmonton schedule runs at 15:00 UTC in January 2030 with the pin.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tzdata

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from datetime import datetime, timezone
from core.engine import timing, tzdb
fields = {"cadence": "daily", "send_hour": 9, "send_minute": 0, "timezone": "America/Edmonton",
          "start_at": datetime(2000, 1, 1, tzinfo=timezone.utc), "end_at": None}
run = timing.next_run_after(fields, datetime(2030, 1, 10, tzinfo=timezone.utc))
db = tzdb.in_use()
print(json.dumps({"run": run.isoformat(), "version": db.version, "source": db.source}))
"""
SYSTEM_ZONES = Path("/usr/share/zoneinfo")


def _probe(**extra_env: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONTZPATH"}
    env.update(extra_env)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)


def _pinned_run() -> str:
    with resources.as_file(resources.files("tzdata.zoneinfo") / "America" / "Edmonton") as path:
        zone = ZoneInfo.from_file(path.open("rb"))
    local = datetime(2030, 1, 10, 9, 0, tzinfo=zone)
    return local.astimezone(timezone.utc).isoformat()


def test_the_pinned_package_answers_by_default():
    answer = _probe()
    assert answer["version"] == tzdata.IANA_VERSION
    assert answer["source"].startswith("tzdata package ")
    assert answer["run"] == _pinned_run()


@pytest.mark.skipif(not (SYSTEM_ZONES / "tzdata.zi").is_file(), reason="this machine has no zone files")
def test_pythontzpath_chooses_the_machines_files():
    answer = _probe(PYTHONTZPATH=str(SYSTEM_ZONES))
    first_line = (SYSTEM_ZONES / "tzdata.zi").read_text(encoding="utf-8").splitlines()[0]
    assert answer["version"] == first_line.split()[-1]
    assert answer["source"] == f"system files in {SYSTEM_ZONES}"
    system_zone = ZoneInfo.from_file((SYSTEM_ZONES / "America" / "Edmonton").open("rb"))
    expected = datetime(2030, 1, 10, 9, 0, tzinfo=system_zone).astimezone(timezone.utc).isoformat()
    assert answer["run"] == expected


def test_an_empty_pythontzpath_is_the_package_too():
    answer = _probe(PYTHONTZPATH="")
    assert answer["version"] == tzdata.IANA_VERSION
    assert answer["run"] == _pinned_run()
