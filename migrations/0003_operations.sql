-- 0003: operations (issue 8). Retention deletes email_log rows by age, and /metrics counts the runs and
-- emails of the last 24 hours; both read a range of created_at, which no index served (the existing
-- ones lead with account_id or schedule_id), so each would have read its whole table. Retention of
-- schedule_runs goes schedule by schedule and is served by schedule_runs_schedule_created_idx already.
-- Plain CREATE INDEX (migrations run in a transaction, so not CONCURRENTLY): on a large existing
-- table, run this release when a short pause of inserts into these two tables is acceptable.

-- Serves the runs_by_status gauge (runs created in the last 24 h, core/ops/metrics.sql).
CREATE INDEX schedule_runs_created_idx ON schedule_runs (created_at);

-- Serves prune_email_log (oldest first, older than RUN_RETENTION_DAYS) and the emails_by_result gauge.
CREATE INDEX email_log_created_idx ON email_log (created_at);
