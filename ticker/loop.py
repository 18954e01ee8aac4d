"""The ticker's loop: drain the units of work, do the chores that are due, sleep until the next run,
retry, lease expiry or NOTIFY.

`tick()` drains the recovery units (ticker/recovery.py: lost workers, buffered, pending, retries, lost
jobs) and then every due schedule (ticker/lanes.py), and returns whether it found any work; `run()` only
ticks, runs the chores (ticker/chores.py) and sleeps, and turns every outage into one log line and a
capped back-off, never a crash. The units label their own errors (core.ops.logs's `stage`). This module
owns the heartbeat, the signals' effect and the tick's clock (injected; core.ops.clock by default); the
connections are ticker/connections.py's, the sleep between ticks ticker/waiting.py's, and the domain
(SQL, what a row becomes) is core.runs.dispatch and core.runs.lifecycle.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import asdict

import psycopg2
import redis

from core import model
from core.engine import tzdb
from core.ops.clock import utcnow
from core.ops.logs import stage, stage_of
from core.runs import dispatch, lifecycle, rq_jobs
from ticker.alerts import AlertUnits
from ticker.chores import Chores
from ticker.connections import Connections
from ticker.lanes import LANES, Dispatcher
from ticker.metrics import TickerMetrics
from ticker.recovery import Recovery
from ticker.report import TickFigures, cause_line
from ticker.waiting import Sleeper
from worker import entry_points

logger = logging.getLogger("ticker")

# Waits between attempts while PostgreSQL or Redis is unreachable.
RETRY_DELAYS = (1, 2, 4, 8, 16, 30)
HEARTBEAT_EVERY_SECONDS = 1.0
# A heartbeat this old belongs to a ticker that died without cleaning up.
HEARTBEAT_PRUNE_SECONDS = 24 * 3600
# When something is due but nothing could be claimed (another ticker holds it), look again soon.
BUSY_RETRY_SECONDS = 0.05


class Ticker:
    """One ticker process's state: its connections, its clock, its heartbeat identity.

    `clock` is injected (tests pass a fixed instant). `repush_grace` is how old a pending run must be
    before this ticker takes it for a re-push (younger ones belong to a ticker between its commit and
    its push).
    """

    def __init__(self, settings, *, clock=utcnow, heartbeat: bool = True,
                 repush_grace: float = lifecycle.REPUSH_GRACE_SECONDS, application_name: str = "ticker"):
        self.settings = settings
        rq_jobs.use_entry_points(run=entry_points.RUN, alert=entry_points.ALERT)
        self.clock = clock
        self.interval = settings.tick_interval
        self.repush_grace = repush_grace
        self.heartbeat_enabled = heartbeat
        self.application_name = application_name
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.started_at = utcnow()
        self.last_tick = TickFigures()
        self.live_tickers = 1  # this one and the others whose heartbeat is recent, as of the last beat
        self.metrics = TickerMetrics()
        self.sleeper = Sleeper()
        self.connections = Connections(settings, lanes=LANES, application_name=application_name)
        self.dispatcher = Dispatcher(settings, self.metrics, clock, lambda: self._stop)
        self.recovery = Recovery(settings, self.metrics, repush_grace=repush_grace, instance_id=self.instance_id,
                                 clock=clock)
        self.housekeeping = Chores(settings, self.metrics, clock)
        self.alerts = AlertUnits(settings, clock)
        self._last_heartbeat = 0.0

    @property
    def _stop(self) -> bool:
        return self.sleeper.stopping

    @property
    def _conn(self):
        return self.connections.first

    def close(self) -> None:
        """Release connections and the helper thread; the ticker is not used afterwards."""
        self.connections.close()
        self.dispatcher.close()
        self.sleeper.close()

    # ------------------------------------------------------------------ one tick

    def tick(self) -> bool:
        """Drain the recovery units, dispatch every due schedule, then push alert messages (ticker/alerts.py);
        returns whether there was work."""
        started = time.monotonic()
        figures = TickFigures()
        logger.debug("Tick: Checking for due schedules...")
        self.connections.connect()
        if self.heartbeat_enabled:
            self.beat()  # also learns how many tickers run, before choosing how many lanes to dispatch on
        self.connections.ping_redis_if_suspect()
        should_stop = lambda: self._stop  # noqa: E731
        redis_conn = self.connections.redis
        self.recovery.run_all(self._conn, redis_conn, figures, should_stop)
        self.dispatcher.dispatch_due(self.connections.lane_conns[:self.lanes_in_use], redis_conn, figures)
        # After dispatch: the alerts of the runs it recorded missed are pushed in the same tick.
        self.alerts.run_all(self._conn, redis_conn, should_stop)
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
        self.connections.connect()
        self.housekeeping.run_due(self._conn, lambda: self._stop)

    def check_health(self) -> list[dict]:
        self.connections.connect()
        return self.housekeeping.check_health(self._conn)

    def prune_history(self):
        self.connections.connect()
        return self.housekeeping.prune_history(self._conn)

    # ------------------------------------------------------------------ the loop

    def request_stop(self) -> None:
        """Ask the loop to stop after the batch in hand (safe to call from a signal handler)."""
        self.sleeper.stop()

    def run_once(self) -> int:
        """One tick, for `python -m ticker --once`: 0 on success, 1 when PostgreSQL or Redis failed."""
        try:
            self.tick()
            return 0
        except Exception as exc:
            logger.error("Failed to %s: %s", stage_of(exc), cause_line(exc))
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
                    self.connections.listen()  # before the tick, so no change made during it goes unheard
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
                        self.sleeper.sleep(sleep, listen_conn=self.connections.listen_conn,
                                           news=self.connections.news, came_due=self._work_came_due)
                except Exception as exc:
                    delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                    failures += 1
                    self.metrics.tick_failures.inc()
                    logger.error("Failed to %s: %s (retrying in %ss)", stage_of(exc), cause_line(exc), delay,
                                 exc_info=not isinstance(exc, (psycopg2.Error, redis.RedisError)))
                    self.connections.drop(exc)
                    self.sleeper.sleep(delay)
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

    def _work_came_due(self) -> bool:
        """Whether something is due now that was not when the ticker went to sleep: a lease ran out,
        a retry or a handed-back run is due, or Redis lost its data (its queued jobs with it)."""
        try:
            with stage("compute the next wake-up"):
                wake_at = dispatch.next_wake_at(self._conn, self.repush_grace)
            if wake_at is not None and wake_at <= self.clock():
                return True
            with stage("reach Redis"):
                return self.recovery.redis_lost_data(self.connections.redis)
        except Exception:  # noqa: BLE001 (the tick it wakes for reports the failure, with its stage)
            return True

    def _shutdown(self) -> None:
        if self.heartbeat_enabled and self._conn is not None and not self._conn.closed:
            try:
                dispatch.delete_heartbeat(self._conn, self.instance_id)
            except Exception as exc:
                logger.warning("Could not remove the heartbeat: %s", dispatch.error_line(exc))
        self.close()
        logger.info("Schedules ticker stopped")
