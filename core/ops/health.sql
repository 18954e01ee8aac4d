-- Health: seed 003's problem schedules (core/ops/health.py) and the ticker's heartbeat (/readyz).
--
-- A schedule's problems, for active schedules (but one that paused itself), at the caller's %(now)s,
-- with the thresholds of core/model.py (model.health_parameters()):
--   failing               %(failing_min_runs)s or more runs and under half of them succeeded (run_count counts
--                         finished runs)
--   stale                 schedule_is_stale (migrations/0013_health_rules.sql): not `once`, and no run
--                         for %(stale_after_days)s days (a day past its own period for one that runs less often)
--   consecutive_failures  its last %(consecutive_failures)s or more runs failed
--   paused_after_failures the schedule paused itself (pause_after_failures): inactive, but listed until
--                         someone resumes, enables or disables it
-- count_schedules_by_state (metrics.sql) counts the same conditions from the same parameters and
-- function (tests/api/test_health_issues.py checks they agree).

-- schedule_health_issues --
-- One row per (problem schedule, kind), of one tenant or of every tenant when account_id is NULL, by kind then name; total_issues counts them all, past the LIMIT too (NULL limit: no limit). One pass over the tenant's schedules (or the table).
SELECT s.id AS schedule_id, s.account_id, s.name, k.kind, s.cadence, s.run_count, s.success_count,
       s.consecutive_failures, s.last_error, s.last_run_at, s.created_at, s.pause_note,
       count(*) OVER () AS total_issues
  FROM schedules_with_stats AS s
 CROSS JOIN LATERAL (VALUES
        ('failing', s.run_count >= %(failing_min_runs)s AND s.success_count * 2 < s.run_count),
        ('stale', schedule_is_stale(s.cadence, s.created_at, s.start_at, s.last_run_at, s.interval_seconds,
                                     %(now)s::timestamptz, %(stale_after_days)s)),
        ('consecutive_failures', s.consecutive_failures >= %(consecutive_failures)s),
        ('paused_after_failures', s.paused_at IS NOT NULL AND s.paused_by = 'system')
       ) AS k (kind, found)
 WHERE (s.active OR k.kind = 'paused_after_failures')
   AND k.found
   AND (%(account_id)s::uuid IS NULL OR s.account_id = %(account_id)s::uuid)
 ORDER BY k.kind, s.name, s.id
 LIMIT %(limit)s;

-- ticker_heartbeat_age --
-- Seconds since the freshest ticker heartbeat (NULL when no ticker has one), for /readyz.
SELECT extract(epoch FROM now() - max(last_tick_at))::float AS age_seconds,
       count(*) AS tickers
  FROM ticker_heartbeats;
