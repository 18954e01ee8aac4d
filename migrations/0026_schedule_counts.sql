-- 0026: each account's schedules counted as they change, by cadence and on/off, so that
-- GET /v1/schedules/stats and a page's `total` (with no filter but on/off) read a few rows, not the
-- account's every schedule.
--
-- A change does not update a count in place: it appends a signed delta (schedule_count_deltas), so
-- two transactions making schedules in one account never wait on, or deadlock over, a shared row.
-- A count is its folded value (schedule_counts) plus the deltas not folded yet, read in one statement;
-- the ticker's retention pass folds deltas into schedule_counts (core/schedule/counts.sql), moving
-- each in one transaction, so every snapshot sees it once. Deltas of a deleted account are dropped
-- then (schedule_counts goes with its account).
--
-- The triggers run as the tables' owner (SECURITY DEFINER), so the tenant role needs only SELECT.
-- UPDATE is counted by a row trigger limited to statements that write active or cadence, and fires
-- only where one of them changed: the ticker's claims (which write active) pay a comparison per row.

CREATE TABLE schedule_counts (
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    cadence    TEXT NOT NULL,
    schedules  BIGINT NOT NULL,
    enabled    BIGINT NOT NULL,
    PRIMARY KEY (account_id, cadence)
);

CREATE TABLE schedule_count_deltas (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id UUID NOT NULL,  -- no foreign key: an account's deletion writes its schedules' deltas
    cadence    TEXT NOT NULL,
    schedules  BIGINT NOT NULL,
    enabled    BIGINT NOT NULL
);
CREATE INDEX schedule_count_deltas_account_idx ON schedule_count_deltas (account_id);

-- A statement's new schedules (INSERT: +1) or removed ones (DELETE: -1), in its transition table.
CREATE FUNCTION count_schedules_made_or_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    direction int := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO schedule_count_deltas (account_id, cadence, schedules, enabled)
    SELECT account_id, cadence, direction * count(*), direction * count(*) FILTER (WHERE active) FROM changed GROUP BY 1, 2;
    RETURN NULL;
END $$;
CREATE TRIGGER count_schedules_made AFTER INSERT ON schedules REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION count_schedules_made_or_removed();
CREATE TRIGGER count_schedules_removed AFTER DELETE ON schedules REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION count_schedules_made_or_removed();

CREATE FUNCTION count_schedule_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO schedule_count_deltas (account_id, cadence, schedules, enabled)
    VALUES (OLD.account_id, OLD.cadence, -1, CASE WHEN OLD.active THEN -1 ELSE 0 END),
           (NEW.account_id, NEW.cadence, 1, CASE WHEN NEW.active THEN 1 ELSE 0 END);
    RETURN NULL;
END $$;
CREATE TRIGGER count_schedule_changed AFTER UPDATE OF active, cadence ON schedules FOR EACH ROW
    WHEN (OLD.active IS DISTINCT FROM NEW.active OR OLD.cadence IS DISTINCT FROM NEW.cadence)
    EXECUTE FUNCTION count_schedule_changed();

-- The counts so far, in the same transaction as the triggers: CREATE TRIGGER locks schedules against
-- writes until this migration commits, so no change falls between the two.
INSERT INTO schedule_counts (account_id, cadence, schedules, enabled)
SELECT account_id, cadence, count(*), count(*) FILTER (WHERE active) FROM schedules GROUP BY 1, 2;

ALTER TABLE schedule_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_counts FORCE ROW LEVEL SECURITY;
ALTER TABLE schedule_count_deltas ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_count_deltas FORCE ROW LEVEL SECURITY;
GRANT SELECT ON schedule_counts, schedule_count_deltas TO app_tenant;
CREATE POLICY tenant_isolation ON schedule_counts TO app_tenant
    USING (account_id = (SELECT current_account_id()));
CREATE POLICY service_access ON schedule_counts
    USING ((SELECT current_user <> 'app_tenant')) WITH CHECK ((SELECT current_user <> 'app_tenant'));
CREATE POLICY tenant_isolation ON schedule_count_deltas TO app_tenant
    USING (account_id = (SELECT current_account_id()));
CREATE POLICY service_access ON schedule_count_deltas
    USING ((SELECT current_user <> 'app_tenant')) WITH CHECK ((SELECT current_user <> 'app_tenant'));
