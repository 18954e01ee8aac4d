"""Gunicorn settings for the web process (`gunicorn 'api:create_app()'`, read from this folder).

PORT (default 8000), WEB_CONCURRENCY worker processes (default 2) and WEB_THREADS threads each
(default 4). The app's settings are checked here, in the master, before any worker starts: a missing
DATABASE_URL or JWT_SECRET, or any malformed variable, stops gunicorn with one line naming it and
exit status 2, instead of every worker dying with a traceback in a restart loop.

Metrics (GET /metrics) with several worker processes: set PROMETHEUS_MULTIPROC_DIR to a directory
for this service alone (render.yaml uses /tmp/schedules-prometheus). Each worker writes its counters
and histograms to files there and /metrics adds them all up. `on_starting` creates the directory and
empties it (figures of a previous run must not be counted again); `child_exit` tells
prometheus_client that a worker is gone (multiprocess.mark_process_dead), so the files of a dead
worker stop counting as a live process's. Without the variable each worker reports its own requests.
"""
import glob
import os
import sys

from core.logs import configure_logging
from core.settings import SettingsError, load_settings


def _fail(message: str) -> None:
    print(f"gunicorn: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def _int_env(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        _fail(f"{name} must be an integer, got {raw!r}")
    if not low <= value <= high:
        _fail(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


try:
    _settings = load_settings()
    _settings.require("database_url", "jwt_secret")
except SettingsError as error:
    _fail(str(error))

configure_logging(_settings)

bind = f"0.0.0.0:{_int_env('PORT', 8000, 1, 65535)}"
workers = _int_env("WEB_CONCURRENCY", 2, 1, 64)
threads = _int_env("WEB_THREADS", 4, 1, 64)
worker_class = "gthread"
# Render's proxy sits in front and its addresses are not fixed: trust its X-Forwarded-* headers
# (the app's ProxyFix then takes exactly one hop of them).
forwarded_allow_ips = "*"
accesslog = "-"
timeout = 30
graceful_timeout = 30


def _metrics_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def on_starting(server):
    directory = _metrics_dir()
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    if _metrics_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
