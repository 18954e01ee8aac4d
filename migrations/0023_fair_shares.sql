-- 0023: fair shares between accounts. Each plan caps the runs an account has in flight (queued or
-- running, and pending ones not held: they are about to be pushed): runs dispatched over the cap are
-- recorded `pending` and `held` in PostgreSQL instead of being pushed to Redis, and each run of the
-- account that leaves flight releases the account's oldest held run, which the ticker pushes at once
-- (it is woken). So the Redis queue holds at most about the
-- cap of each account, and a small account's run waits behind the caps of the accounts busy at that
-- moment, never behind a big account's whole backlog. NULL: no cap.
--
-- And the dispatch itself takes accounts in turn: schedules due at the same instant (9:00 is one
-- instant for all of them) are claimed in the order of their number within their account
-- (account_seq: 1, 2, 3 ... as each account makes them), so every account's first schedule is
-- dispatched, then every account's second, and so on, instead of one account's whole batch first.

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

-- Each schedule's number within its account, for the round-robin claim; the account counts what it made.
ALTER TABLE accounts ADD COLUMN schedules_made BIGINT NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN account_seq BIGINT;
UPDATE schedules AS s SET account_seq = n.seq
  FROM (SELECT id, row_number() OVER (PARTITION BY account_id ORDER BY created_at, id) AS seq FROM schedules) AS n
 WHERE s.id = n.id;
UPDATE accounts AS a
   SET schedules_made = COALESCE((SELECT max(account_seq) FROM schedules s WHERE s.account_id = a.id), 0);
ALTER TABLE schedules ALTER COLUMN account_seq SET NOT NULL;

-- A new schedule takes the account's next number (a bulk load may give its own: they need not be unique).
CREATE FUNCTION schedules_number_in_account() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public AS $$  -- a tenant inserts schedules, not accounts
BEGIN
    IF NEW.account_seq IS NULL THEN
        UPDATE accounts SET schedules_made = schedules_made + 1 WHERE id = NEW.account_id
        RETURNING schedules_made INTO NEW.account_seq;
        NEW.account_seq := COALESCE(NEW.account_seq, 0);  -- no such account: its foreign key says so
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER schedules_number_in_account BEFORE INSERT ON schedules
    FOR EACH ROW EXECUTE FUNCTION schedules_number_in_account();

-- The claim reads due schedules in (next_run_at, account_seq) order, as does every other reader of
-- this index by its first column (the wake-up time, the metrics).
DROP INDEX schedules_due_idx;
CREATE INDEX schedules_due_idx ON schedules (next_run_at, account_seq) WHERE active;

-- schedules_with_stats lists schedules' columns (0011, 0020): account_seq joins them, at the end.
CREATE OR REPLACE VIEW schedules_with_stats WITH (security_invoker = true) AS
SELECT s.id, s.account_id, s.name, s.description, s.task, s.task_parameters, s.report_type, s.city,
       s.zip_codes, s.lookback_days, s.filters, s.recipients, s.include_attachment, s.cadence, s.weekly_dow,
       s.monthly_dom, s.send_hour, s.send_minute, s.cron_expression, s.interval_seconds, s.timezone,
       s.start_at, s.end_at, s.misfire_grace_seconds, s.active, s.tags, s.last_run_at, s.next_run_at,
       s.dispatch_errors, s.created_at, s.overlap_policy, s.paused_at, s.paused_until, s.paused_by,
       s.pause_note, s.pause_after_failures, s.version, s.catchup, s.catchup_window_seconds,
       s.window_seconds, s.next_occurrence_at,
       COALESCE(st.run_count, 0) AS run_count,
       COALESCE(st.success_count, 0) AS success_count,
       COALESCE(st.failure_count, 0) AS failure_count,
       COALESCE(st.consecutive_failures, 0) AS consecutive_failures,
       CASE WHEN st.last_status_at IS NULL OR s.dispatch_status_at > st.last_status_at
            THEN s.dispatch_status ELSE st.last_status END AS last_status,
       CASE WHEN st.last_error_at IS NULL OR s.dispatch_error_at > st.last_error_at
            THEN s.dispatch_error ELSE st.last_error END AS last_error,
       GREATEST(s.updated_at, st.updated_at) AS updated_at,
       s.monthly_week, s.monthly_dow, s.calendar_id, s.on_holiday,
       s.deliver_when, s.account_seq
  FROM schedules AS s
  LEFT JOIN schedule_stats AS st ON st.schedule_id = s.id;

