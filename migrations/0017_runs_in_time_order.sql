-- 0017: runs in the order they were due. The runs of a backfill share one created_at and got random
-- ids, so a schedule's run history (ordered by created_at, then id) listed them scrambled (21:32,
-- 21:34, 21:30, 21:26 ...). Now:
-- * a schedule's runs are listed by when they were due (scheduled_for; a run without one, inserted
--   by hand, by when it was made), then by id: the index below serves that order;
-- * run ids are time-ordered, UUID version 7 (the first 48 bits are the Unix time in milliseconds,
--   the rest random), so ids sort in the order runs were made; a backfill's runs take their
--   occurrence as their id's time (core/schedule/backfill.sql), so their ids sort as they were due.
-- Numbered 0017: 0015 and 0016 are taken by work in progress beside this one.

-- A UUID version 7 for the instant `at` (RFC 9562, section 5.7): gen_random_uuid()'s random bits
-- with the first 6 bytes replaced by the milliseconds since the epoch, and the version nibble 4
-- turned into 7 (bits 52 and 53 set). PostgreSQL 18 has uuidv7(); the service runs on 15 and 16 too.
CREATE FUNCTION uuid_v7(at TIMESTAMPTZ DEFAULT clock_timestamp()) RETURNS UUID
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

ALTER TABLE schedule_runs ALTER COLUMN id SET DEFAULT uuid_v7();

-- Serves GET /v1/schedules/{id}/runs and the console's run history: newest due first, id as the
-- tie-breaker and the cursor's second half.
CREATE INDEX schedule_runs_schedule_due_idx
    ON schedule_runs (schedule_id, (COALESCE(scheduled_for, created_at)) DESC, id DESC);
