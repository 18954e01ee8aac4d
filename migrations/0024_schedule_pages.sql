-- 0024: GET /v1/schedules and /due at a million rows. Pages after a cursor are keyset pages: newest first is
-- (created_at, id) descending, which this index serves read backwards from the cursor's row, however
-- deep (the index it replaces had id ascending, so the order needed a sort). Name search
-- (`q`, the console's search) is an ILIKE '%...%', which a trigram index serves where the pg_trgm
-- extension can be installed (PostgreSQL's contrib, on Render and most hosts); without it the search
-- reads the account's rows, as before.

CREATE INDEX schedules_account_keyset_idx ON schedules (account_id, created_at, id);
DROP INDEX schedules_account_created_idx;
-- GET /v1/schedules/due: an account's due schedules, most overdue first, without reading the rest
-- of its schedules (the ticker's schedules_due_idx spans every account).
CREATE INDEX schedules_account_due_idx ON schedules (account_id, next_run_at, id) WHERE active;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX schedules_name_trgm_idx ON schedules USING gin (name gin_trgm_ops);
    ELSE
        RAISE NOTICE 'pg_trgm is not available: name search reads each account''s schedules';
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm could not be installed (no privilege): name search reads each account''s schedules';
END $$;
