-- A name search counts its matches up to a limit (core.model.SEARCH_COUNT_LIMIT, 10,000), as search
-- engines do: a word every one of an account's 100,000 names holds made the count read all 100,000
-- folded names (about 40 ms) while its page stopped at the first 50. Past the limit the API says the
-- total is at least that many. A search with other filters first counts the name's matches the same
-- way: under the limit it takes their ids (schedule_ids_named), past it it tests each row's name
-- itself (core/schedule/schedules.sql), as the ids of a word every name holds are the account's all.

DROP FUNCTION count_schedules_named(text, boolean);
CREATE FUNCTION count_schedules_named(pattern text, active_only boolean, max_count int) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT count(*) FROM (
        SELECT 1 FROM schedule_lookups
         WHERE account_id = current_account_id() AND name_folded LIKE lower(pattern) AND (active OR NOT active_only)
         LIMIT max_count) AS matches
$$;
REVOKE ALL ON FUNCTION count_schedules_named(text, boolean, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION count_schedules_named(text, boolean, int) TO app_tenant;

-- The list's filters, written once: GET /v1/schedules' page (list_schedules) and its count
-- (count_schedules) both read the schedules this returns (core/schedule/schedules.sql says what each
-- filter means). A plain SQL function, STABLE, neither STRICT nor SECURITY DEFINER: PostgreSQL inlines
-- it into the statement that calls it, so each is planned as if the filters were written there (the
-- page from the keyset index, under the tenant's row-level security).
CREATE FUNCTION schedules_filtered(account uuid, active_only boolean, cadence_is text, task_is text, tag_is text,
                                   active_is boolean, state_is text, name_pattern text, name_few boolean)
RETURNS SETOF schedules LANGUAGE sql STABLE AS $$
    SELECT * FROM schedules
     WHERE account_id = account
       AND (NOT active_only OR active)
       AND (cadence_is IS NULL OR cadence = cadence_is)
       AND (task_is IS NULL OR task = task_is)
       AND (tag_is IS NULL OR tags @> ARRAY[tag_is])
       AND (active_is IS NULL OR active = active_is)
       AND (state_is IS NULL OR state_is = CASE WHEN active THEN 'active'
                                                WHEN paused_at IS NOT NULL THEN 'paused' ELSE 'disabled' END)
       AND (name_pattern IS NULL
            OR name_few AND id = ANY(ARRAY(SELECT schedule_ids_named(name_pattern)))
            OR NOT name_few AND lower(name) LIKE lower(name_pattern))
$$;
REVOKE ALL ON FUNCTION schedules_filtered(uuid, boolean, text, text, text, boolean, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schedules_filtered(uuid, boolean, text, text, text, boolean, text, text, boolean)
    TO app_tenant;
