"""Gunicorn's own log lines (its error log and the access log) in the service's format.

Gunicorn formats its error log as `[time] [pid] [LEVEL] message` and its access log as Apache text,
whatever LOG_FORMAT says. This logger class (gunicorn.conf.py sets `logger_class`) keeps gunicorn's
handlers and levels and swaps their formatter for core.ops.logs' one, so every line gunicorn writes is a
line like the ticker's and the worker's. With LOG_FORMAT=json an access line carries its parts as
keys (method, path, status, duration_ms...) instead of one Apache string.
"""
from __future__ import annotations

from gunicorn import glogging

from core.ops.logs import formatter
from core.ops.settings import load_settings


class Logger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # gunicorn.conf.py has checked the settings before gunicorn builds its logger.
        self.log_format = load_settings().log_format
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.setFormatter(formatter(self.log_format))

    def access(self, resp, req, environ, request_time):
        if self.log_format != "json":
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        status = str(atoms["s"])
        fields = {
            "remote_addr": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"] or None,
            "protocol": atoms["H"],
            "status": int(status) if status.isdigit() else status,
            "bytes": atoms["B"],
            "duration_ms": round(atoms["D"] / 1000, 3),
            "referer": None if atoms["f"] == "-" else atoms["f"],
            "user_agent": None if atoms["a"] == "-" else atoms["a"],
        }
        self.access_log.info("%s %s %s", atoms["m"], atoms["U"], status, extra={"fields": fields})
