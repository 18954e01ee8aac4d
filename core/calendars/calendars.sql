-- Business calendars as the API manages them. Every query runs inside core.ops.db.tenant_transaction (row-level
-- security confines it to one tenant) and names the account as well.

-- insert_calendar --
-- A new calendar; returns the row.
INSERT INTO calendars (id, account_id, name, country, subdivision, weekend, add_dates, remove_dates, created_at, updated_at)
VALUES (%(id)s, %(account_id)s, %(name)s, %(country)s, %(subdivision)s, %(weekend)s, %(add_dates)s::date[],
        %(remove_dates)s::date[], %(now)s, %(now)s)
RETURNING *;

-- list_calendars --
-- The account's calendars by name.
SELECT * FROM calendars WHERE account_id = %(account_id)s ORDER BY name, id;

-- get_calendar --
-- One calendar by id (none when it is another tenant's).
SELECT * FROM calendars WHERE id = %(id)s AND account_id = %(account_id)s;

-- update_calendar --
-- Write back a calendar after a PATCH merged into it; returns the row.
UPDATE calendars SET name = %(name)s, country = %(country)s, subdivision = %(subdivision)s, weekend = %(weekend)s,
       add_dates = %(add_dates)s::date[], remove_dates = %(remove_dates)s::date[], updated_at = %(now)s
 WHERE id = %(id)s AND account_id = %(account_id)s
RETURNING *;

-- calendar_users --
-- The schedules that follow a calendar (id and name), locked so none starts following it meanwhile.
SELECT id::text, name FROM schedules
 WHERE calendar_id = %(id)s AND account_id = %(account_id)s
 ORDER BY name, id
   FOR UPDATE;

-- delete_calendar --
-- Delete a calendar no schedule follows; returns its id.
DELETE FROM calendars WHERE id = %(id)s AND account_id = %(account_id)s RETURNING id;

-- reset_calendar_users --
-- After a calendar changed: its active schedules' next runs are computed again by the ticker (as for a new row).
UPDATE schedules SET next_run_at = NULL, next_occurrence_at = NULL
 WHERE calendar_id = %(id)s AND account_id = %(account_id)s AND active;

-- calendar_followers --
-- The schedules that follow a calendar (id and name), for reading: the console's calendar page.
SELECT id, name FROM schedules
 WHERE calendar_id = %(id)s AND account_id = %(account_id)s
 ORDER BY name, id;

-- calendar_follower_counts --
-- How many schedules follow each of the account's calendars (calendars none follows are absent).
SELECT calendar_id, count(*) AS schedules FROM schedules
 WHERE account_id = %(account_id)s AND calendar_id IS NOT NULL
 GROUP BY calendar_id;
