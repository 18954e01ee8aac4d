-- 0025: an account's reads at 100,000 schedules, answered from indexes (a page by number, the count,
-- GET /v1/schedules/health, name search, the duplicate-work warning of a create or edit), and
-- row-level security at one evaluation per statement instead of one per row.

-- Row-level security. Each policy compared the row's account with
-- NULLIF(current_setting('app.current_account_id', true), '')::uuid and the role with current_user,
-- evaluated for every row a scan passes: a count over an account of 100,000 schedules spent more time
-- in those calls than in the index. Written as sub-selects they are InitPlans, computed once per
-- statement; what each policy lets through is unchanged (tests/integration/test_rls.py).
CREATE FUNCTION current_account_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT NULLIF(current_setting('app.current_account_id', true), '')::uuid
$$;

DO $$
DECLARE
    p record;
    tenant_column text;
BEGIN
    FOR p IN SELECT tablename, policyname, qual, with_check IS NOT NULL AS checks
               FROM pg_policies
              WHERE schemaname = current_schema() AND policyname IN ('tenant_isolation', 'service_access')
    LOOP
        IF p.policyname = 'service_access' THEN
            EXECUTE format('ALTER POLICY service_access ON %I USING ((SELECT current_user <> %L))'
                           ' WITH CHECK ((SELECT current_user <> %L))', p.tablename, 'app_tenant', 'app_tenant');
            CONTINUE;
        END IF;
        tenant_column := substring(p.qual FROM '^\((\w+) = \(NULLIF\(current_setting\(''app\.current_account_id''');
        IF tenant_column IS NULL THEN
            RAISE EXCEPTION 'policy tenant_isolation on % is not the expected account check: %', p.tablename, p.qual;
        END IF;
        EXECUTE format('ALTER POLICY tenant_isolation ON %I USING (%I = (SELECT current_account_id()))',
                       p.tablename, tenant_column);
        IF p.checks THEN
            EXECUTE format('ALTER POLICY tenant_isolation ON %I WITH CHECK (%I = (SELECT current_account_id()))',
                           p.tablename, tenant_column);
        END IF;
    END LOOP;
END $$;

-- GET /v1/schedules: the keyset index holds `active` and `cadence` too, so a page by number (which
-- skips its earlier rows), the count of an account's active schedules and GET /v1/schedules/stats
-- read the index alone.
CREATE INDEX schedules_account_page_idx ON schedules (account_id, created_at, id) INCLUDE (active, cadence);
DROP INDEX schedules_account_keyset_idx;
ALTER INDEX schedules_account_page_idx RENAME TO schedules_account_keyset_idx;

-- GET /v1/schedules/health (core/ops/health.sql) reads each kind of problem from its own index, so an
-- account's healthy schedules are never read:
--   failing: under half of the finished runs succeeded (the threshold of runs is a range on run_count);
CREATE INDEX schedule_stats_failing_idx ON schedule_stats (account_id, run_count)
    WHERE success_count * 2 < run_count;
--   consecutive failures: any, the threshold being a range;
CREATE INDEX schedule_stats_failures_idx ON schedule_stats (account_id, consecutive_failures)
    WHERE consecutive_failures > 0;
--   stale: no run (or, never run, no start) for at least the shortest stale period, the same
--   expression as schedule_is_stale's (migration 0013), which then judges each candidate;
CREATE INDEX schedules_stale_idx ON schedules (account_id, (COALESCE(last_run_at, GREATEST(created_at, start_at))))
    WHERE active AND cadence <> 'once';
--   paused by pause_after_failures.
CREATE INDEX schedules_paused_by_system_idx ON schedules (account_id)
    WHERE paused_at IS NOT NULL AND paused_by = 'system';

-- Two lookups that need an index row-level security would not let them use. Under a policy,
-- PostgreSQL applies a query's condition before the policy's only when every function in it is
-- LEAKPROOF (could not leak a hidden row's values through an error); ILIKE, pg_trgm's operators and a
-- function of the row's columns are not, so an app_tenant query can only read the account's rows
-- and test each. Each lookup is a SECURITY DEFINER function, run as the tables' owner, that finds the
-- ids of the caller's account (current_account_id(), the tenant its transaction set) by the index;
-- the caller then reads those rows under its own policy, as ever. For the owner's reads to use the
-- indexes too, schedules no longer FORCEs row-level security on its owner: the service_access policy
-- let the owner see every row anyway, so what anyone sees is unchanged.
ALTER TABLE schedules NO FORCE ROW LEVEL SECURITY;

-- The work a schedule does (task, its parameters, the report fields), as one key: a create or edit
-- looks up the account's other active schedules doing the same work (conflict warnings) by it, in
-- their creation order, instead of reading every active schedule of the account. jsonb_build_array
-- is STABLE only because it accepts any type; for these types its text is fixed, hence IMMUTABLE.
CREATE FUNCTION schedule_work_key(task text, task_parameters jsonb, report_type text, city text,
                                  zip_codes text[], lookback_days int, filters jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT md5(jsonb_build_array(task, task_parameters, report_type, city, zip_codes, lookback_days, filters)::text)
$$;
CREATE INDEX schedules_same_work_idx
    ON schedules (account_id, schedule_work_key(task, task_parameters, report_type, city, zip_codes,
                                                lookback_days, filters), created_at, id)
    WHERE active;

-- The caller's account's first `max_rows` active schedules (oldest first) with this work key.
CREATE FUNCTION same_work_schedule_ids(work_key text, max_rows int) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER ROWS 50 SET search_path FROM CURRENT AS $$
    SELECT id FROM schedules
     WHERE account_id = current_account_id() AND active
       AND schedule_work_key(task, task_parameters, report_type, city, zip_codes, lookback_days, filters) = work_key
     ORDER BY created_at, id
     LIMIT max_rows
$$;

-- Name search reads its own table, schedule_names, with the trigram index where pg_trgm is installed.
-- The index was on schedules (0024), where every one of the ticker's claims (a new row version, as
-- next_run_at is indexed) added the name's trigrams to the GIN index's pending list, which each search
-- then read through; schedule_names changes only when a schedule is made, renamed or deleted.
-- Only its owner reads or writes it (the triggers and the function below run as the owner), so it
-- needs no row-level security of its own: the function answers for the caller's account only.
DROP INDEX IF EXISTS schedules_name_trgm_idx;
CREATE TABLE schedule_names (
    schedule_id UUID PRIMARY KEY REFERENCES schedules (id) ON DELETE CASCADE,
    account_id  UUID NOT NULL,
    name        TEXT NOT NULL
);
INSERT INTO schedule_names (schedule_id, account_id, name) SELECT id, account_id, name FROM schedules;
CREATE INDEX schedule_names_account_idx ON schedule_names (account_id);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX schedule_names_trgm_idx ON schedule_names USING gin (name gin_trgm_ops);
    END IF;
END $$;
ANALYZE schedule_names;

CREATE FUNCTION schedule_names_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO schedule_names (schedule_id, account_id, name) SELECT id, account_id, name FROM added;
    RETURN NULL;
END $$;
CREATE TRIGGER schedule_names_add AFTER INSERT ON schedules REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION schedule_names_add();

CREATE FUNCTION schedule_names_rename() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE schedule_names SET name = NEW.name WHERE schedule_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER schedule_names_rename AFTER UPDATE OF name ON schedules
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION schedule_names_rename();

-- The caller's account's schedules whose name matches an ILIKE pattern. Planned at each call for its
-- pattern and account (one plan for any pattern would not know a rare one from '%%').
CREATE FUNCTION schedule_ids_named(pattern text) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 100 SET search_path FROM CURRENT AS $$
BEGIN
    RETURN QUERY EXECUTE 'SELECT schedule_id FROM schedule_names WHERE account_id = $1 AND name ILIKE $2'
        USING current_account_id(), pattern;
END $$;

REVOKE ALL ON FUNCTION same_work_schedule_ids(text, int), schedule_ids_named(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION same_work_schedule_ids(text, int), schedule_ids_named(text) TO app_tenant;
