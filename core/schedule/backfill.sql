-- Backfills (core/schedule/backfill.py): runs for past occurrences, asked for by the API.

-- insert_backfill_runs --
-- Backfill: one pending run per occurrence (ready to push at once), marked trigger backfill, under the schedule's current version, its id time-ordered by its occurrence (uuid_v7, migration 0017: the runs' ids sort as they were due); an occurrence that already has a backfill run (schedule_runs_backfill_uniq) or a scheduled one is left alone, so asking twice creates nothing new. Returns the runs made.
INSERT INTO schedule_runs (id, schedule_id, account_id, status, trigger, scheduled_for, created_at, not_before,
                           schedule_version)
SELECT uuid_v7(o.at), %(schedule_id)s, %(account_id)s, 'pending', 'backfill', o.at, %(now)s, %(now)s, %(version)s
  FROM unnest(%(occurrences)s::timestamptz[]) AS o (at)
 WHERE NOT EXISTS (SELECT 1 FROM schedule_runs r
                    WHERE r.schedule_id = %(schedule_id)s AND r.scheduled_for = o.at AND r.trigger = 'schedule')
 ORDER BY o.at
ON CONFLICT (schedule_id, scheduled_for) WHERE trigger = 'backfill' DO NOTHING
RETURNING *;
