"""The ticker's loop: drain the units of work, do the chores that are due, sleep until the next run,
retry, lease expiry or NOTIFY.

`tick()` drains the recovery units (ticker/recovery.py: lost workers, buffered, pending, retries,
lost jobs) and then every due schedule (ticker/lanes.py), and returns whether it found any work;
`run()` only ticks, runs the chores (ticker/chores.py) and sleeps, and turns every outage into one
log line and a capped back-off, never a crash. The units label their own errors
(ticker/report.py's `stage`). This module owns the connections, the clock, the heartbeat and the
signals' effect; the domain (SQL, what a row becomes) is core.runs.dispatch and core.runs.lifecycle.
"""
from __future__ import annotations

import logging
import os
import select
import socket
import time
import uuid
from dataclasses import asdict
from datetime import datetime, timezone

import psycopg2
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import model
from core.engine import tzdb
from core.ops import db
from core.runs import dispatch, lifecycle
from ticker.alerts import AlertUnits
from ticker.chores import Chores
from ticker.lanes import LANES, Dispatcher
from ticker.metrics import TickerMetrics
from ticker.recovery import Recovery
from ticker.report import TickFigures, describe, stage, stage_of

logger = logging.getLogger("ticker")

# Waits between attempts while PostgreSQL or Redis is unreachable.
RETRY_DELAYS = (1, 2, 4, 8, 16, 30)
HEARTBEAT_EVERY_SECONDS = 1.0
# A heartbeat this old belongs to a ticker that died without cleaning up.
HEARTBEAT_PRUNE_SECONDS = 24 * 3600
# When something is due but nothing could be claimed (another ticker holds it), look again soon.
BUSY_RETRY_SECONDS = 0.05
# While it sleeps, the ticker looks this often whether work came due that it could not know of when it
# went to sleep: a lease that a worker took since and that ran out, a retry or a hand-back, Redis
# emptied. Each look is one indexed query and one Redis EXISTS.
WATCH_EVERY_SECONDS = 2.0


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Ticker:
    """One ticker process's state: its connections, its clock, its heartbeat identity.

    `clock` is injected (tests pass a fixed instant). `repush_grace` is how old a pending run must be
    before this ticker takes it for a re-push (younger ones belong to a ticker between its commit and
    its push).
    """

    def __init__(self, settings, *, clock=_utcnow, heartbeat: bool = True,
                 repush_grace: float = lifecycle.REPUSH_GRACE_SECONDS, application_name: str = "ticker"):
        self.settings = settings
        self.clock = clock
        self.interval = settings.tick_interval
        self.repush_grace = repush_grace
        self.heartbeat_enabled = heartbeat
        self.application_name = application_name
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.started_at = _utcnow()
        self.last_tick = TickFigures()
        self.live_tickers = 1  # this one and the others whose heartbeat is recent, as of the last beat
        self.metrics = TickerMetrics()
        self.dispatcher = Dispatcher(settings, self.metrics, clock, lambda: self._stop)
        self.recovery = Recovery(settings, self.metrics, repush_grace=repush_grace, instance_id=self.instance_id,
                                 clock=clock)
        self.housekeeping = Chores(settings, self.metrics, clock)
        self.alerts = AlertUnits(settings, clock)
        self._lane_conns = []      # one per lane; the first also recovers, heartbeats, computes wake-ups
        self._listen_conn = None   # LISTEN only, autocommit
        self._own_pids = set()     # our connections' backend pids, to ignore our own NOTIFYs
        self._redis = None
        self._redis_suspect = False
        self._last_heartbeat = 0.0
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # ------------------------------------------------------------------ connections

    def _connect(self) -> None:
        with stage("connect to PostgreSQL"):
            if len(self._lane_conns) < LANES or any(conn.closed for conn in self._lane_conns):
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
            with stage("connect to PostgreSQL"):
                conn = db.connect(self.settings.database_url, application_name=f"{self.application_name}-listen",
                                  autocommit=True)
            with stage("listen for schedule changes"):
                db.listen_for_schedule_changes(conn)
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
        self.dispatcher.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass  # closed already

    # ------------------------------------------------------------------ one tick

    def tick(self) -> bool:
        """Drain the recovery units, dispatch every due schedule, then push alert messages (ticker/alerts.py);
        returns whether there was work."""
        started = time.monotonic()
        figures = TickFigures()
        logger.debug("Tick: Checking for due schedules...")
        self._connect()
        if self.heartbeat_enabled:
            self.beat()  # also learns how many tickers run, before choosing how many lanes to dispatch on
        if self._redis_suspect:
            with stage("reach Redis"):
                self._redis.ping()  # after a Redis failure, record no new run until Redis answers
            self._redis_suspect = False
        should_stop = lambda: self._stop  # noqa: E731
        self.recovery.run_all(self._conn, self._redis, figures, should_stop)
        self.dispatcher.dispatch_due(self._lane_conns[:self.lanes_in_use], self._redis, figures)
        # After dispatch: the alerts of the runs it recorded missed are pushed in the same tick.
        self.alerts.run_all(self._conn, self._redis, should_stop)
        if not figures.due:
            logger.debug("No due schedules found")
        elapsed = time.monotonic() - started
        figures.duration_ms = round(elapsed * 1000)
        self.last_tick = figures
        self.metrics.tick_duration.observe(elapsed)
        self.metrics.last_tick.set_to_current_time()
        if figures.did_work:
            logger.info("%s", figures.summary())
        if self.heartbeat_enabled:
            self.beat(force=figures.did_work)  # a tick that worked always leaves its figures
        return figures.did_work

    @property
    def lanes_in_use(self) -> int:
        """LANES while this ticker runs alone, one while others run too (see ticker/lanes.py)."""
        return LANES if self.live_tickers <= 1 else 1

    def beat(self, force: bool = False) -> None:
        """Upsert this ticker's heartbeat, at most about once a second."""
        if not force and time.monotonic() - self._last_heartbeat < HEARTBEAT_EVERY_SECONDS:
            return
        lanes = self.lanes_in_use
        with stage("write heartbeat"):
            self.live_tickers = dispatch.write_heartbeat(
                self._conn, instance_id=self.instance_id, hostname=socket.gethostname(), pid=os.getpid(),
                started_at=self.started_at, last_tick=asdict(self.last_tick),
                # The rule /readyz judges a ticker by: one killed without cleaning up counts a little longer.
                live_within=model.ticker_alive_within(self.interval))
        self._last_heartbeat = time.monotonic()
        if self.lanes_in_use != lanes:
            logger.info("%d ticker(s) running: dispatching %d batch(es) at a time", self.live_tickers,
                        self.lanes_in_use)

    def chores(self) -> None:
        """Between ticks: the health check (hourly) and a retention pass (every few minutes), when due."""
        self._connect()
        self.housekeeping.run_due(self._conn, lambda: self._stop)

    def check_health(self) -> list[dict]:
        self._connect()
        return self.housekeeping.check_health(self._conn)

    def prune_history(self):
        self._connect()
        return self.housekeeping.prune_history(self._conn)

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
            logger.error("Failed to %s: %s", stage_of(exc), describe(exc))
            return 1
        finally:
            self.close()

    def run(self) -> None:
        logger.info("Schedules ticker started (interval: %ss, tz database %s)", f"{self.interval:g}", tzdb.in_use())
        logger.debug("Ticker %s: batch size %d, queue %s", self.instance_id, self.settings.tick_batch_size,
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
                        with stage("compute the next wake-up"):
                            sleep = self._sleep_seconds(did_work)
                        self._wait(sleep, listen=True)
                except Exception as exc:
                    delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                    failures += 1
                    self.metrics.tick_failures.inc()
                    logger.error("Failed to %s: %s (retrying in %ss)", stage_of(exc), describe(exc), delay,
                                 exc_info=not isinstance(exc, (psycopg2.Error, redis.RedisError)))
                    self._drop_connections(exc)
                    self._wait(delay, listen=False)
        finally:
            self._shutdown()

    def _sleep_seconds(self, did_work: bool) -> float:
        """Until the earliest next run, retry or lease expiry (at most the interval), or at once
        after a tick that worked."""
        wake_at = dispatch.next_wake_at(self._conn, self.repush_grace)
        if wake_at is None:
            return self.interval
        seconds = min((wake_at - self.clock()).total_seconds(), self.interval)
        if seconds <= 0:
            return 0.0 if did_work else BUSY_RETRY_SECONDS
        return seconds + 0.001  # wake just after, so `next_run_at <= now` holds

    def _wait(self, seconds: float, *, listen: bool) -> None:
        """Sleep up to `seconds`; a stop request, or (when listening) another's NOTIFY or work that came
        due meanwhile (_work_came_due, every WATCH_EVERY_SECONDS), cuts it short."""
        deadline = time.monotonic() + seconds
        next_watch = time.monotonic() + WATCH_EVERY_SECONDS
        while not self._stop:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return
            waiting_on = [self._wake_r]
            if listen and self._listen_conn is not None:
                waiting_on.append(self._listen_conn)
            ready, _, _ = select.select(waiting_on, [], [], min(remaining, next_watch - now) if listen else remaining)
            if self._wake_r in ready:
                try:
                    os.read(self._wake_r, 512)
                except BlockingIOError:
                    pass
            if listen and self._listen_conn is not None and self._listen_conn in ready:
                with stage("listen for schedule changes"):
                    self._listen_conn.poll()
                notes, self._listen_conn.notifies[:] = list(self._listen_conn.notifies), []
                # Our own batches notify too; only someone else's change is news.
                if any(note.pid not in self._own_pids for note in notes):
                    return
            if listen and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + WATCH_EVERY_SECONDS
                if self._work_came_due():
                    return

    def _work_came_due(self) -> bool:
        """Whether something is due now that was not when the ticker went to sleep: a lease ran out,
        a retry or a handed-back run is due, or Redis lost its data (its queued jobs with it)."""
        try:
            with stage("compute the next wake-up"):
                wake_at = dispatch.next_wake_at(self._conn, self.repush_grace)
            if wake_at is not None and wake_at <= self.clock():
                return True
            with stage("reach Redis"):
                return self.recovery.redis_lost_data(self._redis)
        except Exception:  # noqa: BLE001 (the tick it wakes for reports the failure, with its stage)
            return True

    def _shutdown(self) -> None:
        if self.heartbeat_enabled and self._conn is not None and not self._conn.closed:
            try:
                dispatch.delete_heartbeat(self._conn, self.instance_id)
            except Exception as exc:
                logger.warning("Could not remove the heartbeat: %s", dispatch.describe_error(exc))
        self.close()
        logger.info("Schedules ticker stopped")
