"""The migrations' CHECK constraints and column defaults agree with core/model.py, and their channel
types with core/deliveries/channel_types.py.

Read from a migrated database's catalog (pg_constraint, information_schema), not from the .sql files:
what counts is the schema the migrations leave, whichever of them last changed a constraint. A list
is compared as a set (order means nothing to IN); a range is checked by evaluating the constraint's
own expression at the model's bounds and just past them.
"""
from __future__ import annotations

import re

import pytest

from core import model
from core.deliveries import channel_types
from core.ops import db

ENUMERATIONS = [
    ("schedules", "cadence", model.CADENCES),
    ("schedules", "overlap_policy", model.OVERLAP_POLICIES),
    ("schedules", "catchup", model.CATCHUP_POLICIES),
    ("schedules", "deliver_when", model.DELIVER_WHEN),
    ("schedules", "on_holiday", model.ON_HOLIDAY_POLICIES),
    ("schedule_runs", "status", model.RUN_STATUSES),
    ("schedule_runs", "trigger", model.TRIGGERS),
    ("deliveries", "status", model.DELIVERY_STATUSES),
    ("schedule_changes", "action", model.CHANGE_ACTIONS),
]
DEFAULTS = [
    ("send_hour", str(model.DEFAULT_SEND_HOUR)),
    ("send_minute", str(model.DEFAULT_SEND_MINUTE)),
    ("timezone", f"'{model.DEFAULT_TIMEZONE}'::text"),
    ("overlap_policy", f"'{model.DEFAULT_OVERLAP_POLICY}'::text"),
    ("catchup", f"'{model.DEFAULT_CATCHUP}'::text"),
    ("deliver_when", f"'{model.DEFAULT_DELIVER_WHEN}'::text"),
]


def column_check(cur, table: str, column: str) -> str:
    """The expression of the one CHECK constraint on exactly this column, as PostgreSQL prints it."""
    cur.execute("""
        SELECT pg_get_constraintdef(c.oid) AS definition
          FROM pg_constraint AS c
          JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attname = %s
         WHERE c.conrelid = %s::regclass AND c.contype = 'c' AND c.conkey = ARRAY[a.attnum]
    """, (column, table))
    rows = cur.fetchall()
    assert len(rows) == 1, f"{table}.{column}: expected one CHECK constraint, found {len(rows)}"
    definition = rows[0]["definition"]
    assert definition.startswith("CHECK ("), definition
    return definition[len("CHECK "):]


def accepts(cur, table: str, column: str, expression: str, value: int) -> bool:
    """Whether the CHECK expression lets `value` into the column (NULL counts as passing, as in a CHECK)."""
    cur.execute(f"SELECT ({expression}) IS NOT FALSE AS ok"
                f" FROM (SELECT %s::{column_type(cur, table, column)} AS {column}) AS v", (value,))
    return cur.fetchone()["ok"]


def column_type(cur, table: str, column: str) -> str:
    cur.execute("SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attname = %s", (table, column))
    return cur.fetchone()["type"]


@pytest.mark.parametrize("table, column, values", ENUMERATIONS, ids=[f"{t}.{c}" for t, c, _ in ENUMERATIONS])
def test_each_list_check_allows_exactly_the_models_values(conn, table, column, values):
    with db.service_transaction(conn) as cur:
        expression = column_check(cur, table, column)
    allowed = re.findall(r"'([^']*)'::text", expression)
    assert allowed, expression
    assert set(allowed) == set(values), f"{table}.{column}: the CHECK allows {allowed}, the model says {values}"


@pytest.mark.parametrize("column", sorted(model.BOUNDS))
def test_each_range_check_allows_exactly_the_models_bounds(conn, column):
    bound = model.BOUNDS[column]
    inside = {bound.low, bound.high, *bound.also}
    outside = {bound.low - 1, bound.high + 1, *(v + step for v in bound.also for step in (-1, 1))}
    outside = {v for v in outside if v not in inside and not bound.low <= v <= bound.high}
    with db.service_transaction(conn) as cur:
        expression = column_check(cur, "schedules", column)
        if bound.high == model.INT32_MAX:  # the column type is the upper bound
            assert column_type(cur, "schedules", column) == "integer"
            outside.discard(bound.high + 1)
        refused_inside = sorted(v for v in inside if not accepts(cur, "schedules", column, expression, v))
        allowed_outside = sorted(v for v in outside if accepts(cur, "schedules", column, expression, v))
    assert refused_inside == [] and allowed_outside == [], (
        f"schedules.{column}: CHECK {expression} disagrees with the model's {bound}")


def test_the_databases_channel_types_are_the_registrys(conn):
    """A registered type without its row in channel_types (migration 0030: one INSERT) is refused by
    the database; a row without a registered type has no sender. Its secret URLs are masked alike."""
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT name, secret_url FROM channel_types")
        rows = {row["name"]: row["secret_url"] for row in cur.fetchall()}
    assert rows == {"email": False, **{name: kind.secret_url for name, kind in channel_types.TYPES.items()}}


def test_the_channel_columns_refer_to_channel_types(conn):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT conrelid::regclass::text AS tab, pg_get_constraintdef(oid) AS definition"
                    " FROM pg_constraint WHERE confrelid = 'channel_types'::regclass ORDER BY 1")
        found = [(row["tab"], row["definition"]) for row in cur.fetchall()]
    assert found == [("deliveries", "FOREIGN KEY (channel) REFERENCES channel_types(name)"),
                     ("schedule_channels", "FOREIGN KEY (type) REFERENCES channel_types(name)")]


@pytest.mark.parametrize("column, default", DEFAULTS, ids=[c for c, _ in DEFAULTS])
def test_column_defaults_are_the_models(conn, column, default):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT column_default FROM information_schema.columns"
                    " WHERE table_name = 'schedules' AND column_name = %s", (column,))
        assert cur.fetchone()["column_default"] == default


@pytest.mark.parametrize("function, members", [("run_in_flight", model.IN_FLIGHT),
                                               ("run_takes_a_slot", model.TAKING_A_SLOT)])
def test_the_sql_status_sets_are_the_models(conn, function, members):
    """The queries test a run's status through these functions (migration 0028), never a list of their own."""
    with db.service_transaction(conn) as cur:
        cur.execute(f"SELECT s AS status, {function}(s) AS member FROM unnest(%s::text[]) AS s",
                    (list(model.RUN_STATUSES),))
        found = {row["status"] for row in cur.fetchall() if row["member"]}
    assert found == set(members)


def test_the_cap_on_runs_in_flight_counts_through_its_partial_index(conn, account_id):
    """run_takes_a_slot is inlined, so the count of an account's runs taking a slot still reads
    schedule_runs_in_flight_idx (whose predicate spells the same statuses)."""
    with db.service_transaction(conn) as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN SELECT count(*) FROM schedule_runs f WHERE f.account_id = %s AND NOT f.held"
                    " AND run_takes_a_slot(f.status)", (account_id,))
        plan = "\n".join(row["QUERY PLAN"] for row in cur.fetchall())
    assert "schedule_runs_in_flight_idx" in plan, plan
