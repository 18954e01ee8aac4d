-- Schedules as the API manages them. Every query runs inside core.ops.db.tenant_transaction, so row-level
-- security already confines it to one tenant; the explicit account_id keeps the plans on the
-- (account_id, ...) indexes. Times come in as %(now)s from the caller's clock, never now(), so the
-- API's idea of "now" is one value per request (and tests can freeze it).

-- insert_schedule --
-- A new schedule with every client field and its first next_run_at; returns the row.
INSERT INTO schedules (
    id, account_id, name, description, task, task_parameters, report_type, city, zip_codes, lookback_days,
    filters, recipients, include_attachment, cadence, weekly_dow, monthly_dom, send_hour, send_minute,
    cron_expression, interval_seconds, timezone, start_at, end_at, misfire_grace_seconds, active, tags,
    overlap_policy, pause_after_failures, catchup, catchup_window_seconds, window_seconds, deliver_when, next_run_at,
    next_occurrence_at, monthly_week, monthly_dow, calendar_id, on_holiday, created_at, updated_at
) VALUES (
    %(id)s, %(account_id)s, %(name)s, %(description)s, %(task)s, %(task_parameters)s, %(report_type)s, %(city)s,
    %(zip_codes)s, %(lookback_days)s, %(filters)s, %(recipients)s, %(include_attachment)s, %(cadence)s,
    %(weekly_dow)s, %(monthly_dom)s, %(send_hour)s, %(send_minute)s, %(cron_expression)s,
    %(interval_seconds)s, %(timezone)s, %(start_at)s, %(end_at)s, %(misfire_grace_seconds)s, %(active)s,
    %(tags)s, %(overlap_policy)s, %(pause_after_failures)s, %(catchup)s, %(catchup_window_seconds)s,
    %(window_seconds)s, %(deliver_when)s, %(next_run_at)s, %(next_occurrence_at)s, %(monthly_week)s, %(monthly_dow)s,
    %(calendar_id)s, %(on_holiday)s, %(now)s, %(now)s
)
RETURNING *;

-- get_schedule --
-- One schedule by id, with its counters (none when it is another tenant's).
SELECT * FROM schedules_with_stats
WHERE id = %(id)s AND account_id = %(account_id)s;

-- lock_schedule --
-- Lock one schedule until the transaction ends (PATCH, enable: read, merge, write); get_schedule then reads it, in a statement that sees the row as locked. Only the schedules row: a run's conclusion writing its counters goes on.
SELECT id FROM schedules
WHERE id = %(id)s AND account_id = %(account_id)s
FOR UPDATE;

-- patch_schedule --
-- Write back every client field, the pause and next_run_at after a PATCH merged into the row, as the next version; returns the row.
UPDATE schedules SET
    name = %(name)s, description = %(description)s, task = %(task)s, task_parameters = %(task_parameters)s,
    report_type = %(report_type)s, city = %(city)s, zip_codes = %(zip_codes)s,
    lookback_days = %(lookback_days)s, filters = %(filters)s, recipients = %(recipients)s,
    include_attachment = %(include_attachment)s, cadence = %(cadence)s, weekly_dow = %(weekly_dow)s,
    monthly_dom = %(monthly_dom)s, send_hour = %(send_hour)s, send_minute = %(send_minute)s,
    cron_expression = %(cron_expression)s, interval_seconds = %(interval_seconds)s,
    timezone = %(timezone)s, start_at = %(start_at)s, end_at = %(end_at)s,
    misfire_grace_seconds = %(misfire_grace_seconds)s, active = %(active)s, tags = %(tags)s,
    overlap_policy = %(overlap_policy)s, pause_after_failures = %(pause_after_failures)s,
    catchup = %(catchup)s, catchup_window_seconds = %(catchup_window_seconds)s,
    window_seconds = %(window_seconds)s, deliver_when = %(deliver_when)s, next_occurrence_at = %(next_occurrence_at)s,
    monthly_week = %(monthly_week)s, monthly_dow = %(monthly_dow)s, calendar_id = %(calendar_id)s,
    on_holiday = %(on_holiday)s,
    paused_at = %(paused_at)s, paused_until = %(paused_until)s, paused_by = %(paused_by)s,
    pause_note = %(pause_note)s,
    next_run_at = %(next_run_at)s, updated_at = %(now)s, version = version + 1
WHERE id = %(id)s AND account_id = %(account_id)s
RETURNING *;

-- enable_schedule --
-- Turn a schedule on (resume it, when paused) with a freshly computed next_run_at, as the next version; returns the row. The service's auto-resume uses it too, hence no account_id.
UPDATE schedules SET active = TRUE, next_run_at = %(next_run_at)s, next_occurrence_at = %(next_occurrence_at)s,
       updated_at = %(now)s,
       paused_at = NULL, paused_until = NULL, paused_by = NULL, pause_note = NULL, version = version + 1
WHERE id = %(id)s
RETURNING *;

-- disable_schedule --
-- Turn a schedule off (ending a pause: disabled is the stronger state), as the next version; next_run_at stays as it was (the due index ignores inactive rows).
UPDATE schedules SET active = FALSE, updated_at = %(now)s,
       paused_at = NULL, paused_until = NULL, paused_by = NULL, pause_note = NULL, version = version + 1
WHERE id = %(id)s AND account_id = %(account_id)s
RETURNING *;

-- pause_schedule --
-- Pause a schedule: inactive, with who, when, why and until when, as the next version; returns the row.
UPDATE schedules SET active = FALSE, paused_at = %(now)s, paused_until = %(until)s, paused_by = %(actor)s,
       pause_note = %(note)s, updated_at = %(now)s, version = version + 1
WHERE id = %(id)s
RETURNING *;

-- pause_for_failures --
-- pause_after_failures: an active schedule whose last pause_after_failures runs all failed pauses itself, as the next version. No row: the rule does not apply (not set, not reached, or not active).
UPDATE schedules SET active = FALSE, paused_at = now(), paused_until = NULL, paused_by = 'system',
       pause_note = left('paused after ' || pause_after_failures || ' consecutive failed runs' || %(suffix)s, %(limit)s),
       updated_at = now(), version = version + 1
WHERE id = %(id)s AND active AND pause_after_failures IS NOT NULL
  AND (SELECT consecutive_failures FROM schedule_stats WHERE schedule_id = %(id)s) >= pause_after_failures
RETURNING *;

-- claim_paused_to_resume --
-- Lock paused schedules whose paused_until has come, earliest first, for the ticker to resume. Served by schedules_paused_until_idx.
SELECT * FROM schedules
WHERE paused_until <= %(now)s AND paused_at IS NOT NULL AND NOT active
ORDER BY paused_until
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- end_pause_without_runs --
-- A pause that ended on a schedule with no run left (its end_at passed meanwhile): the pause is cleared, the schedule stays inactive.
UPDATE schedules SET paused_at = NULL, paused_until = NULL, paused_by = NULL, pause_note = NULL,
       updated_at = %(now)s, version = version + 1
WHERE id = %(id)s
RETURNING *;

-- delete_schedule --
-- Delete a schedule; its runs go with it (ON DELETE CASCADE). Returns the id when there was one.
DELETE FROM schedules
WHERE id = %(id)s AND account_id = %(account_id)s
RETURNING id;

-- count_schedules --
-- How many schedules list_schedules would return over all pages; with a name search, up to %(count_limit)s (NULL: all): a word every name holds stops the count there rather than at the account's last schedule.
SELECT count(*) AS total FROM (
    SELECT 1 FROM schedules_filtered(%(account_id)s, %(active_only)s, %(cadence)s, %(task)s, %(tag)s, %(active)s,
                                     %(state)s, %(name_pattern)s, %(name_few)s)
     LIMIT %(count_limit)s
) AS matches;

-- list_schedules --
-- One page of the tenant's schedules, newest first, of those schedules_filtered returns (migration
-- 0029, inlined into this statement): `active_only`; `cadence`, `task`, `tag`; `active`: only on or
-- only off schedules; `state`: active, paused or disabled, as core.schedule.schedules.state_of names
-- them; `name_pattern`: a part of the name, any case, as a LIKE pattern with its wildcards escaped,
-- both sides folded to lower case as schedule_lookups folds them. With `name_few` (the name matches
-- fewer than core.model.SEARCH_COUNT_LIMIT schedules) the matches' ids come from schedule_ids_named
-- (migrations 0025, 0027; in ARRAY(...), an InitPlan: once per statement); otherwise each row the
-- other filters pass has its name tested, and a page stops once it has its rows. A search with no
-- other filter is list_schedules_named's, which reads the names alone.
-- A page after a cursor (the previous page's last created_at and id) is a keyset page: it reads
-- schedules_account_keyset_idx from that row on, however deep, with OFFSET 0. A page by number
-- finds its rows' ids first, in that index alone (it holds `active` and `cadence`, migration 0025), and only then
-- reads those rows with their counters, so the rows it skips cost an index entry each.
WITH page AS (
    SELECT id, created_at
      FROM schedules_filtered(%(account_id)s, %(active_only)s, %(cadence)s, %(task)s, %(tag)s, %(active)s,
                              %(state)s, %(name_pattern)s, %(name_few)s)
     WHERE %(after_created_at)s::timestamptz IS NULL
        OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
     ORDER BY created_at DESC, id DESC
     LIMIT %(limit)s OFFSET %(offset)s
)
SELECT s.* FROM page JOIN schedules_with_stats AS s ON s.id = page.id
ORDER BY page.created_at DESC, page.id DESC;

-- list_schedules_named --
-- One page of the tenant's schedules whose name holds a text, filtered by nothing else but `active_only`: the page's ids, in order, from schedule_page_named (migration 0027: one index of the account's folded names, read until the page is full), then those rows with their counters.
SELECT s.*
  FROM unnest(ARRAY(SELECT schedule_page_named(%(name_pattern)s, %(active_only)s, %(after_created_at)s,
                                               %(after_id)s, %(limit)s, %(offset)s))) WITH ORDINALITY AS page (id, n)
  JOIN schedules_with_stats AS s ON s.id = page.id
 ORDER BY page.n;

-- count_schedules_named --
-- How many schedules list_schedules_named would return over all pages, up to %(count_limit)s (count_schedules_named, migrations 0027 and 0029: the account's folded names, read until that many matched).
SELECT count_schedules_named(%(name_pattern)s, %(active_only)s, %(count_limit)s) AS total;

-- list_due_schedules --
-- The tenant's active schedules whose next run is at or before now, most overdue first. Served by schedules_account_due_idx.
SELECT * FROM schedules_with_stats
WHERE account_id = %(account_id)s AND active AND next_run_at <= %(now)s
ORDER BY next_run_at, id
LIMIT %(limit)s;

-- find_same_work_schedules --
-- Other ACTIVE schedules of the tenant that do the same work (same task, task_parameters and report fields), whatever their timing, oldest first: core.schedule.schedules.conflict_warnings compares their occurrences. Its candidates are the first of the account's schedules with the same work key (same_work_schedule_ids, by schedule_lookups_work_idx, migration 0025), which the fields below then confirm; one more than the limit, as the schedule being edited may be one.
SELECT * FROM schedules_with_stats
WHERE account_id = %(account_id)s AND active
  AND id = ANY(ARRAY(SELECT same_work_schedule_ids(
                          schedule_work_key(%(task)s, %(task_parameters)s, %(report_type)s, %(city)s,
                                            %(zip_codes)s::text[], %(lookback_days)s::int, %(filters)s),
                          %(limit)s + 1)))
  AND (%(id)s::uuid IS NULL OR id <> %(id)s::uuid)
  AND task = %(task)s AND task_parameters = %(task_parameters)s
  AND report_type IS NOT DISTINCT FROM %(report_type)s AND city IS NOT DISTINCT FROM %(city)s
  AND zip_codes IS NOT DISTINCT FROM %(zip_codes)s::text[]
  AND lookback_days IS NOT DISTINCT FROM %(lookback_days)s::int AND filters = %(filters)s
ORDER BY created_at, id
LIMIT %(limit)s;

-- list_schedule_tags --
-- Every tag the account's schedules carry, for the console's tag filter.
SELECT DISTINCT tag FROM schedules, unnest(tags) AS tag
WHERE account_id = %(account_id)s
ORDER BY tag;

-- run_stats --
-- The tenant's runs in all, succeeded and failed, for GET /v1/schedules/stats.
SELECT count(*) AS total_runs,
       count(*) FILTER (WHERE status = 'succeeded') AS successful_runs,
       count(*) FILTER (WHERE status IN ('failed', 'delivery_failed')) AS failed_runs
FROM schedule_runs
WHERE account_id = %(account_id)s AND trigger <> 'resend';
