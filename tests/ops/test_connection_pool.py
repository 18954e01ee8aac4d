"""core.ops.db.ConnectionPool, on a real PostgreSQL: the worker's runs in flight and the API's requests
share one per process."""
import threading

import pytest

from core.ops import db
from tests.api.conftest import app, app_config  # noqa: F401 (fixtures: the API as create_app makes it)


@pytest.fixture
def pool(database_url):
    made = db.ConnectionPool(database_url, 2, wait_seconds=0.2)
    yield made
    made.close()


def _backend_pid(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        pid = cur.fetchone()["pid"]
    conn.commit()
    return pid


def test_a_connection_given_back_is_lent_again_not_reopened(pool):
    with pool.connection() as conn:
        pid = _backend_pid(conn)
    with pool.connection() as conn:
        assert _backend_pid(conn) == pid


def test_at_most_size_connections_then_a_timeout_that_says_how_long_it_waited(pool):
    first, second = pool.getconn(), pool.getconn()
    with pytest.raises(db.PoolTimeout, match="no database connection free after 0.2s"):
        pool.getconn()
    pool.putconn(first)
    third = pool.getconn()
    assert third is first
    pool.putconn(second)
    pool.putconn(third)


def test_a_waiting_borrower_gets_the_connection_given_back(database_url):
    pool = db.ConnectionPool(database_url, 1, wait_seconds=10)
    try:
        held = pool.getconn()
        got = []
        waiter = threading.Thread(target=lambda: got.append(pool.getconn()))
        waiter.start()
        pool.putconn(held)
        waiter.join(10)
        assert got == [held]
        pool.putconn(held)
    finally:
        pool.close()


def test_a_connection_given_back_inside_a_transaction_is_rolled_back(pool):
    with pool.connection() as conn:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE left_open (x int)")
        # given back with the transaction open
    with pool.connection() as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('pg_temp.left_open') IS NULL AS gone")
            assert cur.fetchone()["gone"]
        conn.rollback()


def test_a_broken_connection_is_closed_and_its_slot_opens_a_new_one(pool):
    with pool.connection() as conn:
        pid = _backend_pid(conn)
        conn.close()  # as if the server had gone away
    with pool.connection() as conn:
        assert not conn.closed
        assert _backend_pid(conn) != pid
    # the slot was not lost: both still lend
    a, b = pool.getconn(), pool.getconn()
    pool.putconn(a)
    pool.putconn(b)


def test_close_closes_the_idle_connections_and_the_pool_still_lends(pool):
    conn = pool.getconn()
    pool.putconn(conn)
    pool.close()
    assert conn.closed
    with pool.connection() as fresh:
        assert _backend_pid(fresh) > 0


def test_the_apis_pool_plans_each_run_and_the_workers_keeps_generic_plans(app, database_url):
    """The API's optional filters need a plan for each request's parameters; the worker's by-id
    statements one plan for all (core.ops.db.ConnectionPool)."""
    def mode(pool) -> str:
        conn = pool.getconn()
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW plan_cache_mode")
                return cur.fetchone()["plan_cache_mode"]
        finally:
            pool.putconn(conn)

    assert mode(app.extensions["db_pool"]) == "force_custom_plan"
    worker = db.ConnectionPool(database_url, 1, plans="generic")
    plain = db.ConnectionPool(database_url, 1)
    try:
        assert (mode(worker), mode(plain)) == ("force_generic_plan", "auto")
    finally:
        worker.close()
        plain.close()
