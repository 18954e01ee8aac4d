-- Email suppressions (unsubscribes): written through the signed link, listed and edited by tenants.

-- suppress_email --
-- Stop emailing this address for this account. The address comes lower-cased; an older row of
-- another case counts as the same address. Returns the row only when this statement added it.
INSERT INTO email_suppressions (account_id, email, reason)
SELECT %(account_id)s, %(email)s, %(reason)s
WHERE NOT EXISTS (SELECT 1 FROM email_suppressions
                  WHERE account_id = %(account_id)s AND lower(email) = %(email)s)
ON CONFLICT (account_id, email) DO NOTHING
RETURNING email, reason, created_at;

-- get_suppression --
-- One suppressed address of the account (any case).
SELECT email, reason, created_at FROM email_suppressions
WHERE account_id = %(account_id)s AND lower(email) = lower(%(email)s)
ORDER BY created_at
LIMIT 1;

-- count_suppressions --
-- How many addresses the account has suppressed (matching `q`, a part of the address, when given).
SELECT count(*) AS total FROM email_suppressions
WHERE account_id = %(account_id)s
  AND (%(q)s::text IS NULL OR strpos(lower(email), lower(%(q)s)) > 0);

-- list_suppressions --
-- One page of the account's suppressed addresses, newest first.
SELECT email, reason, created_at FROM email_suppressions
WHERE account_id = %(account_id)s
  AND (%(q)s::text IS NULL OR strpos(lower(email), lower(%(q)s)) > 0)
ORDER BY created_at DESC, email
LIMIT %(limit)s OFFSET %(offset)s;

-- delete_suppression --
-- Resubscribe an address (compared case-insensitively); returns it when it was suppressed.
DELETE FROM email_suppressions
WHERE account_id = %(account_id)s AND lower(email) = lower(%(email)s)
RETURNING email;
