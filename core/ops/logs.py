"""Logging set-up shared by every process: lines a person can tail, or JSON lines for a log pipeline.

Text (the default):
    2025-11-10 21:00:00 - ticker - INFO - Found 2 due schedule(s)
JSON (LOG_FORMAT=json) is one object per line with time, level, logger, message and, where a log call
passes them in `extra`, schedule_id, run_id, job_id and account_id; a call may also pass a dict of
more keys as `extra={"fields": {...}}` (gunicorn's access log does, see api/gunicorn_logging.py).

A unit of work labels the errors it raises with what it was doing (`stage`), so the line its loop
logs names it: "Failed to push jobs to Redis: ...".

The logging module's globals (logProcesses, logThreads, _srcfile) are left alone: other code in the
same process (gunicorn's own formats use %(process)d) depends on them.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from contextlib import contextmanager
from datetime import datetime, timezone

TEXT_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
TEXT_DATEFMT = "%Y-%m-%d %H:%M:%S"
CONTEXT_FIELDS = ("schedule_id", "run_id", "job_id", "account_id")
# Control characters in a message (a schedule name with a newline, say) would let a tenant forge a
# line in the text log; they are written escaped (\n, \x1b). Tracebacks keep their own lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class TextFormatter(logging.Formatter):
    """The text format, one log record per line whatever its message holds."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _CONTROL.sub(_escape, record.message)
        return super().formatMessage(record)


def _escape(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = str(value)
        more = getattr(record, "fields", None)
        if isinstance(more, dict):
            entry.update((key, value) for key, value in more.items() if key not in entry)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of LOG_FORMAT (`text` or `json`)."""
    return JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT, TEXT_DATEFMT)


def configure_logging(settings, stream=None) -> None:
    """Route every logger to one stderr handler in the configured format and level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings.log_format))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level)


@contextmanager
def stage(name: str):
    """Label an error raised inside with what the process was doing ("push retries"), once: the
    innermost label wins, and the log line says "Failed to <stage>: <error>" (`stage_of`)."""
    try:
        yield
    except BaseException as exc:
        if not hasattr(exc, "log_stage"):
            try:
                exc.log_stage = name
            except AttributeError:
                pass  # an exception type that takes no attributes: its stage is "tick"
        raise


def stage_of(exc: BaseException) -> str:
    """The label `stage` put on `exc`, or "tick"."""
    return getattr(exc, "log_stage", "tick")
