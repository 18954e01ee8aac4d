-- What core/ops/db.py runs on a connection: the settings of a transaction, applied at its start (SET LOCAL:
-- they end with it), and the ticker's LISTEN.

-- become_tenant --
-- Drop to the app_tenant role (no BYPASSRLS, not the tables' owner) and name the tenant that row-level
-- security lets this transaction see.
SET LOCAL ROLE app_tenant;
SELECT set_config('app.current_account_id', %(account_id)s, true);

-- set_statement_timeout --
-- Cancel any statement of this transaction that runs longer than this many milliseconds (/readyz, /metrics).
SET LOCAL statement_timeout = %(milliseconds)s;

-- listen_for_schedule_changes --
-- Be notified when there may be new work (the migrations' triggers on schedules and schedule_runs call
-- notify_schedules_changed(), once per statement); on an autocommit connection, kept open.
LISTEN schedules_changed;

-- prepared_parameter_types --
-- The types PostgreSQL gave a prepared statement's parameters (core.ops.db.Cursor casts its arguments to them). Run unprepared: it is how a prepared statement is made.
SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = %(statement)s;

-- keep_generic_plans --
-- This session keeps one generic plan per prepared statement (the worker's pool: every statement it runs finds rows by id).
SET plan_cache_mode = force_generic_plan;

-- plan_every_run --
-- This session plans each run of a prepared statement for its parameters (the API's pool: optional filters a generic plan cannot drop), and never JIT-compiles one: a request reads a page of rows, and a plan over a big account can cross jit_above_cost, where compiling costs tens of milliseconds more than it saves.
SET plan_cache_mode = force_custom_plan;
SET jit = off;

-- ping --
-- Does the server answer? (a worker backing off while PostgreSQL is away asks this before it takes jobs again)
SELECT 1 AS answered;
