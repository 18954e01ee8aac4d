-- Bulk changes (core/schedule/bulk.py): the schedules a filter picks. Runs in the tenant's transaction.

-- bulk_match_schedules --
-- The tenant's schedules a bulk change's filter picks (every criterion given must hold: ids, a tag, a part of the name in any case, a state), in id order (the order their rows are then locked in, one by one, so two bulk changes at once never deadlock); at most %(limit)s.
SELECT id, account_id, name, active, paused_at, paused_until, pause_note, recipients,
       CASE WHEN active THEN 'active' WHEN paused_at IS NOT NULL THEN 'paused' ELSE 'disabled' END AS state
FROM schedules
WHERE account_id = %(account_id)s
  AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s::uuid[]))
  AND (%(tag)s::text IS NULL OR tags @> ARRAY[%(tag)s::text])
  AND (%(name)s::text IS NULL OR strpos(lower(name), lower(%(name)s)) > 0)
  AND (%(state)s::text IS NULL OR %(state)s = CASE WHEN active THEN 'active'
                                                  WHEN paused_at IS NOT NULL THEN 'paused' ELSE 'disabled' END)
ORDER BY id
LIMIT %(limit)s;
