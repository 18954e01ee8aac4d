-- 0019: alerts to the account owner. Every run ends in a true status, but nobody was told: a schedule
-- failing every Monday, a `missed` run after an outage, a schedule paused after failures, a channel
-- disabled by a 410 each waited for someone to open the console. Now each such event opens (or counts
-- into) one incident per schedule, `alerts`; an incident's events that are news (it opened, the
-- schedule was paused, a channel was disabled, it is back to normal) are `alert_messages`, each
-- delivered through the delivery ledger (`deliveries` rows with `alert_message_id` instead of a run)
-- to where the account wants its alerts (`alert_settings`), exactly once per event.
--
-- The incidents and messages are written by triggers, in the transaction of the statement that
-- records the event, whichever process that is (the worker ending a run, the ticker recovering a lost
-- run or recording a missed one, a supervisor's hand-back, a 410 disabling a channel, a pause): no
-- event can be recorded without its alert, or twice. Only `stale` (no run for days: no statement
-- happens) is found by the ticker's periodic pass (core/alerts/incidents.sql).

-- Where an account's alerts go and which events it wants. No row: every event, no destination (the
-- incidents are still listed in the API and the console).
CREATE TABLE alert_settings (
    account_id UUID PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    emails     TEXT[] NOT NULL DEFAULT '{}',
    -- [{"type": "webhook" | "slack", "url": "https://..."}]
    channels   JSONB NOT NULL DEFAULT '[]',
    events     TEXT[] NOT NULL DEFAULT '{failed,delivery_failed,missed,paused,channel_disabled,stale}',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (events <@ '{failed,delivery_failed,missed,paused,channel_disabled,stale}'::text[])
);

-- A schedule whose alerts are off (PUT /v1/schedules/{id}/alerts {"enabled": false}).
CREATE TABLE schedule_alerts_off (
    schedule_id UUID PRIMARY KEY REFERENCES schedules (id) ON DELETE CASCADE,
    account_id  UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One incident: opened by the first bad event of a schedule, counting the bad runs that follow
-- (`failures`: failed, delivery_failed and missed runs), closed by its next succeeded run.
CREATE TABLE alerts (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- No foreign key: checking one would take a KEY SHARE lock on the schedules row in the transaction
    -- that ends a run, which the tickers' claim (FOR UPDATE SKIP LOCKED) would then skip. A schedule's
    -- deletion deletes its alerts (alerts_of_deleted_schedules below).
    schedule_id   UUID NOT NULL,
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_by     TEXT NOT NULL CHECK (opened_by IN ('failed', 'delivery_failed', 'missed', 'paused',
                                                     'channel_disabled', 'stale')),
    failures      INT NOT NULL DEFAULT 0,
    first_run_id  UUID,
    last_run_id   UUID,
    last_error    TEXT,
    opened_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at     TIMESTAMPTZ,
    closed_run_id UUID
);
-- At most one open incident per schedule: what the events upsert into.
CREATE UNIQUE INDEX alerts_open_idx ON alerts (schedule_id) WHERE status = 'open';
CREATE INDEX alerts_account_idx ON alerts (account_id, opened_at DESC);
CREATE INDEX alerts_schedule_idx ON alerts (schedule_id);

CREATE FUNCTION alerts_of_deleted_schedules() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public AS $$  -- a tenant deletes schedules, not alerts
BEGIN
    DELETE FROM alerts a USING gone g WHERE a.schedule_id = g.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER alerts_of_deleted_schedules AFTER DELETE ON schedules REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION alerts_of_deleted_schedules();

-- An incident's news, one row per event (`key` makes it once): opened, paused, channel_disabled,
-- recovered. Its ledger rows are made with it, from alert_settings; `done_at` once none is unfinished.
CREATE TABLE alert_messages (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    alert_id    UUID NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    account_id  UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    schedule_id UUID NOT NULL,  -- the alert's (no foreign key, as there)
    event       TEXT NOT NULL CHECK (event IN ('opened', 'paused', 'channel_disabled', 'recovered')),
    cause       TEXT NOT NULL,   -- what happened: failed, delivery_failed, missed, stale, paused, channel_disabled, succeeded
    key         TEXT NOT NULL,
    run_id      UUID,
    detail      TEXT,
    failures    INT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),  -- in order within one transaction too
    pushed_at   TIMESTAMPTZ,     -- when the ticker last pushed its job
    done_at     TIMESTAMPTZ,
    UNIQUE (alert_id, key)
);
CREATE INDEX alert_messages_undone_idx ON alert_messages (created_at) WHERE done_at IS NULL;

-- The ledger takes alert messages beside runs: a row belongs to one or the other. Alert rows wait for
-- a retry in `not_before`, and a row being sent holds a lease (`lease_expires_at`): past it, the
-- ticker treats the send as one whose sender died (UNKNOWN_OUTCOME).
ALTER TABLE deliveries ALTER COLUMN run_id DROP NOT NULL;
ALTER TABLE deliveries
    ADD COLUMN alert_message_id UUID REFERENCES alert_messages (id) ON DELETE CASCADE,
    ADD COLUMN not_before       TIMESTAMPTZ,
    ADD COLUMN lease_expires_at TIMESTAMPTZ,
    ADD CONSTRAINT deliveries_one_owner CHECK ((run_id IS NULL) <> (alert_message_id IS NULL));
CREATE UNIQUE INDEX deliveries_alert_target_idx ON deliveries (alert_message_id, channel, target)
    WHERE alert_message_id IS NOT NULL;
CREATE INDEX deliveries_alert_lease_idx ON deliveries (lease_expires_at)
    WHERE alert_message_id IS NOT NULL AND status = 'sending';

-- alert_event: what every trigger below calls. A bad event (failed, delivery_failed, missed, stale)
-- opens the schedule's incident, with an `opened` message, or counts into the open one (stale does
-- not count: it is found again and again); paused and channel_disabled add a message to the open
-- incident (opening one when there is none); succeeded closes the open incident with a `recovered`
-- message. Nothing for a schedule whose alerts are off, or an event its account does not want.
CREATE FUNCTION alert_event(p_schedule UUID, p_cause TEXT, p_run UUID, p_detail TEXT, p_key TEXT)
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_account UUID;
    v_alert   UUID;
    v_failures INT;
    v_opened  BOOLEAN := FALSE;
    v_event   TEXT;
    v_message UUID;
    v_wanted  TEXT[];
BEGIN
    IF p_cause = 'succeeded' THEN
        UPDATE alerts SET status = 'closed', closed_at = now(), closed_run_id = p_run, updated_at = now()
         WHERE schedule_id = p_schedule AND status = 'open'
        RETURNING id, account_id, failures INTO v_alert, v_account, v_failures;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        v_event := 'recovered';
    ELSE
        SELECT s.account_id INTO v_account FROM schedules s WHERE s.id = p_schedule;
        IF NOT FOUND OR EXISTS (SELECT 1 FROM schedule_alerts_off o WHERE o.schedule_id = p_schedule) THEN
            RETURN;
        END IF;
        SELECT COALESCE((SELECT a.events FROM alert_settings a WHERE a.account_id = v_account),
                        '{failed,delivery_failed,missed,paused,channel_disabled,stale}') INTO v_wanted;
        IF NOT p_cause = ANY (v_wanted) THEN
            RETURN;
        END IF;
        INSERT INTO alerts AS a (account_id, schedule_id, opened_by, failures, first_run_id, last_run_id, last_error)
        VALUES (v_account, p_schedule, p_cause,
                CASE WHEN p_cause IN ('failed', 'delivery_failed', 'missed') THEN 1 ELSE 0 END,
                p_run, p_run, p_detail)
        ON CONFLICT (schedule_id) WHERE status = 'open' DO UPDATE
           SET failures = a.failures + CASE WHEN p_cause IN ('failed', 'delivery_failed', 'missed') THEN 1 ELSE 0 END,
               last_run_id = COALESCE(p_run, a.last_run_id),
               last_error = CASE WHEN p_cause IN ('failed', 'delivery_failed', 'missed')
                                 THEN COALESCE(p_detail, a.last_error) ELSE a.last_error END,
               updated_at = now()
        RETURNING a.id, a.failures, (a.xmax = 0) INTO v_alert, v_failures, v_opened;
        IF v_opened THEN
            v_event := 'opened';
        ELSIF p_cause IN ('paused', 'channel_disabled') THEN
            v_event := p_cause;
        ELSE
            RETURN;  -- counted into the open incident: no message
        END IF;
    END IF;
    INSERT INTO alert_messages (alert_id, account_id, schedule_id, event, cause, key, run_id, detail, failures)
    VALUES (v_alert, v_account, p_schedule, v_event, p_cause,
            CASE WHEN v_event IN ('opened', 'recovered') THEN v_event ELSE v_event || ':' || p_key END,
            p_run, p_detail, v_failures)
    ON CONFLICT (alert_id, key) DO NOTHING
    RETURNING id INTO v_message;
    IF v_message IS NULL THEN
        RETURN;
    END IF;
    -- The message's ledger, made now from the account's destinations (unsubscribed addresses suppressed).
    INSERT INTO deliveries (alert_message_id, account_id, channel, target, message_id, status, not_before)
    SELECT v_message, v_account, t.channel, t.target,
           'alert-' || v_message || '-' || substr(md5(t.channel || ':' || lower(t.target)), 1, 12),
           CASE WHEN t.channel = 'email' AND EXISTS (
                    SELECT 1 FROM email_suppressions x
                     WHERE x.account_id = v_account AND lower(x.email) = lower(t.target))
                THEN 'suppressed' ELSE 'pending' END,
           now()
      FROM alert_settings st
     CROSS JOIN LATERAL (
            SELECT 'email' AS channel, e AS target FROM unnest(st.emails) AS e
             UNION
            SELECT c ->> 'type', c ->> 'url' FROM jsonb_array_elements(st.channels) AS c) AS t
     WHERE st.account_id = v_account
    ON CONFLICT DO NOTHING;
    UPDATE alert_messages SET done_at = now()
     WHERE id = v_message
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_message_id = v_message AND d.status = 'pending');
    PERFORM pg_notify('schedules_changed', '');  -- a ticker pushes its job at once
END;
$$;

-- A run's end (every path goes through one UPDATE of its status) and a run recorded missed.
CREATE FUNCTION alert_on_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM alert_event(NEW.schedule_id, NEW.status, NEW.id, NEW.error, NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER alert_run_ended AFTER UPDATE OF status ON schedule_runs
    FOR EACH ROW WHEN (OLD.status <> NEW.status AND NEW.status IN ('succeeded', 'failed', 'delivery_failed'))
    EXECUTE FUNCTION alert_on_run();
CREATE TRIGGER alert_run_missed AFTER INSERT ON schedule_runs
    FOR EACH ROW WHEN (NEW.status = 'missed') EXECUTE FUNCTION alert_on_run();

-- pause_after_failures paused the schedule.
CREATE FUNCTION alert_on_pause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM alert_event(NEW.id, 'paused', NULL, NEW.pause_note, NEW.paused_at::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER alert_schedule_paused AFTER UPDATE OF paused_at ON schedules
    FOR EACH ROW WHEN (NEW.paused_by = 'system' AND NEW.paused_at IS NOT NULL
                       AND OLD.paused_at IS DISTINCT FROM NEW.paused_at)
    EXECUTE FUNCTION alert_on_pause();

-- A receiver's 410 Gone disabled a channel.
CREATE FUNCTION alert_on_channel_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM alert_event(NEW.schedule_id, 'channel_disabled', NULL,
                        NEW.type || ' channel ' || NEW.id || ': ' || COALESCE(NEW.disabled_reason, 'disabled'),
                        NEW.id || '@' || NEW.disabled_at);
    RETURN NULL;
END;
$$;
CREATE TRIGGER alert_channel_disabled AFTER UPDATE OF disabled_at ON schedule_channels
    FOR EACH ROW WHEN (OLD.disabled_at IS NULL AND NEW.disabled_at IS NOT NULL)
    EXECUTE FUNCTION alert_on_channel_disabled();

ALTER TABLE alert_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_settings FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_settings TO app_tenant;
CREATE POLICY tenant_isolation ON alert_settings TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON alert_settings USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE schedule_alerts_off ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_alerts_off FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON schedule_alerts_off TO app_tenant;
CREATE POLICY tenant_isolation ON schedule_alerts_off TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON schedule_alerts_off USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts FORCE ROW LEVEL SECURITY;
GRANT SELECT ON alerts TO app_tenant;
CREATE POLICY tenant_isolation ON alerts TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON alerts USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE alert_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_messages FORCE ROW LEVEL SECURITY;
GRANT SELECT ON alert_messages TO app_tenant;
CREATE POLICY tenant_isolation ON alert_messages TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON alert_messages USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
