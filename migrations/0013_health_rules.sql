-- 0013: one definition of a stale schedule. The rule was spelled out twice, in the health listing
-- (core/ops/health.sql, schedule_health_issues) and in the metrics' count (core/ops/metrics.sql,
-- count_schedules_by_state), with a comment asking that the two be changed together. Both now call
-- this function. The threshold (core/model.py's STALE_AFTER_DAYS, 7) is passed in by the caller;
-- what depends on a cadence is here: a cadence that runs less often than weekly by design is stale
-- only a day past its own period, so waiting for next month is not a problem. A new such cadence
-- redefines this function (CREATE OR REPLACE) in the migration that adds it to schedules_cadence_check.
--
-- A single-expression SQL function that is STABLE (timestamptz arithmetic with days depends on the
-- session's TimeZone) is inlined by the planner, so calling it costs nothing over the expression.

-- It takes the schedule's columns one by one, not a `schedules` row, so that it serves a row of
-- schedules_with_stats (0011) as well.
CREATE FUNCTION schedule_is_stale(cadence text, created_at timestamptz, start_at timestamptz,
                                  last_run_at timestamptz, interval_seconds int,
                                  at timestamptz, stale_after_days int) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT cadence <> 'once'
       AND created_at < at - make_interval(days => stale_after_days)
       AND COALESCE(last_run_at, GREATEST(created_at, start_at)) < at - GREATEST(
               make_interval(days => stale_after_days),
               CASE cadence WHEN 'biweekly' THEN interval '15 days'
                            WHEN 'monthly' THEN interval '32 days'
                            WHEN 'interval' THEN make_interval(secs => interval_seconds) + interval '1 day'
               END)
$$;
