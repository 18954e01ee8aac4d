-- 0015: the worker runs tasks in supervised child processes, and a child that dies costs only the run that
-- killed it. The supervisor hands the runs of a dead child back at once without counting an attempt
-- against them; `crashes` counts the process deaths a run was in flight for, so the run present in
-- every death of its processes can be told from its neighbours (core/runs/lifecycle.py, hand_back).
--
-- A delivery whose sender died between handing the message over and recording the answer is sent again
-- with the same Message-ID / webhook-id (UNKNOWN_OUTCOME=resend, the default); `unknown_outcomes` counts
-- how often that happened to the row, so the ledger says a resend was one.
ALTER TABLE schedule_runs ADD COLUMN crashes INT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN unknown_outcomes INT NOT NULL DEFAULT 0;
