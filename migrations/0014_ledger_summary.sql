-- 0014: how a run's delivery ledger stands, defined once. The worker reads it to judge a delivery pass
-- (core/deliveries/delivery.sql, delivery_summary) and the statement that ends a run reads it to
-- take the final status from the ledger (core/runs/lifecycle.sql, finish_run): succeeded when every
-- target was sent or suppressed, delivery_failed when one failed, and not yet while one is unfinished.
--
-- A Slack incoming-webhook URL is a credential: the last error names it masked (scheme, host and its
-- last 4 characters), as the API and the logs show it.
CREATE FUNCTION ledger_summary(run uuid)
RETURNS TABLE (total bigint, sent bigint, suppressed bigint, failed bigint, unfinished bigint,
               pending_attempts int, last_error text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT count(*),
           count(*) FILTER (WHERE status = 'sent'),
           count(*) FILTER (WHERE status = 'suppressed'),
           count(*) FILTER (WHERE status = 'failed'),
           count(*) FILTER (WHERE status IN ('pending', 'sending')),
           max(attempts) FILTER (WHERE status = 'pending'),
           (array_agg(CASE WHEN channel = 'slack'
                           THEN regexp_replace(target, '^([a-z]+://[^/?#]+).*(.{4})$', '\1/…\2')
                           ELSE target END || ': ' || last_error ORDER BY updated_at DESC)
                FILTER (WHERE status IN ('failed', 'pending') AND last_error IS NOT NULL))[1]
      FROM deliveries
     WHERE run_id = run
$$;
