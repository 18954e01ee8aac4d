-- The sets of run statuses the queries test, written once each, as core.model names them
-- (tests/integration/test_model.py compares the two): IN_FLIGHT, a run that keeps its schedule busy
-- for the overlap policy, and TAKING_A_SLOT, a run that counts against its account's cap on runs in
-- flight. They are SQL functions PostgreSQL inlines into each query that calls them, so a partial
-- index on the same statuses still serves the query.
CREATE FUNCTION run_in_flight(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('pending', 'queued', 'running', 'retrying')
$$;

CREATE FUNCTION run_takes_a_slot(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('pending', 'queued', 'running')
$$;
