"""Gunicorn settings for the web process (`gunicorn 'api:create_app()'`, read from this folder).

WEB_HOST (default 0.0.0.0, as a platform such as Render needs; `make dev` sets 127.0.0.1), PORT
(default 8000), WEB_CONCURRENCY worker processes (default 2) and WEB_THREADS threads each (default 4),
in api/buffered_worker.py's worker class (REQUEST_READ_TIMEOUT, REQUEST_MIN_RATE: slow clients).
The app's settings are checked here, in the master, before any worker starts: a missing
DATABASE_URL or JWT_SECRET, or any malformed variable, stops gunicorn with one line naming it and
exit status 2, instead of every worker dying with a traceback in a restart loop.

Logs: gunicorn's own lines (starting, booting workers, timeouts, shutting down) and the access log go
through api/gunicorn_logging.py, so they follow LOG_FORMAT like every other process's lines. The
control socket (gunicorn 24+, one shared ~/.gunicorn/gunicorn.ctl by default, so stopping one
gunicorn would delete another's) is turned off: nothing here uses `gunicornc`.

Metrics (GET /metrics) with several worker processes: set PROMETHEUS_MULTIPROC_DIR to a directory
for this service alone (render.yaml uses /tmp/schedules-prometheus). Each worker writes its counters
and histograms to files there and /metrics adds them all up. `on_starting` creates the directory and
empties it (figures of a previous run must not be counted again); `child_exit` tells
prometheus_client that a worker is gone (multiprocess.mark_process_dead), so the files of a dead
worker stop counting as a live process's. Without the variable each worker reports its own requests.
"""
import glob
import os
import queue
import signal
import sys

from core.engine import tzdb
from core.ops.logs import configure_logging
from core.ops.settings import SettingsError, load_settings


def _fail(message: str) -> None:
    print(f"gunicorn: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


try:
    _settings = load_settings()  # WEB_HOST, PORT, WEB_CONCURRENCY, WEB_THREADS too, by the same parsers
    _settings.require("database_url", "jwt_secret")
except SettingsError as error:
    _fail(str(error))

configure_logging(_settings)

_host = f"[{_settings.web_host}]" if ":" in _settings.web_host else _settings.web_host  # IPv6: bracketed
bind = f"{_host}:{_settings.port}"
workers = _settings.web_concurrency
threads = _settings.web_threads
# gthread whose event loop reads each request whole, with a deadline, before a thread takes it; and
# anonymous routes get at most a quarter of the threads (api/buffered_worker.py, docs/operating.md "Slow clients").
worker_class = "api.buffered_worker.BufferingWorker"
# Render's proxy sits in front and its addresses are not fixed: trust its X-Forwarded-* headers
# (the app's ProxyFix then takes exactly one hop of them).
forwarded_allow_ips = "*"
accesslog = "-"
# Apache's combined format without its own [time]: the log line already starts with one.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
logger_class = "api.gunicorn_logging.Logger"
control_socket_disable = True
timeout = 30
graceful_timeout = 30


def _metrics_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def on_starting(server):
    server.log.info("Time zones from tz database %s", tzdb.in_use())
    directory = _metrics_dir()
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


def _stop_booting_worker(signum, frame):
    sys.exit(0)


def post_fork(server, worker):
    """A worker told to stop while it boots stops, instead of serving on until the master kills it.

    From the fork until the worker installs its own handlers (after this hook) a signal runs the
    master's handler copied into the child, which only queues it in the child's copy of the master's
    queue, where nobody reads it: Ctrl-C during boot left that worker running and the master waiting
    out graceful_timeout (30 s) before SIGKILL. So: stop signals end a booting worker at once, and one
    that already arrived (it sits in that copied queue) ends it here. The worker has served nothing."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _stop_booting_worker)  # runs, first, any handler already pending
    while True:
        try:
            pending = server.SIG_QUEUE.get_nowait()
        except queue.Empty:
            return
        if pending in _STOP_SIGNALS:
            sys.exit(0)


def child_exit(server, worker):
    if _metrics_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
