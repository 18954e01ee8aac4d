"""The ticker's loop: dispatch everything due, heartbeat, sleep until the next run or a NOTIFY.

`tick()` is one unit of work (re-push runs left pending, then drain the due schedules batch by
batch) and returns whether it found any; `run()` only ticks, does the chores that are due (the
hourly health check, a retention pass every few minutes) and sleeps, and turns every outage into
one log line and a capped back-off, never a crash. Every tick feeds the ticker's metrics
(core.metrics.TickerMetrics, served on METRICS_PORT by __main__). The domain (SQL, what a row
becomes) is core.dispatch; this module owns the connections, the clock, the signals' effect and the
log.
"""
from __future__ import annotations

import logging
import os
import select
import socket
import time
import uuid
from concurrent import futures
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import psycopg2
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import db, dispatch, health
from core.jobs import job_id_for
from core.maintenance import Pruned, RetentionSweep
from core.metrics import TickerMetrics

logger = logging.getLogger("ticker")

# Waits between attempts while PostgreSQL or Redis is unreachable.
RETRY_DELAYS = (1, 2, 4, 8, 16, 30)
HEARTBEAT_EVERY_SECONDS = 1.0
# A ticker counts as alive while its heartbeat is younger than this many TICK_INTERVALs (an idle
# ticker beats once an interval; one killed without cleaning up counts a little longer).
LIVE_TICKER_INTERVALS = 2
# A heartbeat this old belongs to a ticker that died without cleaning up.
HEARTBEAT_PRUNE_SECONDS = 24 * 3600
# Batches in flight at once (see Ticker.dispatch_due): two keep both of a small machine's cores busy,
# more only add connections. A ticker that sees other tickers alive runs one lane: together they
# keep enough batches in flight, and each extra lane would only make them skip each other's locked
# rows (measured at N=100,000 with 4 tickers: 4% more runs/s with one lane each than with two).
LANES = 2
# When something is due but nothing could be claimed (another ticker holds it), look again soon.
BUSY_RETRY_SECONDS = 0.05
LISTEN_CHANNEL = "schedules_changed"
# The chores between ticks: the health check logs each problem schedule at most this often (per
# ticker), retention deletes a few batches of old rows at most this often.
HEALTH_CHECK_EVERY_SECONDS = 3600
HEALTH_LOG_LIMIT = 100
RETENTION_EVERY_SECONDS = 300


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class TickFigures:
    """What one tick did: logged as its summary line and stored in the heartbeat."""

    due: int = 0
    dispatched: int = 0
    missed: int = 0
    errors: int = 0
    repushed: int = 0
    worst_lag_seconds: float = 0.0
    duration_ms: int = 0

    @property
    def did_work(self) -> bool:
        return bool(self.due or self.repushed)

    def add(self, other: TickFigures) -> None:
        self.due += other.due
        self.dispatched += other.dispatched
        self.missed += other.missed
        self.errors += other.errors
        self.repushed += other.repushed
        self.worst_lag_seconds = max(self.worst_lag_seconds, other.worst_lag_seconds)


@dataclass
class _Lane:
    """One connection's share of a tick: what it did, where it is, how it failed."""

    conn: object
    figures: TickFigures = field(default_factory=TickFigures)
    stage: str = "query due schedules"
    error: Exception | None = None


class Ticker:
    """One ticker process's state: its connections, its clock, its heartbeat identity.

    `clock` is injected (tests pass a fixed instant). `repush_grace` is how old a pending run must be
    before this ticker takes it for a re-push (younger ones belong to a ticker between its commit and
    its push).
    """

    def __init__(self, settings, *, clock=_utcnow, heartbeat: bool = True,
                 repush_grace: float = dispatch.REPUSH_GRACE_SECONDS, application_name: str = "ticker"):
        self.settings = settings
        self.clock = clock
        self.batch_size = settings.tick_batch_size
        self.interval = settings.tick_interval
        self.repush_grace = repush_grace
        self.heartbeat_enabled = heartbeat
        self.application_name = application_name
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.started_at = _utcnow()
        self.last_tick = TickFigures()
        self.live_tickers = 1  # this one and the others whose heartbeat is recent, as of the last beat
        self.metrics = TickerMetrics()
        self.retention = RetentionSweep()
        self._next_health_check = 0.0  # monotonic instants; 0: after the first tick
        self._next_retention = 0.0
        self._lane_conns = []      # one per lane; the first also re-pushes, heartbeats, computes wake-ups
        self._listen_conn = None   # LISTEN only, autocommit
        self._own_pids = set()     # our connections' backend pids, to ignore our own NOTIFYs
        self._redis = None
        self._redis_suspect = False
        self._stage = "connect to PostgreSQL"
        self._last_heartbeat = 0.0
        self._stop = False
        self._helpers = futures.ThreadPoolExecutor(max_workers=LANES - 1, thread_name_prefix="ticker-lane")
        self._halt = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # ------------------------------------------------------------------ connections

    def _connect(self) -> None:
        if len(self._lane_conns) < LANES or any(conn.closed for conn in self._lane_conns):
            self._stage = "connect to PostgreSQL"
            self._close_lanes()
            for _ in range(LANES):
                conn = db.connect(self.settings.database_url, application_name=self.application_name)
                self._lane_conns.append(conn)
                self._own_pids.add(conn.get_backend_pid())
        if self._redis is None:
            # No client-side retries: a push that ran but whose reply was lost must not be sent again
            # (its queue entries would be doubled). A failed push leaves its runs pending; the
            # re-push, which skips jobs already in Redis, is the retry.
            self._redis = redis.Redis.from_url(
                self.settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                retry=Retry(NoBackoff(), 0))

    def _listen(self) -> None:
        if self._listen_conn is None or self._listen_conn.closed:
            self._stage = "connect to PostgreSQL"
            conn = db.connect(self.settings.database_url, application_name=f"{self.application_name}-listen",
                              autocommit=True)
            self._stage = "listen for schedule changes"
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {LISTEN_CHANNEL}")
            self._listen_conn = conn

    def _drop_connections(self, exc: BaseException) -> None:
        """After a failure: forget whatever may be broken, so the next attempt starts clean."""
        if isinstance(exc, redis.RedisError):
            self._redis_suspect = True
            if self._redis is not None:
                self._redis.connection_pool.disconnect()
        else:  # PostgreSQL, or something unforeseen: reconnect rather than trust a connection's state
            self._close_lanes()
            if self._listen_conn is not None:
                self._listen_conn.close()
            self._listen_conn = None

    def _close_lanes(self) -> None:
        for conn in self._lane_conns:
            conn.close()
        self._lane_conns = []
        self._own_pids = set()

    @property
    def _conn(self):
        return self._lane_conns[0] if self._lane_conns else None

    def close(self) -> None:
        """Release connections and the helper thread; the ticker is not used afterwards."""
        self._close_lanes()
        if self._listen_conn is not None:
            self._listen_conn.close()
        self._listen_conn = None
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        self._helpers.shutdown(wait=True)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass  # closed already

    # ------------------------------------------------------------------ units of work

    def tick(self) -> bool:
        """Re-push stale pending runs, dispatch every due schedule; returns whether there was work."""
        started = time.monotonic()
        figures = TickFigures()
        logger.debug("Tick: Checking for due schedules...")
        self._connect()
        if self.heartbeat_enabled:
            self.beat()  # also learns how many tickers run, before choosing how many lanes to dispatch on
        if self._redis_suspect:
            self._stage = "reach Redis"
            self._redis.ping()  # after a Redis failure, record no new run until Redis answers
            self._redis_suspect = False
        while self.repush_batch(figures) == self.batch_size and not self._stop:
            pass
        self.dispatch_due(figures)  # the stop request is honoured between batches
        if not figures.due:
            logger.debug("No due schedules found")
        elapsed = time.monotonic() - started
        figures.duration_ms = round(elapsed * 1000)
        self.last_tick = figures
        self.metrics.tick_duration.observe(elapsed)
        self.metrics.last_tick.set_to_current_time()
        if figures.did_work:
            logger.info(
                "Tick: dispatched %d, missed %d, failed %d, re-pushed %d in %d ms (worst lag %.1fs)",
                figures.dispatched, figures.missed, figures.errors, figures.repushed,
                figures.duration_ms, figures.worst_lag_seconds)
        if self.heartbeat_enabled:
            self.beat(force=figures.did_work)  # a tick that worked always leaves its figures
        return figures.did_work

    def dispatch_due(self, figures: TickFigures) -> None:
        """Dispatch every due schedule, in batches, on up to LANES connections at once.

        Each lane claims, records, commits, then queues and logs whole batches, one after another, on
        its own connection (core.dispatch's exactly-once argument is per batch and does not care
        which lane runs it; SKIP LOCKED keeps lanes off each other's rows). Lane 0 runs here, the
        others in helper threads: while one waits on PostgreSQL or Redis, another runs its Python.
        The helpers start only once lane 0's first batch came back full: most ticks find less than
        a batch (or nothing) and need no second lane. A lane that fails makes the others stop after
        their batch in hand; its error is raised.
        """
        lanes = [_Lane(conn) for conn in self._lane_conns[:self.lanes_in_use]]
        self._halt = False
        helpers = []
        try:
            if self._dispatch_next(lanes[0]):
                helpers = [self._helpers.submit(self._drain, lane) for lane in lanes[1:]]
                self._drain(lanes[0])
        finally:
            futures.wait(helpers)  # their connections may be closed next: let them finish first
            for lane in lanes:
                figures.add(lane.figures)
        for lane in lanes:
            if lane.error is not None:
                self._stage = lane.stage
                raise lane.error

    @property
    def lanes_in_use(self) -> int:
        """LANES while this ticker runs alone, one while others run too (see LANES)."""
        return LANES if self.live_tickers <= 1 else 1

    def _drain(self, lane: _Lane) -> None:
        while self._dispatch_next(lane):
            pass

    def _dispatch_next(self, lane: _Lane) -> bool:
        """One batch on `lane`; whether there may be more behind it (it was full: rows without
        next_run_at come on top) and no stop was asked for and no lane failed."""
        if self._stop or self._halt:
            return False
        try:
            return self.dispatch_batch(lane) >= self.batch_size
        except Exception as exc:
            lane.error = exc
            self._halt = True
            return False

    def dispatch_batch(self, lane: _Lane) -> int:
        """Claim, record and commit one batch of due schedules, then queue it; returns how many it claimed."""
        figures = lane.figures
        metrics = self.metrics
        now = self.clock()
        with db.service_transaction(lane.conn) as cur:
            lane.stage = "query due schedules"
            rows = dispatch.claim_due(cur, now, self.batch_size)
            if not rows:
                return 0
            batch = dispatch.plan_batch(rows, now)
            lane.stage = "record runs"
            dispatch.record_batch(cur, batch)
        logger.info("Found %d due schedule(s)", batch.claimed)
        figures.due += batch.claimed
        # The rows are pushed forward and committed; only now is each failure reported.
        for o in batch.outcomes:
            if o.kind == "failed":
                figures.errors += 1
                metrics.dispatch_errors.inc()
                logger.error("Failed to process schedule %s: %s (retrying at %s)", o.schedule_id, o.error,
                             o.next_run_at.isoformat(), extra={"schedule_id": o.schedule_id})
            elif o.kind == "missed":
                figures.missed += 1
                metrics.runs.labels("missed").inc()
                logger.warning("Missed schedule '%s': run_id=%s, scheduled_for=%s is %.0fs late "
                               "(misfire grace %ss), next_run_at=%s", o.name, o.run_id,
                               o.scheduled_for.isoformat(), o.late_seconds, o.grace_seconds,
                               _instant(o.next_run_at),
                               extra={"schedule_id": o.schedule_id, "run_id": o.run_id})
            elif o.kind == "computed":
                logger.info("Scheduled '%s' (%s) without a run: next_run_at=%s", o.name, o.schedule_id,
                            _instant(o.next_run_at), extra={"schedule_id": o.schedule_id})
        for o in batch.duplicates:
            logger.warning("Schedule %s already has a run for %s; no second run recorded",
                           o.schedule_id, o.scheduled_for.isoformat(), extra={"schedule_id": o.schedule_id})

        lane.stage = "push jobs to Redis"
        queued = set(dispatch.queue_runs(lane.conn, self._redis, self.settings.queue_name, batch.to_push,
                                         job_timeout=self.settings.job_timeout))
        pushed_at = self.clock()
        dispatched = figures.dispatched
        for o in batch.outcomes:
            if o.kind == "run" and o.run_id in queued:  # else a re-push got to it first and counted it
                figures.dispatched += 1
                lag = (pushed_at - o.scheduled_for).total_seconds()
                figures.worst_lag_seconds = max(figures.worst_lag_seconds, lag)
                metrics.dispatch_lag.observe(max(lag, 0.0))
                logger.info("Processed schedule '%s': run_id=%s, task_id=%s, next_run_at=%s",
                            o.name, o.run_id, o.job_id, _instant(o.next_run_at),
                            extra={"schedule_id": o.schedule_id, "run_id": o.run_id, "job_id": o.job_id})
        metrics.runs.labels("dispatched").inc(figures.dispatched - dispatched)
        return batch.claimed

    def repush_batch(self, figures: TickFigures) -> int:
        """Push the jobs of one batch of runs left pending; returns how many."""
        self._stage = "re-push pending runs"
        run_ids = dispatch.repush_pending(self._conn, self._redis, self.settings.queue_name,
                                          job_timeout=self.settings.job_timeout, limit=self.batch_size,
                                          grace=self.repush_grace)
        if run_ids:
            figures.repushed += len(run_ids)
            self.metrics.runs.labels("repushed").inc(len(run_ids))
            logger.info("Re-pushed %d run(s) left pending", len(run_ids))
            if logger.isEnabledFor(logging.DEBUG):
                for run_id in run_ids:
                    logger.debug("Re-pushed run %s", run_id, extra={"run_id": run_id, "job_id": job_id_for(run_id)})
        return len(run_ids)

    def beat(self, force: bool = False) -> None:
        """Upsert this ticker's heartbeat, at most about once a second."""
        if not force and time.monotonic() - self._last_heartbeat < HEARTBEAT_EVERY_SECONDS:
            return
        self._stage = "write heartbeat"
        lanes = self.lanes_in_use
        self.live_tickers = dispatch.write_heartbeat(
            self._conn, instance_id=self.instance_id, hostname=socket.gethostname(), pid=os.getpid(),
            started_at=self.started_at, last_tick=asdict(self.last_tick),
            live_within=LIVE_TICKER_INTERVALS * self.interval + HEARTBEAT_EVERY_SECONDS)
        self._last_heartbeat = time.monotonic()
        if self.lanes_in_use != lanes:
            logger.info("%d ticker(s) running: dispatching %d batch(es) at a time", self.live_tickers,
                        self.lanes_in_use)

    def check_health(self) -> list[dict]:
        """Log one WARNING per problem schedule (seed 003's health rules, core/health.py); returns them.

        At most HEALTH_LOG_LIMIT lines, then one saying how many more there are.
        """
        self._connect()
        self._stage = "check schedule health"
        with db.service_transaction(self._conn) as cur:
            issues = health.issues(cur, self.clock(), limit=HEALTH_LOG_LIMIT)
        for issue in issues:
            logger.warning("Schedule %s ('%s') is %s: %s", issue["schedule_id"], issue["name"],
                           health.state_words(issue["kind"]), issue["detail"],
                           extra={"schedule_id": issue["schedule_id"], "account_id": issue["account_id"]})
        if issues and issues[0]["total_issues"] > len(issues):
            logger.warning("... and %d more schedule health issue(s): GET /v1/schedules/health lists an "
                           "account's, the schedules_health_issues gauge counts them",
                           issues[0]["total_issues"] - len(issues))
        return issues

    def prune_history(self) -> Pruned:
        """One retention pass (core/maintenance.py): runs and email_log rows past RUN_RETENTION_DAYS."""
        self._connect()
        self._stage = "delete old runs"
        days = self.settings.run_retention_days
        pruned = self.retention.run_pass(self._conn, self.clock(), days)
        self.metrics.retention_deleted.labels("schedule_runs").inc(pruned.runs)
        self.metrics.retention_deleted.labels("email_log").inc(pruned.emails)
        if pruned.runs or pruned.emails:
            logger.info("Retention: deleted %d run(s) and %d email log row(s) older than %d days",
                        pruned.runs, pruned.emails, days)
        return pruned

    def chores(self) -> None:
        """Between ticks: the health check (hourly) and a retention pass (every few minutes), when due.

        Neither may stop dispatch: a failure is logged and the chore waits for its next turn.
        """
        now = time.monotonic()
        if now >= self._next_health_check and not self._stop:
            self._next_health_check = now + HEALTH_CHECK_EVERY_SECONDS
            self._chore(self.check_health, HEALTH_CHECK_EVERY_SECONDS)
        if now >= self._next_retention and not self._stop:
            self._next_retention = now + RETENTION_EVERY_SECONDS
            self._chore(self.prune_history, RETENTION_EVERY_SECONDS)

    def _chore(self, chore, period: int) -> None:
        try:
            chore()
        except Exception as exc:
            logger.error("Failed to %s: %s (next attempt in %ds)", self._stage, _describe(exc), period,
                         exc_info=not isinstance(exc, psycopg2.Error))

    # ------------------------------------------------------------------ the loop

    def request_stop(self) -> None:
        """Ask the loop to stop after the batch in hand (safe to call from a signal handler)."""
        self._stop = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # the pipe is full: a wake-up is pending already

    def run_once(self) -> int:
        """One tick, for `python -m ticker --once`: 0 on success, 1 when PostgreSQL or Redis failed."""
        try:
            self.tick()
            return 0
        except Exception as exc:
            logger.error("Failed to %s: %s", self._stage, _describe(exc))
            return 1
        finally:
            self.close()

    def run(self) -> None:
        logger.info("Schedules ticker started (interval: %ss)", f"{self.interval:g}")
        logger.debug("Ticker %s: batch size %d, queue %s", self.instance_id, self.batch_size,
                     self.settings.queue_name)
        failures = 0
        pruned = False
        try:
            while not self._stop:
                try:
                    self._listen()  # before the tick, so no change made during it goes unheard
                    did_work = self.tick()
                    if not pruned and self.heartbeat_enabled:
                        dispatch.prune_heartbeats(self._conn, HEARTBEAT_PRUNE_SECONDS)
                        pruned = True
                    self.chores()
                    if failures:
                        logger.info("Recovered after %d failed attempt(s)", failures)
                        failures = 0
                    if not self._stop:
                        self._stage = "compute the next wake-up"
                        self._wait(self._sleep_seconds(did_work), listen=True)
                except Exception as exc:
                    delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                    failures += 1
                    self.metrics.tick_failures.inc()
                    logger.error("Failed to %s: %s (retrying in %ss)", self._stage,
                                 _describe(exc), delay,
                                 exc_info=not isinstance(exc, (psycopg2.Error, redis.RedisError)))
                    self._drop_connections(exc)
                    self._wait(delay, listen=False)
        finally:
            self._shutdown()

    def _sleep_seconds(self, did_work: bool) -> float:
        """Until the earliest next run (at most the interval), or at once after a tick that worked."""
        wake_at = dispatch.next_wake_at(self._conn, self.repush_grace)
        if wake_at is None:
            return self.interval
        seconds = min((wake_at - self.clock()).total_seconds(), self.interval)
        if seconds <= 0:
            return 0.0 if did_work else BUSY_RETRY_SECONDS
        return seconds + 0.001  # wake just after, so `next_run_at <= now` holds

    def _wait(self, seconds: float, *, listen: bool) -> None:
        """Sleep up to `seconds`; a stop request, or (when listening) another's NOTIFY, cuts it short."""
        deadline = time.monotonic() + seconds
        while not self._stop:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            waiting_on = [self._wake_r]
            if listen and self._listen_conn is not None:
                waiting_on.append(self._listen_conn)
            ready, _, _ = select.select(waiting_on, [], [], remaining)
            if self._wake_r in ready:
                try:
                    os.read(self._wake_r, 512)
                except BlockingIOError:
                    pass
            if listen and self._listen_conn is not None and self._listen_conn in ready:
                self._stage = "listen for schedule changes"
                self._listen_conn.poll()
                notes, self._listen_conn.notifies[:] = list(self._listen_conn.notifies), []
                # Our own batches notify too; only someone else's change is news.
                if any(note.pid not in self._own_pids for note in notes):
                    return

    def _shutdown(self) -> None:
        if self.heartbeat_enabled and self._conn is not None and not self._conn.closed:
            try:
                dispatch.delete_heartbeat(self._conn, self.instance_id)
            except Exception as exc:
                logger.warning("Could not remove the heartbeat: %s", dispatch.describe_error(exc))
        self.close()
        logger.info("Schedules ticker stopped")


def _describe(exc: BaseException) -> str:
    """The error as one line, naming the cause rather than its echo: a query on a connection the
    server killed fails with OperationalError, then the rollback with "connection already closed"."""
    while isinstance(exc, psycopg2.InterfaceError) and isinstance(exc.__context__, psycopg2.Error):
        exc = exc.__context__
    return dispatch.describe_error(exc)


def _instant(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "None (no further run: schedule deactivated)"
