-- Email suppressions (unsubscribes), written through the signed link.

-- suppress_email --
-- Stop emailing this address for this account; suppressing twice changes nothing.
INSERT INTO email_suppressions (account_id, email, reason)
VALUES (%(account_id)s, %(email)s, %(reason)s)
ON CONFLICT (account_id, email) DO NOTHING;
