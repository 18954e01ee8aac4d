"""The worker supervisor stopping (python -m worker): a SIGINT or SIGTERM that lands while it is
starting a child still reaches that child, and a child that a stop ends before it set up its own
handlers is a normal stop, not an error (no ERROR line, no "keep dying" back-off)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The supervisor is told to stop (its handler has run) just before it starts a child: the child is
# listed only after the signal was handled, as when SIGINT lands during _spawn's fork and exec.
_SIGNAL_DURING_SPAWN = """
import signal, sys
from core.ops.logs import configure_logging
from core.ops.settings import load_settings
from worker.supervisor import Supervisor
settings = load_settings()
configure_logging(settings)
supervisor = Supervisor(settings)
supervisor._on_signal(signal.SIGINT, None)
supervisor._spawn(quarantine=False)
sys.exit(supervisor.run())
"""


def test_a_child_started_as_the_stop_signal_lands_is_stopped_too(worker_env):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **worker_env}
    result = subprocess.run([sys.executable, "-c", _SIGNAL_DURING_SPAWN], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "Worker supervisor" in log and "stopped" in log, log
    assert " ERROR " not in log and "keep dying" not in log, log
