-- Gauges read from PostgreSQL for /metrics (core/observe/gauges.py, SqlCollector). Counts over the whole
-- service, never per schedule or per account. The first query is cheap (index ranges) and is read
-- every few seconds; the others read more and are cached for a minute.

-- metrics_backlog --
-- Due schedules as seed 000 counts them (active, next_run_at past or never computed) and how late the most overdue is, runs left pending, runs held over their account's cap on runs in flight, retries waiting, runs whose lease ran out (not yet recovered), the oldest queued run's age (how far the workers are behind), and the freshest ticker heartbeat's age. Served by schedules_due_idx and the partial indexes of schedule_runs (pending, held, retry, lease, queued); the heartbeat table has a row per ticker.
SELECT (SELECT count(*) FROM schedules WHERE active AND next_run_at <= now())
     + (SELECT count(*) FROM schedules WHERE active AND next_run_at IS NULL) AS due,
       (SELECT COALESCE(extract(epoch FROM now() - min(next_run_at)), 0)::float
          FROM schedules WHERE active AND next_run_at <= now()) AS oldest_due_seconds,
       (SELECT count(*) FROM schedule_runs WHERE status = 'pending' AND NOT held) AS pending,
       (SELECT count(*) FROM schedule_runs WHERE status = 'pending' AND held) AS held,
       (SELECT count(*) FROM schedule_runs WHERE status = 'retrying') AS retrying,
       (SELECT count(*) FROM schedule_runs WHERE status = 'running' AND lease_expires_at < now()) AS lease_expired,
       (SELECT COALESCE(extract(epoch FROM now() - min(queued_at)), 0)::float
          FROM schedule_runs WHERE status = 'queued') AS oldest_queued_seconds,
       (SELECT extract(epoch FROM now() - max(last_tick_at))::float FROM ticker_heartbeats) AS heartbeat_age_seconds;

-- count_schedules_by_state --
-- Schedules by state (active, inactive, paused (inactive too), paused_after_failures (paused by pause_after_failures); and among the active: failing, stale, consecutive failures as in schedule_health_issues (the same parameters, from core/model.py, and the same schedule_is_stale), and erroring: the last run or dispatch attempt left an error). One pass over the table.
SELECT count(*) FILTER (WHERE active) AS active,
       count(*) FILTER (WHERE NOT active) AS inactive,
       count(*) FILTER (WHERE active AND run_count >= %(failing_min_runs)s AND success_count * 2 < run_count) AS failing,
       count(*) FILTER (WHERE active AND schedule_is_stale(s.cadence, s.created_at, s.start_at, s.last_run_at,
                                                            s.interval_seconds, %(now)s::timestamptz,
                                                            %(stale_after_days)s)) AS stale,
       count(*) FILTER (WHERE active AND consecutive_failures >= %(consecutive_failures)s) AS consecutive_failures,
       count(*) FILTER (WHERE active AND last_error IS NOT NULL) AS erroring,
       count(*) FILTER (WHERE paused_at IS NOT NULL) AS paused,
       count(*) FILTER (WHERE paused_at IS NOT NULL AND paused_by = 'system') AS paused_after_failures
  FROM schedules_with_stats AS s;

-- count_recent_runs_by_status --
-- Runs created in the last %(window)s seconds, by their status now (the worker's outcomes included). Served by schedule_runs_created_idx.
SELECT status, count(*) AS runs
  FROM schedule_runs
 WHERE created_at >= now() - make_interval(secs => %(window)s)
 GROUP BY status;

-- count_recent_emails_by_result --
-- Email sends logged in the last %(window)s seconds: sent (no error) or failed. Served by email_log_created_idx.
SELECT CASE WHEN error IS NULL THEN 'sent' ELSE 'failed' END AS result, count(*) AS emails
  FROM email_log
 WHERE created_at >= now() - make_interval(secs => %(window)s)
 GROUP BY 1;
