-- Idempotency keys (core/schedule/idempotency.py): the first answer to a POST, kept for a day per (tenant, route, key).

-- claim_idempotency_key --
-- Take a key for this request; no row back means the key is known already. A concurrent request with the same key waits here until the first commits (then sees its answer) or rolls back (then takes the key).
INSERT INTO idempotency_keys (account_id, route, key, request_hash, created_at)
VALUES (%(account_id)s, %(route)s, %(key)s, %(request_hash)s, %(now)s)
ON CONFLICT (account_id, route, key) DO NOTHING
RETURNING key;

-- get_idempotency_key --
-- A known key's request hash and first answer, locked (an expired one is taken over in this transaction).
SELECT request_hash, status, response, location, created_at
  FROM idempotency_keys
 WHERE account_id = %(account_id)s AND route = %(route)s AND key = %(key)s
   FOR UPDATE;

-- renew_idempotency_key --
-- A key older than its lifetime is free again: it now belongs to this request.
UPDATE idempotency_keys
   SET request_hash = %(request_hash)s, status = NULL, response = NULL, location = NULL, created_at = %(now)s
 WHERE account_id = %(account_id)s AND route = %(route)s AND key = %(key)s;

-- save_idempotent_response --
-- Keep the first answer to the request that took the key (committed with what the request did).
UPDATE idempotency_keys SET status = %(status)s, response = %(response)s, location = %(location)s
 WHERE account_id = %(account_id)s AND route = %(route)s AND key = %(key)s;

-- delete_expired_idempotency_keys --
-- Retention: keys past their lifetime, a batch at a time (service connection). Served by idempotency_keys_created_idx.
DELETE FROM idempotency_keys
 WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < %(before)s LIMIT %(limit)s);
