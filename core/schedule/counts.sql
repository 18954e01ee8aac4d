-- Each account's schedules by cadence and on/off, kept by the triggers of migration 0026: a folded
-- count (schedule_counts) plus the signed deltas appended since (schedule_count_deltas).

-- schedule_counts_by_cadence --
-- The account's schedules per cadence (total, and enabled: active), as of this statement's snapshot: the folded counts plus the deltas not yet folded. Cadences with no schedule left are not listed.
SELECT cadence, sum(schedules)::bigint AS total, sum(enabled)::bigint AS enabled
  FROM (SELECT cadence, schedules, enabled FROM schedule_counts WHERE account_id = %(account_id)s
        UNION ALL
        SELECT cadence, schedules, enabled FROM schedule_count_deltas WHERE account_id = %(account_id)s) AS c
 GROUP BY cadence
HAVING sum(schedules) <> 0
 ORDER BY cadence;

-- fold_schedule_count_deltas --
-- Move up to %(limit)s of the oldest deltas into schedule_counts, summed per account and cadence, in one statement (every snapshot sees a delta once: as a delta or in its count). SKIP LOCKED: two tickers folding at once take different deltas. The deltas of an account that no longer exists are dropped. Returns how many deltas were moved.
WITH moved AS (
    DELETE FROM schedule_count_deltas
     WHERE id IN (SELECT id FROM schedule_count_deltas ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING account_id, cadence, schedules, enabled
), summed AS (
    SELECT account_id, cadence, sum(schedules) AS schedules, sum(enabled) AS enabled
      FROM moved
     WHERE EXISTS (SELECT 1 FROM accounts AS a WHERE a.id = moved.account_id)
     GROUP BY account_id, cadence
), folded AS (  -- a data-modifying WITH runs to completion though nothing reads it
    INSERT INTO schedule_counts AS c (account_id, cadence, schedules, enabled)
    SELECT account_id, cadence, schedules, enabled FROM summed
     ORDER BY account_id, cadence  -- one lock order for every folder
    ON CONFLICT (account_id, cadence) DO UPDATE
       SET schedules = c.schedules + excluded.schedules, enabled = c.enabled + excluded.enabled
)
SELECT count(*) AS moved FROM moved;
