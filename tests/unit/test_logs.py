"""Log lines a person can tail: one record, one line, whatever a tenant put in a schedule's name."""
from __future__ import annotations

import io
import json
import logging

from core.ops.logs import configure_logging
from core.ops.settings import load_settings


def emit(log_format: str, message: str, *args) -> str:
    stream = io.StringIO()
    configure_logging(load_settings({"LOG_FORMAT": log_format}), stream=stream)
    try:
        logging.getLogger("ticker").info(message, *args)
    finally:
        logging.getLogger().handlers.clear()
    return stream.getvalue()


def test_a_newline_in_a_name_cannot_forge_a_text_log_line():
    name = "Weekly\n2025-11-10 21:00:00 - ticker - ERROR - forged\r\x1b[31m\u2028"
    out = emit("text", "Processed schedule '%s': run_id=%s", name, "r1")
    assert out.count("\n") == 1 and out.endswith("\n")
    assert "'Weekly\\n2025-11-10 21:00:00 - ticker - ERROR - forged\\r\\x1b[31m\\u2028': run_id=r1" in out


def test_json_lines_keep_the_message_as_written():
    out = emit("json", "name %s", "a\nb")
    assert out.count("\n") == 1 and json.loads(out)["message"] == "name a\nb"


def test_a_traceback_keeps_its_lines():
    stream = io.StringIO()
    configure_logging(load_settings({}), stream=stream)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("ticker").exception("Failed to tick")
    finally:
        logging.getLogger().handlers.clear()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(" - ticker - ERROR - Failed to tick") and lines[1] == "Traceback (most recent call last):"
