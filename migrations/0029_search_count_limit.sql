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
