"""Logging set-up shared by every process: lines a person can tail, or JSON lines for a log pipeline.

Text (the default) looks like the seeds' logs:
    2025-11-10 21:00:00 - ticker - INFO - Found 2 due schedule(s)
JSON (LOG_FORMAT=json) is one object per line with time, level, logger, message and, where a log call
passes them in `extra`, schedule_id, run_id and job_id.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

TEXT_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
TEXT_DATEFMT = "%Y-%m-%d %H:%M:%S"
CONTEXT_FIELDS = ("schedule_id", "run_id", "job_id", "account_id")


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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings, stream=None) -> None:
    """Route every logger to one stderr handler in the configured format and level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATEFMT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    _collect_only_what_is_shown()


def _collect_only_what_is_shown() -> None:
    """Neither format shows the source line, thread or process of a call, so don't collect them
    (the switches the logging HOWTO's "Optimization" section lists): the ticker logs a line per
    dispatched schedule, and finding the caller's frame was a fifth of that line's cost."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
