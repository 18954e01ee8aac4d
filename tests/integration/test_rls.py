"""Row-level security: in a tenant transaction, a query without any WHERE sees only that tenant's rows
and cannot write another tenant's, although the tests connect as a superuser (or the tables' owner)."""
import psycopg2
import pytest

from core.ops import db


@pytest.fixture
def two_tenants(conn, account_id, other_account_id):
    with db.service_transaction(conn) as cur:
        for tenant, names in ((account_id, ["a1", "a2"]), (other_account_id, ["b1"])):
            for name in names:
                cur.execute("INSERT INTO schedules (account_id, name, weekly_dow) VALUES (%s, %s, 1) RETURNING id",
                            (tenant, name))
                schedule_id = cur.fetchone()["id"]
                cur.execute("INSERT INTO schedule_runs (schedule_id, account_id) VALUES (%s, %s)",
                            (schedule_id, tenant))
                cur.execute("INSERT INTO email_log (account_id, schedule_id, subject) VALUES (%s, %s, 's')",
                            (tenant, schedule_id))
            cur.execute("INSERT INTO email_suppressions (account_id, email) VALUES (%s, %s)",
                        (tenant, f"{names[0]}@example.com"))
    return account_id, other_account_id


def test_the_test_connection_really_could_bypass_rls(conn):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone()["bypass"] is True


@pytest.mark.parametrize("table, expected", [
    ("schedules", 2), ("schedule_runs", 2), ("email_log", 2), ("email_suppressions", 1), ("accounts", 1),
    ("schedule_stats", 2), ("schedules_with_stats", 2),
])
def test_select_without_where_returns_only_the_tenants_rows(conn, two_tenants, table, expected):
    tenant_a, tenant_b = two_tenants
    with db.tenant_transaction(conn, tenant_a) as cur:
        cur.execute(f"SELECT * FROM {table}")
        rows = cur.fetchall()
    owner = "id" if table == "accounts" else "account_id"
    assert len(rows) == expected
    assert {row[owner] for row in rows} == {tenant_a}


def test_service_transaction_sees_every_tenant(conn, two_tenants):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 3


def test_insert_for_another_tenant_is_refused(conn, two_tenants):
    tenant_a, tenant_b = two_tenants
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        with db.tenant_transaction(conn, tenant_a) as cur:
            cur.execute("INSERT INTO schedules (account_id, name, weekly_dow) VALUES (%s, 'sneaky', 1)", (tenant_b,))


def test_update_and_delete_cannot_reach_another_tenants_rows(conn, two_tenants):
    tenant_a, tenant_b = two_tenants
    with db.tenant_transaction(conn, tenant_a) as cur:
        cur.execute("UPDATE schedules SET name = 'hijacked' WHERE account_id = %s", (tenant_b,))
        assert cur.rowcount == 0
        cur.execute("DELETE FROM schedules WHERE account_id = %s", (tenant_b,))
        assert cur.rowcount == 0
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT name FROM schedules WHERE account_id = %s", (tenant_b,))
        assert [row["name"] for row in cur.fetchall()] == ["b1"]


def test_moving_a_row_to_another_tenant_is_refused(conn, two_tenants):
    tenant_a, tenant_b = two_tenants
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        with db.tenant_transaction(conn, tenant_a) as cur:
            cur.execute("UPDATE schedules SET account_id = %s", (tenant_b,))


def test_tenant_and_role_do_not_outlive_the_transaction(conn, two_tenants):
    tenant_a, _ = two_tenants
    with db.tenant_transaction(conn, tenant_a) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 2
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT current_user = session_user AS back, current_setting('app.current_account_id', true) AS t")
        row = cur.fetchone()
    assert row["back"] is True
    assert row["t"] in (None, "")


def test_tenant_role_without_a_tenant_sees_nothing(conn, two_tenants):
    with db.service_transaction(conn) as cur:
        cur.execute("SET LOCAL ROLE app_tenant")
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 0


def test_a_rolled_back_tenant_transaction_leaves_the_connection_usable(conn, two_tenants):
    tenant_a, _ = two_tenants
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        with db.tenant_transaction(conn, tenant_a) as cur:
            cur.execute("SELECT no_such_column FROM schedules")
    with db.tenant_transaction(conn, tenant_a) as cur:
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 2


def test_tenant_id_must_be_a_uuid(conn):
    with pytest.raises(ValueError):
        with db.tenant_transaction(conn, "1 OR 1=1"):
            pass


def test_rls_holds_for_a_non_superuser_table_owner(conn, database_url, two_tenants):
    """Render's DATABASE_URL is the tables' owner, not a superuser: FORCE RLS plus the tenant role hold."""
    tenant_a, _ = two_tenants
    with db.service_transaction(conn) as cur:
        cur.execute("DO $$ BEGIN CREATE ROLE sched_owner_test LOGIN NOSUPERUSER NOBYPASSRLS;"
                    " EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        cur.execute("GRANT app_tenant TO sched_owner_test")
        for table in ("accounts", "schedules", "schedule_runs", "email_log", "email_suppressions"):
            cur.execute(f"ALTER TABLE {table} OWNER TO sched_owner_test")
        cur.execute("SET LOCAL ROLE sched_owner_test")
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 3  # the owner (ticker, worker) sees all tenants
    with db.service_transaction(conn) as cur:
        cur.execute("SET LOCAL ROLE sched_owner_test")
        cur.execute("SET LOCAL ROLE app_tenant")
        cur.execute("SELECT set_config('app.current_account_id', %s, true)", (str(tenant_a),))
        cur.execute("SELECT count(*) AS n FROM schedules")
        assert cur.fetchone()["n"] == 2
