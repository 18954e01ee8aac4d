-- 0023: fair shares between accounts. Each plan caps the runs an account has in flight (queued or
-- running): runs dispatched over the cap are recorded `pending` and `held` in PostgreSQL instead of
-- being pushed to Redis (pending ones not held count as in flight: they are about to be), and each run of the account that leaves flight releases the account's oldest
-- held run, which the ticker pushes at once (it is woken). So the Redis queue holds at most about the
-- cap of each account, and a small account's run waits behind the caps of the accounts busy at that
-- moment, never behind a big account's whole backlog. NULL: no cap.

ALTER TABLE plans ADD COLUMN max_runs_in_flight INT CHECK (max_runs_in_flight IS NULL OR max_runs_in_flight > 0);
UPDATE plans SET max_runs_in_flight = CASE id WHEN 'free' THEN 5 WHEN 'pro' THEN 50 END;  -- unlimited: no cap

-- Held: pending, waiting for one of its account's slots (not pushed; the re-push of pending runs and
-- the ticker's wake-up time leave it alone). Adding a column with a constant default rewrites nothing.
ALTER TABLE schedule_runs ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;

-- The pending runs the ticker pushes (or re-pushes) are the ones not held: the index they are read
-- through leaves the held ones out, so a backlog of held runs costs the ticker's scans nothing.
DROP INDEX schedule_runs_pending_idx;
CREATE INDEX schedule_runs_pending_idx ON schedule_runs (created_at) WHERE status = 'pending' AND NOT held;
-- An account's held runs, oldest first (the next to release), and the accounts that have any.
CREATE INDEX schedule_runs_held_idx ON schedule_runs (account_id, created_at) WHERE status = 'pending' AND held;
-- An account's runs in flight, counted against its plan's cap: queued, running, and pending ones not
-- held (released or about to be pushed).
CREATE INDEX schedule_runs_in_flight_idx ON schedule_runs (account_id)
    WHERE status IN ('pending', 'queued', 'running') AND NOT held;

-- A run that leaves flight (finished, retrying, handed back) frees its slot for the account's oldest
-- held run, in the same transaction, and wakes the tickers to push it. Two runs ending together
-- release two different runs (SKIP LOCKED). A slot this misses (a hold committed while the run
-- ended) is found by the ticker's pass over held runs (core/runs/lifecycle.sql release_held_runs).
CREATE FUNCTION release_a_held_run() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public AS $$  -- whoever ended the run: worker, ticker or a tenant
BEGIN
    UPDATE schedule_runs SET held = FALSE, not_before = now()
     WHERE id = (SELECT id FROM schedule_runs
                  WHERE account_id = NEW.account_id AND status = 'pending' AND held
                  ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED);
    IF FOUND THEN
        PERFORM pg_notify('schedules_changed', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER release_held_run AFTER UPDATE OF status ON schedule_runs
    FOR EACH ROW WHEN (OLD.status IN ('queued', 'running') AND NEW.status NOT IN ('queued', 'running'))
    EXECUTE FUNCTION release_a_held_run();
