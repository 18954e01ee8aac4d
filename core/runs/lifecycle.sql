-- A run's life (core/runs/lifecycle.py): every transition is a compare-and-set on the status and the
-- attempt, so two processes that both think they hold a run (a worker presumed dead that wakes up,
-- two tickers recovering the same run) never both move it: the loser sees no row.

-- take_run --
-- The worker takes the run for the attempt its job carries, in one statement: compare-and-set queued -> running with a lease it renews while it holds the run (a job delivered twice, or a stale job of an earlier attempt, finds no row); counted once against the account's monthly plan limit (`counted` false: the limit is reached); with everything the task and the delivery need of its schedule (active_channels: the channels not disabled, which a new ledger delivers to). The run's columns are named as in schedule_runs (core.runs.run.Run.from_row), the schedule's are the others.
WITH run AS (
    SELECT r.id, r.usage_counted, r.account_id, p.monthly_run_limit
      FROM schedule_runs r
      JOIN accounts a ON a.id = r.account_id
      JOIN plans p ON p.id = a.plan
     WHERE r.id = %(run_id)s
       AND r.status IN ('pending', 'queued')
       AND r.attempt = %(attempt)s - 1
       FOR UPDATE OF r
), slot AS (
    INSERT INTO account_usage AS u (account_id, month, runs)
    SELECT account_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 1 FROM run WHERE NOT usage_counted
    ON CONFLICT (account_id, month) DO UPDATE
       SET runs = u.runs + 1
     WHERE (SELECT monthly_run_limit FROM run) IS NULL OR u.runs < (SELECT monthly_run_limit FROM run)
    RETURNING runs
), started AS (
    UPDATE schedule_runs AS r
       SET status = 'running', attempt = %(attempt)s, started_at = now(), not_before = NULL, held = FALSE,
           lease_expires_at = now() + make_interval(secs => %(lease)s), worker = %(worker)s,
           usage_counted = run.usage_counted OR EXISTS (SELECT 1 FROM slot)
      FROM run
     WHERE r.id = run.id
    RETURNING r.id, r.schedule_id, r.attempt, r.trigger, r.scheduled_for, r.result, r.usage_counted,
              run.monthly_run_limit
)
SELECT r.id::text, r.schedule_id::text, r.attempt, r.trigger, r.scheduled_for, r.result,
       r.usage_counted AS counted, r.monthly_run_limit,
       s.account_id::text, s.name, s.task, s.task_parameters, s.report_type, s.city, s.zip_codes,
       s.lookback_days, s.filters, s.recipients, s.include_attachment, s.timezone, s.cadence, s.tags,
       s.deliver_when,
       (SELECT json_agg(json_build_object('type', c.type, 'url', c.url) ORDER BY c.position, c.created_at)
          FROM schedule_channels c
         WHERE c.schedule_id = s.id AND c.disabled_at IS NULL) AS active_channels
  FROM started r
  JOIN schedules s ON s.id = r.schedule_id;

-- run_status --
-- Where a run stands (to explain a skipped duplicate in the log).
SELECT status, attempt FROM schedule_runs WHERE id = %(run_id)s;

-- renew_leases --
-- The worker still holds these runs (each at its attempt): push their leases forward. Returns the runs still held; a run missing from the answer was taken from this worker.
UPDATE schedule_runs AS r
   SET lease_expires_at = now() + make_interval(secs => %(lease)s)
  FROM unnest(%(run_ids)s::uuid[], %(attempts)s::int[]) AS held (id, attempt)
 WHERE r.id = held.id AND r.attempt = held.attempt AND r.status = 'running'
RETURNING r.id::text;

-- retry_run --
-- This attempt failed, or left deliveries to retry, and another is allowed: the run waits in PostgreSQL until not_before, when the ticker pushes the next attempt.
UPDATE schedule_runs
   SET status = 'retrying', not_before = now() + make_interval(secs => %(delay)s), error = %(error)s,
       lease_expires_at = NULL, worker = NULL
 WHERE id = %(run_id)s AND status = 'running' AND attempt = %(attempt)s
RETURNING id;

-- finish_run --
-- A run's final status, set by the attempt that holds it: the status given (failed, skipped_limit, ...), or, when it is NULL, the one its delivery ledger gives once every target is final (succeeded when each was sent, suppressed or skipped, else delivery_failed, with an error naming the last failure; a ledger with a target still unfinished finishes nothing). In the same statement, what follows from it: the schedule's counters (when the run `counts` and is not a resend: executed runs count, and failures, failed and delivery_failed, count as failures; the content hash of a result sent to anyone becomes the last delivered one, for deliver_when changed; in schedule_stats, never on the schedules row the ticker claims with SKIP LOCKED, which is only read here), and the release of a buffered occurrence (overlap policy buffer_one) now that the schedule has no run in flight (this statement's snapshot still shows the run running, hence `o.id <> f.id`). Returns one row: `id` the run when it finished (NULL: it did not, or this attempt no longer holds it), its status, reached_pause_limit (pause_after_failures now applies), and the ledger's summary it was judged on. Served by schedule_runs_unfinished_idx.
WITH ledger AS (
    SELECT * FROM ledger_summary(%(run_id)s)
), finished AS (
    UPDATE schedule_runs AS r
       SET status = COALESCE(%(status)s::text, CASE WHEN l.failed > 0 THEN 'delivery_failed' ELSE 'succeeded' END),
           error = CASE WHEN %(status)s::text IS NOT NULL THEN %(error)s::text
                        WHEN l.failed > 0
                        THEN left(l.failed || ' of ' || l.total || ' deliveries failed; last: '
                                  || COALESCE(l.last_error, 'none recorded'), %(error_limit)s)
                   END,
           finished_at = now(), lease_expires_at = NULL, not_before = NULL,
           duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
      FROM ledger l
     WHERE r.id = %(run_id)s AND r.status = 'running' AND r.attempt = %(attempt)s
       AND (%(status)s::text IS NOT NULL OR l.unfinished = 0)
    RETURNING r.id, r.schedule_id, r.status, r.error, r.trigger, r.result_hash
), counted AS (
    UPDATE schedule_stats AS st
       SET delivered_hash = CASE WHEN l.sent > 0 AND f.result_hash IS NOT NULL THEN f.result_hash
                                 ELSE st.delivered_hash END,
           run_count = run_count + 1,
           success_count = success_count + CASE WHEN f.status = 'succeeded' THEN 1 ELSE 0 END,
           failure_count = failure_count + CASE WHEN f.status = 'succeeded' THEN 0 ELSE 1 END,
           consecutive_failures = CASE WHEN f.status = 'succeeded' THEN 0 ELSE consecutive_failures + 1 END,
           last_status = f.status, last_status_at = clock_timestamp(),
           last_error = f.error, last_error_at = clock_timestamp(), updated_at = now()
      FROM finished f, ledger l
     WHERE st.schedule_id = f.schedule_id AND %(counts)s AND f.trigger <> 'resend'
    RETURNING COALESCE(st.consecutive_failures >= (SELECT pause_after_failures FROM schedules s
                                                    WHERE s.id = f.schedule_id), FALSE) AS reached_pause_limit
), released AS (  -- a data-modifying WITH runs to completion though nothing reads it
    UPDATE schedule_runs AS b
       SET status = 'pending', not_before = now()
      FROM finished f
     WHERE b.status = 'buffered'
       AND b.schedule_id = f.schedule_id
       AND NOT EXISTS (SELECT 1 FROM schedule_runs o
                        WHERE o.schedule_id = f.schedule_id AND o.id <> f.id
                          AND run_in_flight(o.status) AND o.trigger <> 'resend')
    RETURNING b.id
)
SELECT f.id::text, f.status, f.error, COALESCE((SELECT reached_pause_limit FROM counted), FALSE) AS reached_pause_limit,
       l.total, l.sent, l.suppressed, l.failed, l.unfinished, l.pending_attempts, l.last_error
  FROM ledger l
  LEFT JOIN finished f ON TRUE;

-- note_skipped_limit --
-- The schedule's last run was skipped by the plan limit (counters count executed runs only).
UPDATE schedule_stats SET last_status = 'skipped_limit', last_status_at = clock_timestamp(), updated_at = now()
 WHERE schedule_id = %(schedule_id)s;

-- release_buffered_runs --
-- Buffered occurrences (overlap policy buffer_one) of every schedule that has no run in flight any more become pending, ready to push at once (the ticker's safety net). Served by schedule_runs_unfinished_idx.
UPDATE schedule_runs AS r
   SET status = 'pending', not_before = now()
 WHERE r.status = 'buffered'
   AND NOT EXISTS (SELECT 1 FROM schedule_runs f
                    WHERE f.schedule_id = r.schedule_id
                      AND run_in_flight(f.status) AND f.trigger <> 'resend')
RETURNING r.id::text;

-- claim_pushable_pending_runs --
-- Lock pending runs ready to push, oldest first: manual runs, released buffered and released held ones at once (not_before), runs the ticker recorded only after the grace (a ticker between its commit and its push owns them; older ones were left by a crash or a Redis outage). Held runs wait for a slot of their account. Served by schedule_runs_pending_idx.
SELECT id::text
  FROM schedule_runs
 WHERE status = 'pending' AND NOT held
   AND COALESCE(not_before, created_at + make_interval(secs => %(grace)s)) <= now()
 ORDER BY created_at
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED;

-- capped_accounts --
-- Which of these accounts have a plan with a cap on runs in flight (as text, as the batch carries them).
SELECT a.id::text
  FROM accounts a
  JOIN plans p ON p.id = a.plan
 WHERE a.id = ANY(%(account_ids)s::uuid[]) AND p.max_runs_in_flight IS NOT NULL;

-- hold_runs_over_the_cap --
-- Of a batch about to be pushed, hold (leave pending, not pushed) each account's runs beyond the free slots of its plan's cap on runs in flight (max_runs_in_flight minus its queued, running and other unheld pending runs), oldest kept first; all of them while the account has older runs held, which go first. Returns the runs held. The slots are worked out once per account (MATERIALIZED), from one count of the account's runs in flight less the batch's own. Served by schedule_runs_in_flight_idx and schedule_runs_held_idx.
WITH batch AS MATERIALIZED (
    SELECT r.id, r.account_id, row_number() OVER (PARTITION BY r.account_id ORDER BY r.created_at, r.id) AS nth
      FROM schedule_runs r
     WHERE r.id = ANY(%(run_ids)s::uuid[]) AND r.status = 'pending' AND NOT r.held
), free AS MATERIALIZED (
    SELECT b.account_id,
           CASE WHEN EXISTS (SELECT 1 FROM schedule_runs h
                              WHERE h.account_id = b.account_id AND h.status = 'pending' AND h.held) THEN 0
                ELSE p.max_runs_in_flight - ((SELECT count(*) FROM schedule_runs f
                                               WHERE f.account_id = b.account_id AND NOT f.held
                                                 AND run_takes_a_slot(f.status)) - b.in_batch)
           END AS slots
      FROM (SELECT account_id, count(*) AS in_batch FROM batch GROUP BY account_id) AS b
      JOIN accounts a ON a.id = b.account_id
      JOIN plans p ON p.id = a.plan
     WHERE p.max_runs_in_flight IS NOT NULL
)
UPDATE schedule_runs AS r
   SET held = TRUE
  FROM batch b JOIN free USING (account_id)
 WHERE r.id = b.id AND b.nth > free.slots
RETURNING r.id::text;

-- release_held_runs --
-- The safety net under the trigger release_held_run (0023): for each account with held runs, release its oldest ones into the slots its cap leaves free (a slot freed while a hold was being committed). Returns the runs released, which are then pushed like any pending run. Served by schedule_runs_held_idx and schedule_runs_in_flight_idx.
WITH accounts_holding AS (
    SELECT DISTINCT account_id FROM schedule_runs WHERE status = 'pending' AND held
), free AS (
    SELECT h.account_id,
           COALESCE(p.max_runs_in_flight, %(limit)s) - (SELECT count(*) FROM schedule_runs f
                                                        WHERE f.account_id = h.account_id AND NOT f.held
                                                          AND run_takes_a_slot(f.status)
                                                       ) AS slots
      FROM accounts_holding h
      JOIN accounts a ON a.id = h.account_id
      JOIN plans p ON p.id = a.plan
)
UPDATE schedule_runs AS r
   SET held = FALSE, not_before = now()
  FROM free, LATERAL (SELECT id FROM schedule_runs n
                       WHERE n.account_id = free.account_id AND n.status = 'pending' AND n.held
                       ORDER BY n.created_at
                       LIMIT GREATEST(LEAST(free.slots, %(limit)s), 0)
                         FOR UPDATE SKIP LOCKED) AS released
 WHERE r.id = released.id
RETURNING r.id::text;

-- claim_due_retries --
-- Lock runs whose retry is due, oldest first; `crashes` > 0: the run was in flight when a worker process died, and runs in quarantine. Served by schedule_runs_retry_idx.
SELECT id::text, attempt, crashes
  FROM schedule_runs
 WHERE status = 'retrying' AND not_before <= now()
 ORDER BY not_before
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED;

-- mark_retries_queued --
-- Compare-and-set retrying -> queued for runs whose next attempt's job is pushed once this transaction commits.
UPDATE schedule_runs AS r
   SET status = 'queued', queued_at = now(), job_id = j.job_id, not_before = NULL
  FROM unnest(%(run_ids)s::uuid[], %(job_ids)s::text[]) AS j (id, job_id)
 WHERE r.id = j.id AND r.status = 'retrying'
RETURNING r.id::text;

-- claim_expired_leases --
-- Lock running runs whose worker stopped renewing the lease (killed, lost, hung), oldest first. Served by schedule_runs_lease_idx.
SELECT id::text, schedule_id::text, account_id::text, attempt, worker, lease_expires_at,
       result IS NOT NULL AS has_result
  FROM schedule_runs
 WHERE status = 'running' AND lease_expires_at < now()
 ORDER BY lease_expires_at
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED;

-- claim_queued_to_check --
-- Lock queued runs queued longer than the grace, after a cursor (queued_at, id), to ask Redis whether their jobs still exist. Served by schedule_runs_queued_idx.
SELECT id::text, attempt, job_id, queued_at, crashes
  FROM schedule_runs
 WHERE status = 'queued'
   AND queued_at < now() - make_interval(secs => %(grace)s)
   AND (queued_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY queued_at, id
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED;

-- mark_requeued --
-- Jobs pushed again for queued runs whose job Redis lost: they count as queued from now.
UPDATE schedule_runs SET queued_at = now()
 WHERE id = ANY(%(run_ids)s::uuid[]) AND status = 'queued';

-- running_attempt --
-- The run, locked, while this attempt still holds it: to end an attempt that ran past its timeout (no row: it finished or moved on).
SELECT id::text, schedule_id::text, account_id::text, attempt, result IS NOT NULL AS has_result
  FROM schedule_runs
 WHERE id = %(run_id)s AND attempt = %(attempt)s AND status = 'running'
   FOR UPDATE;

-- mark_runs_queued --
-- Compare-and-set pending -> queued for runs whose jobs are being pushed in this transaction (the rows stay locked until it commits, and the worker's take waits for that) (job id: the prefix of core.runs.jobs.job_id_for, then the run id); a run the worker or another ticker already moved on is left alone. Returns the runs this call moved.
UPDATE schedule_runs
   SET status = 'queued', queued_at = now(), job_id = %(job_id_prefix)s || id::text
 WHERE id = ANY(%(run_ids)s::uuid[])
   AND status = 'pending'
RETURNING id::text;

-- unmark_unpushed --
-- A retry push that failed after its runs were marked queued and committed: the runs whose job it was go back to the status they came from (retrying, due now), unless a worker took one already (its job did reach Redis). The ticker pushes them again.
UPDATE schedule_runs
   SET status = %(back_to)s, not_before = CASE WHEN %(back_to)s = 'retrying' THEN now() ELSE not_before END
 WHERE id = ANY(%(run_ids)s::uuid[]) AND status = 'queued';

-- hand_back_runs --
-- The runs of a worker process that died or was stopped, handed back at once by its supervisor (worker/supervisor.py): one it was executing (running at the attempt its job carried) or had taken from Redis without starting it yet (queued, at the attempt before) goes back to `retrying`, due now, at the attempt before, so that its next attempt is the one that was lost and none is counted against it. With %(suspect)s (the process died: any of its runs may have killed it) `crashes` counts the death. Returns the runs handed back with their crashes since.
UPDATE schedule_runs AS r
   SET status = 'retrying', not_before = now(), attempt = h.attempt - 1, lease_expires_at = NULL, worker = NULL,
       crashes = r.crashes + CASE WHEN %(suspect)s THEN 1 ELSE 0 END, error = %(error)s
  FROM unnest(%(run_ids)s::uuid[], %(attempts)s::int[]) AS h (id, attempt)
 WHERE r.id = h.id
   AND ((r.status = 'running' AND r.attempt = h.attempt) OR (r.status = 'queued' AND r.attempt = h.attempt - 1))
RETURNING r.id::text, r.schedule_id::text, h.attempt, r.crashes;

-- crashed_running_attempt --
-- A run a dead process was executing, locked, with how many process deaths it was in flight for before this one (to tell the run that kills its process from its neighbours).
SELECT id::text, schedule_id::text, attempt, crashes
  FROM schedule_runs
 WHERE id = %(run_id)s AND attempt = %(attempt)s AND status = 'running'
   FOR UPDATE;

-- wake_tickers --
-- Runs were handed back (due now): the tickers wake and push them, as for a schedule change.
SELECT pg_notify('schedules_changed', '');
