-- Accounts (tenants) and their plans.

-- create_account --
-- A new tenant on the given plan; returns its id.
INSERT INTO accounts (name, plan)
VALUES (%(name)s, %(plan)s)
RETURNING id;

-- ensure_account --
-- Create the account with this id if it does not exist (the demo account, fixtures); returns its id.
INSERT INTO accounts (id, name, plan)
VALUES (%(id)s, %(name)s, %(plan)s)
ON CONFLICT (id) DO UPDATE SET name = accounts.name
RETURNING id;

-- get_account_name --
-- The account's name (the console's header shows the signed-in one).
SELECT name FROM accounts WHERE id = %(account_id)s;
