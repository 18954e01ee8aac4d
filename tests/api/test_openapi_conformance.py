"""The OpenAPI document tells the whole truth: checked from outside, against a live server on loopback.

- schemathesis (pinned in requirements-dev.txt) runs every check over every operation in the document
  (`st run --checks all`, a fixed seed), with a valid bearer token: positive data accepted, negative
  data rejected, status codes, content types, headers and bodies as documented, no 5xx. Under the ci
  profile (CI) it runs every phase, 30 examples an operation; under dev (`make test`'s default) 10, and
  not the coverage phase: its boundary values of every field, about 10,000 requests that the profile
  does not scale, were 3 minutes of one core on a 2-core machine, against 40 s for the examples and
  fuzzing phases. tests/api/schemathesis_hooks.py supplies what no schema can say.
- openapi-python-client generates a Python client from /openapi.json into a temporary folder, and the
  test drives it: create, read, patch, run and delete a schedule of every cadence.

Both walk the document, so a new route or field is covered as soon as it is in the document.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from api import create_app
from core.ops import db
from core.model import CADENCES
from tests.api.conftest import SEED_001_BODY, bearer
from tests.conftest import examples, thorough

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UNSUBSCRIBE_SECRET = "test-unsubscribe-secret-0123456789abcdef"
EXAMPLES_PER_OPERATION = examples(30)  # 30 under the ci profile, 10 under dev (tests/conftest.py)
PHASES = "examples,coverage,fuzzing,stateful" if thorough() else "examples,fuzzing,stateful"
SEED = 19


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # thousands of requests: the failures say what matters
        pass


@pytest.fixture
def live(app_config, conn, account_id):
    """The app served by werkzeug on 127.0.0.1 (a thread), with a fresh ticker heartbeat so /readyz is 200."""
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO ticker_heartbeats (instance_id, hostname, pid, started_at, last_tick_at, last_tick)"
                    " VALUES ('conformance-test', 'localhost', 1, now(), now() + interval '1 hour', '{}')")
    app = create_app({**app_config, "UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET})
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions["db_pool"].close()


def test_schemathesis_finds_no_failure_on_any_operation(live, account_id, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
           "HOOKS_ACCOUNT_ID": str(account_id), "HOOKS_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET}
    command = [str(BIN / "st"), "--no-color", "run", f"{live}/openapi.json", "--checks", "all",
               "--phases", PHASES, "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
               "--workers", "1",
               "--header", f"Authorization: {bearer(account_id)['Authorization']}",
               "--report", "junit", "--report-dir", str(tmp_path)]
    # The longest test of the suite (under the ci profile 1.5-4 minutes, under dev under one): it runs
    # beside the other xdist worker's tests, and took over 300 s on a loaded 2-core machine.
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    summary = [line for line in result.stdout.splitlines() if re.match(r"^=+ .* in [0-9.]+s =+$", line)]
    print("\n".join(summary + re.findall(r"Test cases:\n\s*(.*)", result.stdout)))
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]
    # "No issues found", or warnings only (e.g. an operation whose ids the run could not make: channel ids)
    assert summary and "failure" not in summary[-1] and "error" not in summary[-1], result.stdout[-5000:]
    spec = json.loads(_get(f"{live}/openapi.json"))
    tested = re.search(r"Tested: (\d+)", result.stdout)
    operations = sum(1 for item in spec["paths"].values() for method in item if method != "parameters")
    assert tested and int(tested.group(1)) == operations, result.stdout[-3000:]


# A body per cadence, with the fields that cadence needs (the generated client refuses any other).
START = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
CADENCE_FIELDS = {
    "once": {"start_at": START},
    "hourly": {"send_minute": 15},
    "daily": {"send_hour": 7},
    "weekly": {"weekly_dow": 1},
    "biweekly": {"weekly_dow": 3},
    "monthly": {"monthly_dom": -1},
    "cron": {"cron_expression": "30 2 * * mon-fri"},
    "interval": {"interval_seconds": 3600},
}


# Generated packages by the SHA-256 of the document they were generated from: each test fetches the
# document from its own live server, and generates only when no earlier test of this process had the
# same document (generating took 7-16 s; the ten tests here serve the same document).
_GENERATED: dict[str, Path] = {}


@pytest.fixture
def generated_client(live, tmp_path_factory):
    """A client package generated by openapi-python-client from the live document, importable."""
    document = _get(f"{live}/openapi.json")
    digest = hashlib.sha256(document.encode()).hexdigest()
    if digest not in _GENERATED:
        folder = tmp_path_factory.mktemp("generated-client")
        spec_path = folder / "openapi.json"
        spec_path.write_text(document)
        result = subprocess.run([str(BIN / "openapi-python-client"), "generate", "--path", str(spec_path),
                                 "--output-path", str(folder / "client"), "--meta", "none"],
                                cwd=folder, capture_output=True, text=True, timeout=120,
                                env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
        _GENERATED[digest] = folder
    tmp_path = _GENERATED[digest]
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == "client" or name.startswith("client.")]:
            del sys.modules[name]


@pytest.mark.parametrize("cadence", CADENCES)
def test_generated_client_round_trip_for_every_cadence(generated_client, live, account_id, cadence):
    from client.api.runs import run_now
    from client.api.schedules import create_schedule, delete_schedule, get_schedule, update_schedule

    models = importlib.import_module("client.models")
    client = generated_client.AuthenticatedClient(base_url=live, token=bearer(account_id)["Authorization"][7:])

    body_class = getattr(models, f"Schedule{cadence.title()}")
    cadence_enum = getattr(models, f"Schedule{cadence.title()}Cadence")
    body = body_class(name=f"{cadence} report", cadence=cadence_enum(cadence), **CADENCE_FIELDS[cadence],
                      recipients=["client@example.com"], timezone="America/New_York")
    created = create_schedule.sync_detailed(client=client, body=body)
    assert created.status_code == 201, created.content
    schedule = created.parsed
    assert schedule.cadence == cadence and schedule.next_run_at is not None
    schedule_id = schedule.id

    read = get_schedule.sync(schedule_id, client=client)
    assert read.id == schedule_id and read.name == f"{cadence} report"

    patched = update_schedule.sync(schedule_id, client=client, body=models.SchedulePatch(name="renamed"))
    assert patched.name == "renamed" and patched.next_run_at == read.next_run_at

    run = run_now.sync_detailed(schedule_id, client=client, body=models.RunNowArgs(force=False))
    assert run.status_code == 202, run.content
    assert run.parsed.schedule_id == schedule_id and run.parsed.status in ("queued", "pending")

    deleted = delete_schedule.sync_detailed(schedule_id, client=client)
    assert deleted.status_code == 204
    missing = get_schedule.sync_detailed(schedule_id, client=client)
    assert missing.status_code == 404 and missing.parsed.error == "not_found"


def test_generated_client_refuses_nothing_the_seed_body_needs(generated_client, live, account_id):
    """Seed 001's body, as a client user would write it from the generated models."""
    from client.api.schedules import create_schedule

    models = importlib.import_module("client.models")
    client = generated_client.AuthenticatedClient(base_url=live, token=bearer(account_id)["Authorization"][7:])
    body = models.ScheduleWeekly.from_dict(SEED_001_BODY)
    created = create_schedule.sync_detailed(client=client, body=body)
    assert created.status_code == 201, created.content
    assert created.parsed.weekly_dow == 1


def _get(url: str) -> str:
    from urllib.request import urlopen

    with urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_unknown_account_token_is_refused_by_the_client_too(generated_client, live):
    from client.api.schedules import get_schedule

    client = generated_client.AuthenticatedClient(base_url=live, token=bearer(uuid.uuid4())["Authorization"][7:])
    answer = get_schedule.sync_detailed(uuid.uuid4(), client=client)
    assert answer.status_code == 404 and answer.parsed.error == "not_found"
