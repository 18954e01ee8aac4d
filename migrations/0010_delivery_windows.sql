-- 0010: delivery windows. "Send between 9:00 and 9:15": each occurrence of a schedule with a window is
-- dispatched at a fixed offset inside it, derived from the schedule and the occurrence, so a Monday
-- 9:00 burst of many schedules spreads over the window instead of arriving as one spike. next_run_at
-- stays what the ticker's due index reads, now the dispatch instant; the occurrence it dispatches
-- (the run's scheduled_for) is kept beside it.

ALTER TABLE schedules
    ADD COLUMN window_seconds     INT CHECK (window_seconds IS NULL OR window_seconds BETWEEN 1 AND 86400),
    -- With a window: the occurrence that next_run_at (its dispatch instant) is for. NULL without a
    -- window (next_run_at is the occurrence itself).
    ADD COLUMN next_occurrence_at TIMESTAMPTZ;
