-- Health: seed 003's problem schedules (core/observe/health.py) and the ticker's heartbeat (/readyz).
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
-- count_schedules_by_state (gauges.sql) counts the same conditions from the same parameters and
-- function (tests/api/test_health_issues.py checks they agree).

-- schedule_health_issues --
-- One row per (problem schedule, kind), of one tenant or of every tenant when account_id is NULL, by kind then name; total_issues counts them all, past the LIMIT too (NULL limit: no limit). Each kind is read from its own index (migration 0025), so a tenant's healthy schedules are never read: schedule_stats_failing_idx, schedule_stats_failures_idx, schedules_stale_idx (a candidate has had no run for the shortest stale period; schedule_is_stale judges it) and schedules_paused_by_system_idx.
WITH problems (id, kind) AS (
    SELECT st.schedule_id, 'failing'
      FROM schedule_stats AS st
     WHERE st.success_count * 2 < st.run_count AND st.run_count >= %(failing_min_runs)s
       AND (%(account_id)s::uuid IS NULL OR st.account_id = %(account_id)s::uuid)
    UNION ALL
    SELECT st.schedule_id, 'consecutive_failures'
      FROM schedule_stats AS st
     WHERE st.consecutive_failures > 0 AND st.consecutive_failures >= %(consecutive_failures)s
       AND (%(account_id)s::uuid IS NULL OR st.account_id = %(account_id)s::uuid)
    UNION ALL
    SELECT s.id, 'stale'
      FROM schedules AS s
     WHERE s.active AND s.cadence <> 'once'
       AND COALESCE(s.last_run_at, GREATEST(s.created_at, s.start_at))
           < %(now)s::timestamptz - make_interval(days => %(stale_after_days)s)
       AND schedule_is_stale(s.cadence, s.created_at, s.start_at, s.last_run_at, s.interval_seconds,
                             %(now)s::timestamptz, %(stale_after_days)s)
       AND (%(account_id)s::uuid IS NULL OR s.account_id = %(account_id)s::uuid)
    UNION ALL
    SELECT s.id, 'paused_after_failures'
      FROM schedules AS s
     WHERE s.paused_at IS NOT NULL AND s.paused_by = 'system'
       AND (%(account_id)s::uuid IS NULL OR s.account_id = %(account_id)s::uuid)
)
SELECT s.id AS schedule_id, s.account_id, s.name, p.kind, s.cadence, s.run_count, s.success_count,
       s.consecutive_failures, s.last_error, s.last_run_at, s.created_at, s.pause_note,
       count(*) OVER () AS total_issues
  FROM problems AS p
  JOIN schedules_with_stats AS s ON s.id = p.id
 WHERE s.active OR p.kind = 'paused_after_failures'
 ORDER BY p.kind, s.name, s.id
 LIMIT %(limit)s;

-- ticker_heartbeat_age --
-- Seconds since the freshest ticker heartbeat (NULL when no ticker has one), for /readyz.
SELECT extract(epoch FROM now() - max(last_tick_at))::float AS age_seconds,
       count(*) AS tickers
  FROM ticker_heartbeats;
