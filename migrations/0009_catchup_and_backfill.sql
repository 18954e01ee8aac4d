-- 0009: control over when, part two: catching up and backfilling. A late schedule ran once (the
-- latest occurrence) and a range of the past could not be run at all. This adds the catch-up policy
-- (`all`: one run per missed occurrence inside a window) and backfill runs, marked as such, at most
-- one per (schedule, occurrence), like the scheduled ones.

ALTER TABLE schedules
    ADD COLUMN catchup                TEXT NOT NULL DEFAULT 'latest' CHECK (catchup IN ('latest', 'all')),
    ADD COLUMN catchup_window_seconds INT CHECK (catchup_window_seconds IS NULL
                                                 OR catchup_window_seconds BETWEEN 60 AND 2678400);

ALTER TABLE schedule_runs DROP CONSTRAINT schedule_runs_trigger_check;
ALTER TABLE schedule_runs ADD CONSTRAINT schedule_runs_trigger_check
    CHECK (trigger IN ('schedule', 'manual', 'backfill'));

-- Asking twice for the same backfill creates nothing new: one backfill run per (schedule, occurrence).
CREATE UNIQUE INDEX schedule_runs_backfill_uniq ON schedule_runs (schedule_id, scheduled_for)
    WHERE trigger = 'backfill';
