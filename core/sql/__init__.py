"""Every SQL statement of the project, by name, loaded from the `.sql` files beside this module.

Each query sits under a `-- name --` header followed by a one-line `--` description, and takes
`%(named)s` parameters; Python refers to it as `queries["name"]`. One file per area (accounts,
schedules, dispatch, runs, ...), one namespace: a name used twice is an error at import.
"""
from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^-- ([a-z][a-z0-9_]*) --$", re.MULTILINE)


def _load(directory: Path) -> dict[str, str]:
    loaded: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        parts = _HEADER.split(path.read_text())
        # parts = [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2]):
            if name in loaded:
                raise ValueError(f"query {name!r} is defined twice (second time in {path.name})")
            loaded[name] = body.strip()
    return loaded


queries: dict[str, str] = _load(Path(__file__).parent)
