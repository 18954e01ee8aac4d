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
-- function of the row's columns are not, so an app_tenant query can only read the account's rows and
-- test each: 0024's trigram index on schedules was never used by a tenant's search. Each lookup is now
-- a SECURITY DEFINER function, run as the tables' owner, that finds the ids of the caller's account
-- (current_account_id(), the tenant its transaction set) in schedule_lookups, a table only the owner
-- reads or writes; the caller then reads those rows under its own policy, as ever.
--
-- schedule_lookups holds what the lookups search: the name, and the work a schedule does (task, its
-- parameters, the report fields) as one key. It is written when a schedule is made, and when one of
-- these columns changes, never by the ticker's claims: an index on schedules gets an entry at each
-- claim (a new row version, next_run_at being indexed), and these two (the trigram index, and the
-- work key, an md5 of the fields) made a dispatch of 100,000 due schedules take 20.7 s instead of 15.2.
DROP INDEX IF EXISTS schedules_name_trgm_idx;

-- jsonb_build_array is STABLE only because it accepts any type; for these types its text is fixed.
CREATE FUNCTION schedule_work_key(task text, task_parameters jsonb, report_type text, city text,
                                  zip_codes text[], lookback_days int, filters jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT md5(jsonb_build_array(task, task_parameters, report_type, city, zip_codes, lookback_days, filters)::text)
$$;

CREATE TABLE schedule_lookups (
    schedule_id UUID PRIMARY KEY REFERENCES schedules (id) ON DELETE CASCADE,
    account_id  UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    name        TEXT NOT NULL,
    work_key    TEXT NOT NULL
);
INSERT INTO schedule_lookups (schedule_id, account_id, created_at, name, work_key)
SELECT id, account_id, created_at, name,
       schedule_work_key(task, task_parameters, report_type, city, zip_codes, lookback_days, filters)
  FROM schedules;
CREATE INDEX schedule_lookups_work_idx ON schedule_lookups (account_id, work_key, created_at, schedule_id);
-- Without pg_trgm, a search tests the account's names in this index alone, not in the table's rows.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX schedule_lookups_name_trgm_idx ON schedule_lookups USING gin (name gin_trgm_ops);
    ELSE
        CREATE INDEX schedule_lookups_name_idx ON schedule_lookups (account_id) INCLUDE (name, schedule_id);
    END IF;
END $$;
ANALYZE schedule_lookups;

CREATE FUNCTION schedule_lookups_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO schedule_lookups (schedule_id, account_id, created_at, name, work_key)
    SELECT id, account_id, created_at, name,
           schedule_work_key(task, task_parameters, report_type, city, zip_codes, lookback_days, filters)
      FROM added;
    RETURN NULL;
END $$;
CREATE TRIGGER schedule_lookups_add AFTER INSERT ON schedules REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION schedule_lookups_add();

CREATE FUNCTION schedule_lookups_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE schedule_lookups
       SET created_at = NEW.created_at, name = NEW.name,
           work_key = schedule_work_key(NEW.task, NEW.task_parameters, NEW.report_type, NEW.city,
                                        NEW.zip_codes, NEW.lookback_days, NEW.filters)
     WHERE schedule_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER schedule_lookups_change
    AFTER UPDATE OF created_at, name, task, task_parameters, report_type, city, zip_codes, lookback_days, filters
    ON schedules FOR EACH ROW
    WHEN ((OLD.created_at, OLD.name, OLD.task, OLD.task_parameters, OLD.report_type, OLD.city, OLD.zip_codes,
           OLD.lookback_days, OLD.filters)
          IS DISTINCT FROM (NEW.created_at, NEW.name, NEW.task, NEW.task_parameters, NEW.report_type, NEW.city,
                            NEW.zip_codes, NEW.lookback_days, NEW.filters))
    EXECUTE FUNCTION schedule_lookups_change();

-- The caller's account's first `max_rows` active schedules (oldest first) doing the work `wanted_key`.
CREATE FUNCTION same_work_schedule_ids(wanted_key text, max_rows int) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER ROWS 50 SET search_path FROM CURRENT AS $$
    SELECT l.schedule_id
      FROM schedule_lookups AS l
      JOIN schedules AS s ON s.id = l.schedule_id
     WHERE l.account_id = current_account_id() AND l.work_key = wanted_key AND s.active
     ORDER BY l.created_at, l.schedule_id
     LIMIT max_rows
$$;

-- The caller's account's schedules whose name matches an ILIKE pattern. Planned at each call for its
-- pattern and account (one plan for any pattern would not know a rare one from '%%').
CREATE FUNCTION schedule_ids_named(pattern text) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 100 SET search_path FROM CURRENT AS $$
BEGIN
    RETURN QUERY EXECUTE 'SELECT schedule_id FROM schedule_lookups WHERE account_id = $1 AND name ILIKE $2'
        USING current_account_id(), pattern;
END $$;

REVOKE ALL ON FUNCTION same_work_schedule_ids(text, int), schedule_ids_named(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION same_work_schedule_ids(text, int), schedule_ids_named(text) TO app_tenant;
