"""Test fixtures: real PostgreSQL and Redis, never mocks.

Servers: TEST_DATABASE_URL / TEST_REDIS_URL when set (CI points them at the machine's own servers),
else embedded ones started once per session in a temporary folder (so several runs can go at once).
DATABASE_URL and REDIS_URL are never read here: the tests cannot touch the service's data.

Databases: a template is built once per session by running the migrations; each test that asks for
`database_url` gets a database equal to a fresh copy of it (`CREATE DATABASE ... TEMPLATE`, as
procrastinate does), under a name no other test had. Copies are reused: after its test a copy is
renamed (cutting off whatever the test left connected), its tables truncated and its sequences reset,
and its whole state compared with a fresh copy's; any difference and it is dropped (tests/dbpool.py).
Redis: each test that asks for `redis_url` starts on an empty database.

Parallel runs (pytest-xdist, `make test` passes `-n`): each worker process has its own session, so its
own embedded PostgreSQL and Redis, template and databases. With TEST_REDIS_URL pointing at database N,
worker k (gw0, gw1, ...) uses database N - k: CI's /15 gives 15 and 14 to two workers. With
TEST_DATABASE_URL the workers share the server; every database name carries the run and a random id.

The server packages (psycopg2, redis, the embedded servers) are imported inside the fixtures, not
here, so `pytest tests/unit` runs where no PostgreSQL or Redis is installed: only a test that asks
for a server fixture loads them (tests/unit/test_no_servers.py checks it).

Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: `dev` (the default) is quick to run while working;
`ci` (.ci/run sets it) is the thorough one. A property test (and schemathesis) says how many examples
it wants under `ci` through `examples()` below, and gets a tenth of them under `dev` (at least 10).
"""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import settings

# max_examples is the scale examples() reads: 100 (hypothesis's own default) gives each property test
# the count it names, 10 a tenth of it.
settings.register_profile("ci", max_examples=100, print_blob=True)
settings.register_profile("dev", max_examples=10)
# tests/unit/test_no_servers.py's child run, which checks what a unit test imports, not its rule: a
# hundredth of the examples (at least 1).
settings.register_profile("imports", max_examples=1)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "dev")


def examples(thorough: int) -> int:
    """How many examples a property test (or schemathesis, per operation) runs: `thorough` under the
    `ci` profile, a tenth of it (at least 10) under `dev`, the default."""
    floor = min(10, settings.default.max_examples)
    return max(floor, thorough * settings.default.max_examples // 100)


def thorough() -> bool:
    """Whether this run is the thorough one (the `ci` profile), which runs what a quick one leaves out."""
    return settings.default.max_examples >= 100


RUN_ID = uuid.uuid4().hex[:8]
# gw0, gw1, ... under pytest-xdist; None in a plain run.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


# The longest tests, started first (measured with -n 2 on 2 cores: schemathesis 90-300 s, then 10-60 s
# each): `make test` runs them beside the rest (pytest-xdist's worksteal hands the short ones of a busy
# worker to the idle one) rather than discovering them last, with the other worker idle.
LONGEST_FIRST = (
    "tests/api/test_openapi_conformance.py::test_schemathesis_finds_no_failure_on_any_operation",
    "tests/unit/test_no_servers.py",
    "tests/unit/test_cron_extensions_property.py",
    "tests/unit/test_timing_property.py",
    "tests/acceptance/",
    "tests/unit/test_when_property.py",
    "tests/ticker/test_crashes.py",
    "tests/api/test_openapi_conformance.py",
    "tests/ops/test_readme.py::test_the_test_count_the_readme_gives_is_within_five_percent_of_the_suite",
    "tests/console/test_browser",
    "tests/devtools/",
)


# Run in a pass of their own, after the rest (scripts/run-tests): process-level tests whose limits are
# timings (kill -9, outages, recovery within seconds), which the CPU-bound tests beside them on 2 cores
# make miss. They run as many at a time as the first pass (scripts/run-tests).
APART = ("tests/acceptance/",)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.startswith(APART) or item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.apart)

    def rank(item):
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
                    len(LONGEST_FIRST))
    items.sort(key=rank)  # stable: the collection order within each group


def _env(name: str) -> str | None:
    return (os.environ.get(name) or "").strip() or None


@pytest.fixture(scope="session")
def scratch_dir():
    with tempfile.TemporaryDirectory(prefix="schedtest-") as path:
        yield Path(path)


@pytest.fixture(scope="session")
def pg_admin_url(scratch_dir):
    """A URL of the test PostgreSQL server, on a database we may CREATE/DROP other databases from."""
    url = _env("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from devtools.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(scratch_dir / "postgres", delete_on_stop=True)
    _no_durability(server.admin_url)
    yield server.admin_url
    server.stop()


def _no_durability(admin_url: str) -> None:
    """The embedded server is thrown away after the session: it need not survive a crash of the machine.
    Without fsync a database copy, a TRUNCATE and a commit wait for no disk (same results, same isolation
    between sessions; only durability after an operating-system crash is given up)."""
    from core.ops import db

    conn = db.connect(admin_url, application_name="tests", autocommit=True)
    try:
        with conn.cursor() as cur:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                cur.execute(f"ALTER SYSTEM SET {setting} = off")
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()


@pytest.fixture(scope="session")
def redis_server_url(scratch_dir):
    url = _env("TEST_REDIS_URL")
    if url:
        yield _redis_database_of_worker(url)
        return
    from devtools.embedded import EmbeddedRedis

    server = EmbeddedRedis(scratch_dir / "redis", persistent=False)
    yield server.url
    server.stop()


def _redis_database_of_worker(url: str) -> str:
    """TEST_REDIS_URL for this xdist worker: database N - k for worker gwk (N itself without xdist)."""
    from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

    offset = int(XDIST_WORKER[2:]) if XDIST_WORKER else 0
    if offset == 0:
        return url
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        number = int(query.get("db", ["0"])[0]) - offset
        parts = parts._replace(query=urlencode({**{k: v[0] for k, v in query.items()}, "db": number}))
    else:
        number = int(parts.path.strip("/") or 0) - offset
        parts = parts._replace(path=f"/{number}")
    if number < 0:
        pytest.exit(f"TEST_REDIS_URL: xdist worker {XDIST_WORKER} would use Redis database {number}; "
                    "point TEST_REDIS_URL at a database numbered at least the number of workers - 1", 2)
    return urlunsplit(parts)


@pytest.fixture(scope="session")
def template_database(pg_admin_url):
    """The name of a database holding the migrated schema, built once per session."""
    from core.ops.migrate import apply_migrations
    from devtools.embedded import create_database, drop_database

    name = f"sched_tpl_{RUN_ID}"
    url = create_database(pg_admin_url, name)
    apply_migrations(url)
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def empty_database_url(pg_admin_url):
    """A database of its own with nothing in it (for migration tests)."""
    from devtools.embedded import create_database, drop_database

    name = f"sched_empty_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def database_pool(pg_admin_url, template_database):
    from tests.dbpool import DatabasePool

    pool = DatabasePool(pg_admin_url, template_database, prefix=f"sched_test_{RUN_ID}_")
    yield pool
    pool.close()


@pytest.fixture
def database_url(database_pool):
    """A migrated database of this test's own: equal to a fresh copy of the template, under a new name;
    reset (or dropped) afterwards."""
    url = database_pool.acquire()
    yield url
    database_pool.release(url)


@pytest.fixture
def conn(database_url):
    """A service connection (sees every tenant) to this test's database."""
    from core.ops import db

    connection = db.connect(database_url, application_name="tests")
    yield connection
    connection.close()


@pytest.fixture
def redis_url(redis_server_url):
    """The test Redis, emptied before the test."""
    import redis

    from core.runs import rq_jobs
    from worker import entry_points

    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    rq_jobs.use_entry_points(run=entry_points.RUN, alert=entry_points.ALERT)  # as the ticker does at start
    return redis_server_url


def make_account(conn, name: str = "Acme", plan: str = "unlimited") -> uuid.UUID:
    """An account; on the plan without a cap on runs in flight unless a test asks for one (bursts of
    thousands of runs in one account test dispatch, not the fair shares of tests/*/test_fair_shares.py)."""
    from core.ops import db

    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (name, plan) VALUES (%s, %s) RETURNING id", (name, plan))
        return cur.fetchone()["id"]


@pytest.fixture
def account_id(conn):
    return make_account(conn, "Tenant A")


@pytest.fixture
def other_account_id(conn):
    return make_account(conn, "Tenant B")

