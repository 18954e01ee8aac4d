-- 0030: the channel types in one table. core/deliveries/channel_types.py registers each type (its
-- sender, its label, its rules); the database keeps their names here, one row a type, and refers to
-- them instead of listing them in two CHECKs (schedule_channels.type, deliveries.channel, from 0006).
-- A new type whose URL is kept in schedule_channels (and in alert_settings.channels) as the others'
-- is a migration of one INSERT; only a type that stores something else needs more.
--
-- `secret_url`: the URL is a credential (Slack's incoming webhooks), so the last error a run's ledger
-- names masks it (scheme, host and its last 4 characters) in ledger_summary below, as
-- channel_types.shown_target does in Python (the API, the console, the logs, an alert's words).
-- tests/integration/test_model.py checks these rows against the registry.
CREATE TABLE channel_types (
    name       TEXT PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    secret_url BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO channel_types (name, secret_url) VALUES ('email', FALSE), ('webhook', FALSE), ('slack', TRUE);
GRANT SELECT ON channel_types TO app_tenant;

-- Every existing row passed the CHECK it replaces, so each foreign key finds its type.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_channel_check,
    ADD CONSTRAINT deliveries_channel_fkey FOREIGN KEY (channel) REFERENCES channel_types (name);
-- A schedule's email goes to its `recipients`, never to a channel.
ALTER TABLE schedule_channels DROP CONSTRAINT schedule_channels_type_check,
    ADD CONSTRAINT schedule_channels_type_fkey FOREIGN KEY (type) REFERENCES channel_types (name),
    ADD CONSTRAINT schedule_channels_not_email CHECK (type <> 'email');

-- As 0014 defined it, the mask read from channel_types instead of naming 'slack'.
CREATE OR REPLACE FUNCTION ledger_summary(run uuid)
RETURNS TABLE (total bigint, sent bigint, suppressed bigint, failed bigint, unfinished bigint,
               pending_attempts int, last_error text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT count(*),
           count(*) FILTER (WHERE d.status = 'sent'),
           count(*) FILTER (WHERE d.status = 'suppressed'),
           count(*) FILTER (WHERE d.status = 'failed'),
           count(*) FILTER (WHERE d.status IN ('pending', 'sending')),
           max(d.attempts) FILTER (WHERE d.status = 'pending'),
           (array_agg(CASE WHEN t.secret_url
                           THEN regexp_replace(d.target, '^([a-z]+://[^/?#]+).*(.{4})$', '\1/…\2')
                           ELSE d.target END || ': ' || d.last_error ORDER BY d.updated_at DESC)
                FILTER (WHERE d.status IN ('failed', 'pending') AND d.last_error IS NOT NULL))[1]
      FROM deliveries d
      JOIN channel_types t ON t.name = d.channel
     WHERE d.run_id = run
$$;
