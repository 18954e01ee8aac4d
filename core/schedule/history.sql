-- The change history of schedules (core/schedule/history.py): one row per recorded change, by version.

-- insert_schedule_change --
-- Record one change of a schedule, at the version the change gave it.
INSERT INTO schedule_changes (schedule_id, account_id, version, action, actor, changes, note, created_at)
VALUES (%(schedule_id)s, %(account_id)s, %(version)s, %(action)s, %(actor)s, %(changes)s, %(note)s, %(now)s);

-- list_schedule_changes --
-- A schedule's changes, newest first, before a version when paging (NULL: from the newest). Served by the UNIQUE (schedule_id, version) index.
SELECT version, action, actor, changes, note, created_at
  FROM schedule_changes
 WHERE schedule_id = %(schedule_id)s AND account_id = %(account_id)s
   AND (%(before)s::int IS NULL OR version < %(before)s::int)
 ORDER BY version DESC
 LIMIT %(limit)s;
