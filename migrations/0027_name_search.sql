-- Name search at size. A search whose word every name of a 100,000-schedule account holds took
-- seconds: its ids came from schedule_lookups one ILIKE at a time (ILIKE folds both strings' case at
-- each row), then each of the 100,000 rows was read from schedules to be paged and again to be
-- counted. schedule_lookups now keeps each name folded to lower case (name_folded) and whether the
-- schedule is on (active), in an index of the account's schedules in page order that holds both. A
-- search reads that index alone, testing each name with LIKE: a page stops once it has its rows (at
-- once for a common word), and a count reads the account's entries once. Every search costs the same
-- whatever the word, with or without pg_trgm, whose trigram index goes: for a pattern with a common
-- word it read that word's entries for the whole table.

ALTER TABLE schedule_lookups
    ADD COLUMN name_folded TEXT GENERATED ALWAYS AS (lower(name)) STORED,
    ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE schedule_lookups AS l SET active = FALSE FROM schedules AS s WHERE s.id = l.schedule_id AND NOT s.active;

DROP INDEX IF EXISTS schedule_lookups_name_trgm_idx;
DROP INDEX IF EXISTS schedule_lookups_name_idx;
CREATE INDEX schedule_lookups_page_idx ON schedule_lookups (account_id, created_at, schedule_id)
    INCLUDE (name_folded, active);
ANALYZE schedule_lookups;

CREATE OR REPLACE FUNCTION schedule_lookups_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO schedule_lookups (schedule_id, account_id, created_at, name, work_key, active)
    SELECT id, account_id, created_at, name,
           schedule_work_key(task, task_parameters, report_type, city, zip_codes, lookback_days, filters), active
      FROM added;
    RETURN NULL;
END $$;

-- The ticker's claims set `active` on every row they advance (and turn off a schedule with no run
-- left): a trigger of its own, whose WHEN compares that one column, follows it; the trigger on the
-- name and the work (0025) stays off the claims' path.
CREATE FUNCTION schedule_lookups_switched() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE schedule_lookups SET active = NEW.active WHERE schedule_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER schedule_lookups_switched
    AFTER UPDATE OF active ON schedules FOR EACH ROW
    WHEN (OLD.active IS DISTINCT FROM NEW.active)
    EXECUTE FUNCTION schedule_lookups_switched();

-- The caller's account's schedules whose name matches `pattern`, an ILIKE pattern (matched as LIKE
-- against the folded name, the pattern folded the same way), for filters that only schedules hold.
CREATE OR REPLACE FUNCTION schedule_ids_named(pattern text) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER ROWS 100 SET search_path FROM CURRENT AS $$
    SELECT schedule_id FROM schedule_lookups WHERE account_id = current_account_id() AND name_folded LIKE lower(pattern)
$$;

-- One page of them, newest first (the list's order), on or all, by number (`skip`) or after a
-- cursor (the previous page's last created_at and id). Planned at each call for its arguments, so
-- that the cursor's condition is an index bound when there is one.
CREATE FUNCTION schedule_page_named(pattern text, active_only boolean, after_created_at timestamptz,
                                    after_id uuid, max_rows int, skip int) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 50 SET search_path FROM CURRENT AS $$
BEGIN
    IF after_created_at IS NULL THEN
        RETURN QUERY EXECUTE
            'SELECT schedule_id FROM schedule_lookups
              WHERE account_id = $1 AND name_folded LIKE lower($2) AND (active OR NOT $3)
              ORDER BY created_at DESC, schedule_id DESC LIMIT $4 OFFSET $5'
            USING current_account_id(), pattern, active_only, max_rows, skip;
    ELSE
        RETURN QUERY EXECUTE
            'SELECT schedule_id FROM schedule_lookups
              WHERE account_id = $1 AND (created_at, schedule_id) < ($2, $3)
                AND name_folded LIKE lower($4) AND (active OR NOT $5)
              ORDER BY created_at DESC, schedule_id DESC LIMIT $6'
            USING current_account_id(), after_created_at, after_id, pattern, active_only, max_rows;
    END IF;
END $$;

-- How many there are over all pages.
CREATE FUNCTION count_schedules_named(pattern text, active_only boolean) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT count(*) FROM schedule_lookups
     WHERE account_id = current_account_id() AND name_folded LIKE lower(pattern) AND (active OR NOT active_only)
$$;

REVOKE ALL ON FUNCTION schedule_page_named(text, boolean, timestamptz, uuid, int, int),
                       count_schedules_named(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schedule_page_named(text, boolean, timestamptz, uuid, int, int),
                          count_schedules_named(text, boolean) TO app_tenant;
