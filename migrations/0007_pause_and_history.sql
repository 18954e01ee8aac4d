-- 0007: control over when, part one: pausing and the change history. Until now a schedule was on or
-- off, with no word on why, and nobody could tell who changed what. This adds:
-- * a pause (a schedule that is paused is inactive and says who paused it, when, why, and until when;
--   the ticker resumes it at `paused_until`), and pause_after_failures (a schedule pauses itself
--   after that many failed runs in a row);
-- * a version per schedule, bumped by every recorded change, and the change history itself: one row
--   per create, edit, enable, disable, pause and resume, with who did it and each field's old and new
--   value; each run records the version of its schedule it ran under.

ALTER TABLE schedules
    ADD COLUMN paused_at            TIMESTAMPTZ,
    ADD COLUMN paused_until         TIMESTAMPTZ,
    ADD COLUMN paused_by            TEXT,
    ADD COLUMN pause_note           TEXT,
    ADD COLUMN pause_after_failures INT CHECK (pause_after_failures IS NULL OR pause_after_failures >= 1),
    ADD COLUMN version              INT NOT NULL DEFAULT 1;

-- Serves the ticker's auto-resume ("paused schedules whose paused_until has come") and its wake-up
-- query's "earliest paused_until". Partial: only schedules paused until a given instant are in it.
CREATE INDEX schedules_paused_until_idx ON schedules (paused_until) WHERE paused_until IS NOT NULL;

ALTER TABLE schedule_runs ADD COLUMN schedule_version INT;

CREATE TABLE schedule_changes (
    id          BIGSERIAL PRIMARY KEY,
    schedule_id UUID NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    account_id  UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The schedule's version after this change (create: 1). Unique, so two writers that both think
    -- they made version n cannot both commit.
    version     INT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'enable', 'disable', 'pause', 'resume')),
    -- Who: the API token's subject, `cli` for tokens the CLI minted, `ticker` (a pause that ended),
    -- `system` (pause_after_failures).
    actor       TEXT NOT NULL,
    -- {"field": {"old": ..., "new": ...}} for every field whose value changed.
    changes     JSONB NOT NULL DEFAULT '{}',
    note        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (schedule_id, version)
);

ALTER TABLE schedule_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_changes FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON schedule_changes TO app_tenant;
GRANT USAGE ON SEQUENCE schedule_changes_id_seq TO app_tenant;
CREATE POLICY tenant_isolation ON schedule_changes TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON schedule_changes USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
