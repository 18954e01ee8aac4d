-- 0012: schedule_runs.report_run_id goes. It has been in the schema since 0001, but nothing ever wrote
-- or read it (a task's outcome is the run's `result`), and the API never showed it: a column a reader
-- would have to ask about. (0011 is another change made at the same time.)

ALTER TABLE schedule_runs DROP COLUMN report_run_id;
