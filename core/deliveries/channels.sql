-- A schedule's webhook and Slack channels (core/deliveries/channels.py). The API runs these in a tenant
-- transaction, the worker in a service one.

-- list_schedule_channels --
-- The channels of some schedules, in the order the client gave them.
SELECT id, schedule_id, type, url, disabled_at, disabled_reason, created_at, updated_at
  FROM schedule_channels
 WHERE schedule_id = ANY(%(schedule_ids)s::uuid[]) AND account_id = %(account_id)s
 ORDER BY schedule_id, position, created_at;

-- insert_schedule_channel --
-- One new channel of a schedule (or, if it is there already, its new position).
INSERT INTO schedule_channels (schedule_id, account_id, type, url, position)
VALUES (%(schedule_id)s, %(account_id)s, %(type)s, %(url)s, %(position)s)
ON CONFLICT (schedule_id, type, url) DO UPDATE SET position = EXCLUDED.position, updated_at = now();

-- keep_schedule_channel --
-- A channel the client named by id in an edit: kept as it is, at its new position; no row when it is not this schedule's.
UPDATE schedule_channels SET position = %(position)s, updated_at = now()
 WHERE id = %(id)s AND schedule_id = %(schedule_id)s AND account_id = %(account_id)s
RETURNING id;

-- delete_other_schedule_channels --
-- After an edit: the channels the new list no longer has.
DELETE FROM schedule_channels
 WHERE schedule_id = %(schedule_id)s AND account_id = %(account_id)s
   AND NOT (id = ANY(%(keep_ids)s::uuid[]))
   AND NOT ((type, url) IN (SELECT * FROM unnest(%(keep_types)s::text[], %(keep_urls)s::text[])));

-- enable_schedule_channel --
-- Send to a channel again after its receiver answered 410 Gone; returns the channel (none if it is not this schedule's).
UPDATE schedule_channels SET disabled_at = NULL, disabled_reason = NULL, updated_at = now()
 WHERE id = %(id)s AND schedule_id = %(schedule_id)s AND account_id = %(account_id)s
RETURNING id, schedule_id, type, url, disabled_at, disabled_reason, created_at, updated_at;
