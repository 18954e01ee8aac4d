"""Named queries run as prepared statements of their connection (core.ops.sql.Query, core.ops.db.Cursor)."""
import psycopg2
import pytest

from core.ops import db
from core.ops.sql import Query, queries

PREPARABLE = sorted(name for name, query in queries.items() if query.prepare is not None)
# Utility statements (SET, LISTEN, two statements in one), and execute_values' VALUES lists.
NOT_PREPARABLE = {"become_tenant", "set_statement_timeout", "listen_for_schedule_changes", "keep_generic_plans", "plan_every_run",
                  "advance_schedules", "insert_scheduled_runs"}


def _prepared(conn) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute("SELECT name, statement FROM pg_prepared_statements")
        return {row["name"]: row["statement"] for row in cur.fetchall()}


def test_every_named_query_but_utility_statements_and_values_lists_is_preparable():
    assert {name for name, query in queries.items() if query.prepare is None} <= NOT_PREPARABLE
    assert len(PREPARABLE) > 80


@pytest.mark.parametrize("name", PREPARABLE)
def test_postgresql_prepares_the_named_query(conn, name):
    """Every parameter's type is known from the statement (PostgreSQL refuses to guess it otherwise)."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries[name].prepare)
    assert f"q_{name}" in _prepared(conn)


def test_a_named_query_is_prepared_once_per_connection_and_answers_as_before(conn, account_id):
    for _ in range(3):
        with db.service_transaction(conn) as cur:
            cur.execute(queries["ensure_account"], {"id": account_id, "name": "Tenant A", "plan": "pro", "unused": 1})
            assert cur.fetchone()["id"] == account_id
    assert list(_prepared(conn)) == ["q_ensure_account"]
    assert conn.prepared == {"ensure_account": "EXECUTE q_ensure_account(%s::uuid, %s::text, %s::text)"}
    other = db.connect(conn.dsn)
    try:
        assert _prepared(other) == {}  # another session prepares its own
    finally:
        other.close()


def test_a_prepared_statement_outlives_a_rolled_back_transaction(conn, account_id):
    with pytest.raises(psycopg2.errors.DivisionByZero):
        with db.service_transaction(conn) as cur:
            cur.execute(queries["ensure_account"], {"id": account_id, "name": "Tenant A", "plan": "pro"})
            cur.execute("SELECT 1 / 0")
    with db.service_transaction(conn) as cur:
        cur.execute(queries["ensure_account"], {"id": account_id, "name": "Tenant A", "plan": "pro"})
        assert cur.fetchone()["id"] == account_id


def test_parameters_keep_their_meaning_when_repeated_and_reordered():
    query = Query("example", "-- what it is\nSELECT %(b)s::int + %(a)s::int, %(b)s::int, '50%%' AS pct")
    assert query.params == ("b", "a")
    assert query.prepare == "PREPARE q_example AS SELECT $1::int + $2::int, $1::int, '50%' AS pct"


@pytest.mark.parametrize("text", [
    "SET LOCAL statement_timeout = 1000",
    "SELECT 1; SELECT 2",
    "INSERT INTO t (a) VALUES %s",
])
def test_utility_statements_several_statements_and_positional_lists_run_unprepared(text):
    assert Query("example", text).prepare is None


def test_a_semicolon_inside_a_literal_does_not_split_the_statement():
    assert Query("example", "UPDATE t SET note = 'lost mid-send; not sent again' WHERE id = %(id)s").prepare


def test_arguments_are_cast_to_the_parameters_types(conn, account_id):
    """A list of id strings is a text[] to psycopg2: cast to uuid[] as the query's own text casts it."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries["mark_requeued"], {"run_ids": [str(account_id)]})
        assert cur.rowcount == 0


def test_plain_text_and_positional_parameters_run_as_psycopg2_runs_them(conn, account_id):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT %s::uuid AS id", (account_id,))
        assert cur.fetchone()["id"] == account_id
        cur.execute(str(queries["run_status"]).replace("%(run_id)s", "%s"), (account_id,))
        assert cur.fetchone() is None
    assert _prepared(conn) == {}
