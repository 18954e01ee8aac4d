"""Every SQL statement of the project, by name, loaded from the `.sql` files of core's groups.

Each query sits under a `-- name --` header followed by a one-line `--` description, and takes
`%(named)s` parameters; Python refers to it as `queries["name"]`. A `.sql` file sits beside the one
module that runs its queries and has its name (core/runs/lifecycle.sql is core/runs/lifecycle.py's);
one namespace: a name used twice is an error at import.

Each query is a `Query`: its text, plus the same statement as a server-side prepared statement
(`PREPARE <name> AS ...` with `$1, $2, ...` for the named parameters) when it is one statement that
PostgreSQL can prepare. core.ops.db's cursors run a named query through its prepared statement, so
PostgreSQL parses and plans it once per connection instead of on every call: for the worker's
statements of every run, planning cost the database more CPU than executing them.
"""
from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^-- ([a-z][a-z0-9_]*) --$", re.MULTILINE)
_NAMED = re.compile(r"%\(([a-z_][a-z0-9_]*)\)s")
_COMMENT = re.compile(r"^\s*--[^\n]*\n", re.MULTILINE)
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_PREPARABLE = ("select", "insert", "update", "delete", "with", "values")


class Query(str):
    """A named query's text (a `str`, for psycopg2), with what it takes to run it as a prepared statement.

    `prepare` is `PREPARE <statement> AS <text with $n>` (None when the query cannot be prepared: a
    utility statement, several statements, or positional `%s` placeholders such as execute_values'
    VALUES list) and `params` the parameter names in `$n` order.
    """

    name: str
    statement: str
    prepare: str | None
    params: tuple[str, ...]

    def __new__(cls, name: str, text: str) -> "Query":
        query = super().__new__(cls, text)
        query.name = name
        query.statement = f"q_{name}"
        query.params = tuple(dict.fromkeys(_NAMED.findall(text)))
        numbered = _NAMED.sub(lambda m: f"${query.params.index(m.group(1)) + 1}", text)
        code = _COMMENT.sub("", numbered).strip().rstrip(";")
        preparable = (code.split(None, 1)[0].lower() in _PREPARABLE if code else False) \
            and ";" not in _LITERAL.sub("", code) and "%" not in code.replace("%%", "")
        query.prepare = f"PREPARE {query.statement} AS {code.replace('%%', '%')}" if preparable else None
        return query


def _load(directory: Path) -> dict[str, Query]:
    loaded: dict[str, Query] = {}
    for path in sorted(directory.glob("*/*.sql")):
        parts = _HEADER.split(path.read_text())
        # parts = [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2]):
            if name in loaded:
                raise ValueError(f"query {name!r} is defined twice (second time in {path.name})")
            loaded[name] = Query(name, body.strip())
    return loaded


queries: dict[str, Query] = _load(Path(__file__).parent.parent)
