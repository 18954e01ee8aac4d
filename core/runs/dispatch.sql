-- Dispatch: the ticker's queries (core/runs/dispatch.py). A batch of due schedules is claimed, recorded
-- (runs inserted, schedules advanced) and committed in one transaction; its runs are then pushed to
-- Redis and marked queued in a second one. The two batch writes (the runs: insert_scheduled_runs, in
-- core/runs/run.sql; advance_schedules, here) take their rows as one array per column
-- (core.runs.run.ScheduledRun and core.runs.dispatch.Advance, transposed), unnested into rows: one
-- statement per batch.

-- claim_due_schedules --
-- Lock a batch of due schedules, most overdue first and, among those due at the same instant, accounts in turn (each schedule's number within its account, migration 0023), plus rows whose next_run_at was never computed; rows another ticker holds are skipped, not waited for. Both halves are served by schedules_due_idx; `busy` (a run in flight) and `buffered` (an occurrence waiting) feed the overlap policy: each a scalar sub-select, one probe of schedule_runs_unfinished_idx per claimed row (as EXISTS, PostgreSQL plans them as a hash of every run in flight, built anew for each batch: during a spike's backlog of queued runs the claim grew from 44 ms to 187 ms a batch). The two halves lock whole rows; the columns the ticker reads, the calendar and the two checks are written once, over both (a row whose next run was never computed is not due: `busy` and `buffered` are false). Ids come back as text: they only go back into SQL, job ids and log lines.
WITH unset AS (
    SELECT * FROM schedules
     WHERE active AND next_run_at IS NULL
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), due AS (
    SELECT * FROM schedules
     WHERE active AND next_run_at <= %(now)s
     ORDER BY next_run_at, account_seq
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
)
SELECT c.id::text, c.account_id::text, c.name, c.cadence, c.weekly_dow, c.monthly_dom, c.send_hour, c.send_minute,
       c.cron_expression, c.interval_seconds, c.timezone, c.start_at, c.end_at, c.created_at,
       c.misfire_grace_seconds, c.next_run_at, c.dispatch_errors, c.overlap_policy, c.version, c.catchup,
       c.catchup_window_seconds, c.window_seconds, c.next_occurrence_at, c.monthly_week, c.monthly_dow, c.on_holiday,
       c.calendar_id, c.last_run_at, CASE WHEN c.calendar_id IS NOT NULL THEN (
           SELECT json_build_object('country', k.country, 'subdivision', k.subdivision, 'weekend', k.weekend,
                                    'add_dates', k.add_dates, 'remove_dates', k.remove_dates)
             FROM calendars k WHERE k.id = c.calendar_id) END AS calendar,
       -- A schedule whose next run was never computed is not due yet: nothing to be busy for.
       c.next_run_at IS NOT NULL AND c.overlap_policy <> 'allow' AND COALESCE((
           SELECT TRUE FROM schedule_runs r WHERE r.schedule_id = c.id
              AND run_in_flight(r.status) AND r.trigger <> 'resend' LIMIT 1), FALSE) AS busy,
       c.next_run_at IS NOT NULL AND c.overlap_policy = 'buffer_one' AND COALESCE((
           SELECT TRUE FROM schedule_runs r WHERE r.schedule_id = c.id AND r.status = 'buffered' LIMIT 1),
           FALSE) AS buffered
  FROM (SELECT * FROM unset UNION ALL SELECT * FROM due) AS c;

-- advance_schedules --
-- Move each claimed schedule on: its next run (NULL once it has none, and then inactive) and, with a delivery window, the occurrence that run is for, last_run_at when it ran, what dispatch made of it (missed, skipped_overlap) and its dispatch error count and back-off; a successful dispatch clears an error dispatch had set. Dispatch's status and error carry the time they were written: the schedule's last_status and last_error are the newer of these and the last run's (schedules_with_stats). The `id = ANY(...)` makes the rows be found through the primary key even before the table has statistics (a fresh bulk insert), never by a scan of the whole table.
WITH v AS MATERIALIZED (
    SELECT * FROM unnest(%(id)s::uuid[], %(next_run_at)s::timestamptz[], %(active)s::boolean[],
                         %(ran_at)s::timestamptz[], %(last_status)s::text[], %(error)s::text[],
                         %(next_occurrence_at)s::timestamptz[])
           AS v (id, next_run_at, active, ran_at, last_status, error, next_occurrence_at)
)
UPDATE schedules AS s
   SET next_run_at = v.next_run_at,
       next_occurrence_at = v.next_occurrence_at,
       active = v.active,
       last_run_at = COALESCE(v.ran_at, s.last_run_at),
       dispatch_status = COALESCE(v.last_status, s.dispatch_status),
       dispatch_status_at = CASE WHEN v.last_status IS NOT NULL THEN clock_timestamp() ELSE s.dispatch_status_at END,
       dispatch_errors = CASE WHEN v.error IS NULL THEN 0 ELSE s.dispatch_errors + 1 END,
       dispatch_error = CASE WHEN v.error IS NOT NULL THEN v.error
                             WHEN s.dispatch_errors > 0 THEN NULL
                             ELSE s.dispatch_error END,
       dispatch_error_at = CASE WHEN v.error IS NOT NULL OR s.dispatch_errors > 0 THEN clock_timestamp()
                                ELSE s.dispatch_error_at END
  FROM v
 WHERE s.id = v.id
   AND s.id = ANY(ARRAY(SELECT id FROM v));

-- next_wake_at --
-- When the ticker has work next: the earliest next_run_at of an active schedule, a pause ending, a pending run ready to push (at once for manual and released runs, else after the grace; not a held one, which waits for a slot), a retry coming due, or a lease running out. Each part reads one end of a partial index (the pending runs not held are few: only those between a commit and a push).
SELECT LEAST(
    (SELECT min(next_run_at) FROM schedules WHERE active),
    (SELECT min(paused_until) FROM schedules WHERE paused_until IS NOT NULL),
    (SELECT min(COALESCE(not_before, created_at + make_interval(secs => %(grace)s)))
       FROM schedule_runs WHERE status = 'pending' AND NOT held),
    (SELECT min(not_before) FROM schedule_runs WHERE status = 'retrying'),
    (SELECT min(lease_expires_at) FROM schedule_runs WHERE status = 'running')
) AS wake_at;

-- write_heartbeat --
-- This ticker is alive: its identity and the figures of its last tick (what /readyz reads).
INSERT INTO ticker_heartbeats (instance_id, hostname, pid, started_at, last_tick_at, last_tick)
VALUES (%(instance_id)s, %(hostname)s, %(pid)s, %(started_at)s, now(), %(last_tick)s)
ON CONFLICT (instance_id) DO UPDATE
   SET last_tick_at = now(), last_tick = EXCLUDED.last_tick;

-- count_live_tickers --
-- How many tickers have beaten lately (this one included): a sleeping ticker beats at least once per TICK_INTERVAL.
SELECT count(*) AS live FROM ticker_heartbeats WHERE last_tick_at > now() - make_interval(secs => %(within)s);

-- delete_heartbeat --
-- A ticker shutting down cleanly removes its heartbeat.
DELETE FROM ticker_heartbeats WHERE instance_id = %(instance_id)s;

-- prune_heartbeats --
-- Heartbeats of tickers that died without cleaning up (kill -9, a lost machine), once long silent.
DELETE FROM ticker_heartbeats WHERE last_tick_at < now() - make_interval(secs => %(older_than)s);
