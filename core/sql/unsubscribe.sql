-- Email suppressions (unsubscribes), written through the signed link.

-- suppress_email --
-- Stop emailing this address for this account; suppressing twice changes nothing.
INSERT INTO email_suppressions (account_id, email, reason)
VALUES (%(account_id)s, %(email)s, %(reason)s)
ON CONFLICT (account_id, email) DO NOTHING;

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
