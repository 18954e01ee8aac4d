"""The schema accepts the seeds' own SQL and refuses out-of-range values."""
import psycopg2
import pytest

from core.ops import db
from core.ops.sql import queries
from tests.seeds import SEED_000_TEST_SCHEDULE


@pytest.fixture
def seed_account(conn):
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (id, name) VALUES ('912014c3-6deb-4b40-a28d-489ef3923a3a', 'Seed')")


def test_seed_000_test_schedule_insert_is_accepted_verbatim(conn, seed_account):
    with db.service_transaction(conn) as cur:
        cur.execute(SEED_000_TEST_SCHEDULE)
        cur.execute("SELECT id, task, timezone, recipients, lookback_days, active, next_run_at < now() AS due"
                    " FROM schedules")
        row = cur.fetchone()
    assert row["task"] == "generate_report"
    assert row["timezone"] == "UTC"
    assert row["recipients"] == ["test@example.com"]
    assert row["lookback_days"] == 30
    assert row["due"] is True
    assert row["id"] is not None  # UUID default


def test_seed_000_audit_insert_takes_the_account_from_the_schedule(conn, seed_account):
    with db.service_transaction(conn) as cur:
        cur.execute(SEED_000_TEST_SCHEDULE + " ")
        cur.execute("SELECT id FROM schedules")
        schedule_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, created_at) VALUES (%s, 'queued', NOW())"
                    " RETURNING id, account_id", (schedule_id,))
        run = cur.fetchone()
    assert str(run["account_id"]) == "912014c3-6deb-4b40-a28d-489ef3923a3a"


@pytest.mark.parametrize("column, value", [
    ("cadence", "fortnightly"),
    ("weekly_dow", 7),
    ("weekly_dow", -1),
    ("monthly_dom", 0),
    ("monthly_dom", 32),
    ("monthly_dom", -2),
    ("send_hour", 24),
    ("send_minute", 60),
    ("interval_seconds", 59),
])
def test_schema_refuses_out_of_range_timing_values(conn, account_id, column, value):
    with pytest.raises(psycopg2.errors.CheckViolation):
        with db.service_transaction(conn) as cur:
            cur.execute(
                f"INSERT INTO schedules (account_id, name, {column}) VALUES (%s, 'x', %s)", (account_id, value)
            )


def test_a_schedule_never_gets_two_runs_for_the_same_occurrence(conn, account_id):
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedules (account_id, name, weekly_dow) VALUES (%s, 'x', 1) RETURNING id",
                    (account_id,))
        schedule_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO schedule_runs (schedule_id, scheduled_for) VALUES (%s, '2026-01-05 09:00Z')",
                    (schedule_id,))
    with pytest.raises(psycopg2.errors.UniqueViolation):
        with db.service_transaction(conn) as cur:
            cur.execute("INSERT INTO schedule_runs (schedule_id, scheduled_for) VALUES (%s, '2026-01-05 09:00Z')",
                        (schedule_id,))
    # Manual runs of the same instant are allowed: they are not occurrences of the rule.
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedule_runs (schedule_id, scheduled_for, trigger)"
                    " VALUES (%s, '2026-01-05 09:00Z', 'manual')", (schedule_id,))


def test_due_query_is_served_by_the_partial_index(conn, account_id):
    """The claim's order (due instant, then accounts in turn) is the index's: no sort, no other index."""
    with db.service_transaction(conn) as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("EXPLAIN SELECT id FROM schedules WHERE active AND next_run_at <= now()"
                    " ORDER BY next_run_at, account_seq LIMIT 100")
        plan = "\n".join(row["QUERY PLAN"] for row in cur.fetchall())
    assert "schedules_due_idx" in plan and "Sort" not in plan, plan


def test_deleting_a_schedule_deletes_its_runs(conn, account_id):
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedules (account_id, name, weekly_dow) VALUES (%s, 'x', 1) RETURNING id",
                    (account_id,))
        schedule_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO schedule_runs (schedule_id) VALUES (%s)", (schedule_id,))
        cur.execute("DELETE FROM schedules WHERE id = %s", (schedule_id,))
        cur.execute("SELECT count(*) AS n FROM schedule_runs")
        assert cur.fetchone()["n"] == 0


def test_runs_have_no_report_run_id_column_since_0012(conn):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'schedule_runs'")
        columns = {row["column_name"] for row in cur.fetchall()}
    assert "report_run_id" not in columns and {"id", "schedule_id", "status", "result"} <= columns


def _scans_of(node, found=None):
    """Every (node type, relation, index condition) in a JSON plan, sub-plans included."""
    found = [] if found is None else found
    found.append((node["Node Type"], node.get("Relation Name"), node.get("Index Cond", "")))
    for child in node.get("Plans", []):
        _scans_of(child, found)
    return found


def test_the_claims_overlap_check_probes_each_claimed_schedules_runs(conn, account_id):
    """With thousands of runs in flight (a spike's backlog in the queue), the claim looks up each claimed
    row's unfinished runs by its schedule id, never by reading every run in flight (as a hashed EXISTS
    would, anew for every batch of the spike)."""
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedules (account_id, name, weekly_dow, next_run_at)"
                    " SELECT %s, 'due ' || i, 1, now() - interval '1 minute' FROM generate_series(1, 3000) i",
                    (account_id,))
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, scheduled_for)"
                    " SELECT id, 'queued', now() - interval '1 week' FROM schedules")
        cur.execute("ANALYZE schedules")
        cur.execute("ANALYZE schedule_runs")
        cur.execute("EXPLAIN (FORMAT JSON) " + queries["claim_due_schedules"], {"now": "now", "limit": 1000})
        plan = cur.fetchone()["QUERY PLAN"][0]["Plan"]
    runs_scans = [scan for scan in _scans_of(plan) if scan[1] == "schedule_runs"]
    assert runs_scans, plan
    for kind, _, condition in runs_scans:
        assert kind in ("Index Scan", "Index Only Scan") and "schedule_id" in condition, runs_scans


def test_the_lists_filters_are_inlined_so_a_page_reads_the_keyset_index(conn, account_id):
    """schedules_filtered (migration 0029) holds the list's filters for its page and its count; PostgreSQL
    inlines it, so a numbered page still reads the account's keyset index alone, never a function
    scan of every schedule of the account."""
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO schedules (account_id, name, weekly_dow, next_run_at)"
                    " SELECT %s, 'report ' || i, 1, now() + interval '1 day' FROM generate_series(1, 5000) i",
                    (account_id,))
        cur.execute("ANALYZE schedules")
    params = {"account_id": account_id, "active_only": True, "cadence": "weekly", "task": None, "tag": None,
              "active": None, "state": None, "name_pattern": None, "name_few": False, "limit": 50, "offset": 2000,
              "after_created_at": None, "after_id": None, "count_limit": None}
    with db.tenant_transaction(conn, account_id) as cur:
        for name in ("list_schedules", "count_schedules"):
            cur.execute("EXPLAIN (FORMAT JSON) " + queries[name], params)
            scans = _scans_of(cur.fetchone()["QUERY PLAN"][0]["Plan"])
            assert not [scan for scan in scans if scan[0] == "Function Scan"], (name, scans)
            if name == "list_schedules":
                assert ("Index Only Scan", "schedules", f"(account_id = '{account_id}'::uuid)") in scans, scans
