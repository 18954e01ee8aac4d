-- Retention, the ticker's sweep (core/retention/sweep.py): retention of the audit trail and of
-- the email log, in small statements so no lock is held long and no pass takes more than moments.
-- The doomed rows are deleted through `id = ANY(ARRAY(...))`, so they are found by primary key: with
-- `IN (SELECT ...)` the planner may hash-join against a scan of the whole table.

-- prune_runs --
-- One step of the retention sweep, which visits schedules in id order: for the %(schedules)s schedules after %(after)s (from the first when NULL), delete up to %(limit)s finished runs created before %(cutoff)s, never one of a schedule's newest %(keep)s (nor one created at the same instant as its %(keep)s-th newest). Returns how many went, and the chunk's last schedule id and size so the caller knows where to go on. Served by the primary key and schedule_runs_schedule_created_idx.
WITH chunk AS MATERIALIZED (
    SELECT id FROM schedules
     WHERE %(after)s::uuid IS NULL OR id > %(after)s::uuid
     ORDER BY id
     LIMIT %(schedules)s
), doomed AS (
    -- Both lookups are LATERAL with a LIMIT, so each is an index scan per schedule of the chunk (a
    -- plain join may be planned as a scan of the whole runs table).
    SELECT old.id
      FROM chunk
     CROSS JOIN LATERAL (
            SELECT created_at FROM schedule_runs
             WHERE schedule_id = chunk.id
             ORDER BY created_at DESC
            OFFSET %(keep)s - 1
             LIMIT 1) AS newest_kept
     CROSS JOIN LATERAL (
            SELECT id FROM schedule_runs
             WHERE schedule_id = chunk.id
               AND created_at < LEAST(newest_kept.created_at, %(cutoff)s)
               AND status IN ('succeeded', 'failed', 'delivery_failed', 'missed', 'skipped_limit', 'skipped_overlap')
             LIMIT %(limit)s) AS old
     LIMIT %(limit)s
), deleted AS (
    DELETE FROM schedule_runs WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1
)
SELECT (SELECT count(*) FROM deleted) AS deleted,
       (SELECT id FROM chunk ORDER BY id DESC LIMIT 1) AS last_schedule_id,
       (SELECT count(*) FROM chunk) AS schedules;

-- prune_email_log --
-- Delete up to %(limit)s email_log rows created before %(cutoff)s, oldest first. Returns how many went. Served by email_log_created_idx.
WITH doomed AS (
    SELECT id FROM email_log WHERE created_at < %(cutoff)s ORDER BY created_at LIMIT %(limit)s
), deleted AS (
    DELETE FROM email_log WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1
)
SELECT count(*) AS deleted FROM deleted;
