-- 0011: the schedules row the ticker claims is written only for what decides when a schedule runs.
-- The NOTIFY that wakes sleeping tickers fired on every UPDATE of schedules, so each finished run
-- (the worker's counter update) woke every ticker to find nothing new. It now fires on INSERT and
-- only for statements that write a column the ticker's due and wake-up queries read: next_run_at,
-- active (the due index's condition) and paused_until (a pause ending); run now's wake-up is the
-- schedule_runs INSERT trigger of 0001, unchanged.

-- Statement-level with a column list rather than a row-level WHEN (OLD IS DISTINCT FROM NEW): the
-- ticker's own batch UPDATE writes next_run_at on hundreds of rows at once, and a row trigger would
-- cost it one call per row. A statement that writes one of these columns without changing its value
-- (a PATCH of the name writes every column) still notifies: a wake-up too many is only a cheap query.
DROP TRIGGER schedules_changed ON schedules;
CREATE TRIGGER schedules_added AFTER INSERT ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_schedules_changed();
CREATE TRIGGER schedules_changed AFTER UPDATE OF next_run_at, active, paused_until ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_schedules_changed();
