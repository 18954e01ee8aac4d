"""The one way the web process reads JSON from a client: strict, and never a 500.

`loads` refuses what Python's json module would take or choke on: NaN and Infinity, numbers out of
range, invalid UTF-8, and documents nested deeper than MAX_BODY_DEPTH, which are counted before
parsing (a 64 KiB body of `[[[[...` would otherwise end in a RecursionError, a 500). Every failure is
a ValueError (json.JSONDecodeError). The API's webargs parser (api/base.py) reads bodies with it, and
so does Flask's `request.get_json()` everywhere (StrictJSONProvider, installed by create_app), so a
route that reads JSON by hand (the unsubscribe route) has the same rules as the others.
"""
from __future__ import annotations

import json
import math
import re

from flask.json.provider import DefaultJSONProvider

# A schedule body's own level plus task_parameters' 16 (api/fields.py MAX_JSON_DEPTH), with room.
MAX_BODY_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text!r} is out of range")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def deeper_than(text: str, limit: int) -> bool:
    """Whether the brackets of a JSON text (outside its strings) nest deeper than `limit`."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > limit:
            return True
    return False


def loads(data: bytes | str):
    """The document in `data`; json.JSONDecodeError (a ValueError) for anything malformed or too deep."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        if deeper_than(text, MAX_BODY_DEPTH):
            raise ValueError(f"JSON nested more than {MAX_BODY_DEPTH} levels deep")
        return json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError too
        raise json.JSONDecodeError(str(error), "<body>", 0) from None


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading with `loads` above (writing is unchanged)."""

    def loads(self, s, **kwargs):
        return loads(s)
