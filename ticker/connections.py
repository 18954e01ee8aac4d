"""The ticker's connections: one PostgreSQL connection per dispatch lane, one that only LISTENs, and
Redis, opened on first use and dropped after a failure so that the next attempt starts clean.

The first lane's connection also recovers runs, writes the heartbeat and computes wake-ups. The
backend pids of our own connections are kept so that the loop can ignore the NOTIFYs of its own
batches.
"""
from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.ops import db
from core.ops.logs import stage


class Connections:
    def __init__(self, settings, *, lanes: int, application_name: str):
        self.settings = settings
        self.lanes = lanes
        self.application_name = application_name
        self.lane_conns: list = []  # one per lane
        self.listen_conn = None     # LISTEN only, autocommit
        self.own_pids: set[int] = set()
        self.redis = None
        self.redis_suspect = False  # a Redis call failed: ping before recording new runs

    @property
    def first(self):
        """The first lane's connection (None before connect)."""
        return self.lane_conns[0] if self.lane_conns else None

    def connect(self) -> None:
        with stage("connect to PostgreSQL"):
            if len(self.lane_conns) < self.lanes or any(conn.closed for conn in self.lane_conns):
                self._close_lanes()
                for _ in range(self.lanes):
                    conn = db.connect(self.settings.database_url, application_name=self.application_name)
                    self.lane_conns.append(conn)
                    self.own_pids.add(conn.get_backend_pid())
        if self.redis is None:
            # No client-side retries: a push that ran but whose reply was lost must not be sent again
            # (its queue entries would be doubled). A failed push leaves its runs pending; the
            # re-push, which skips jobs already in Redis, is the retry.
            self.redis = redis.Redis.from_url(
                self.settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                retry=Retry(NoBackoff(), 0))

    def listen(self) -> None:
        if self.listen_conn is None or self.listen_conn.closed:
            with stage("connect to PostgreSQL"):
                conn = db.connect(self.settings.database_url, application_name=f"{self.application_name}-listen",
                                  autocommit=True)
            with stage("listen for schedule changes"):
                db.listen_for_schedule_changes(conn)
            self.listen_conn = conn

    def ping_redis_if_suspect(self) -> None:
        """After a Redis failure, record no new run until Redis answers."""
        if self.redis_suspect:
            with stage("reach Redis"):
                self.redis.ping()
            self.redis_suspect = False

    def news(self) -> bool:
        """Read the LISTEN connection's notifications; whether any came from someone else (our own
        batches notify too; only someone else's change is news)."""
        with stage("listen for schedule changes"):
            self.listen_conn.poll()
        notes, self.listen_conn.notifies[:] = list(self.listen_conn.notifies), []
        return any(note.pid not in self.own_pids for note in notes)

    def drop(self, exc: BaseException) -> None:
        """After a failure: forget whatever may be broken, so the next attempt starts clean."""
        if isinstance(exc, redis.RedisError):
            self.redis_suspect = True
            if self.redis is not None:
                self.redis.connection_pool.disconnect()
        else:  # PostgreSQL, or something unforeseen: reconnect rather than trust a connection's state
            self._close_lanes()
            self._close_listen()

    def close(self) -> None:
        self._close_lanes()
        self._close_listen()
        if self.redis is not None:
            self.redis.close()
            self.redis = None

    def _close_lanes(self) -> None:
        for conn in self.lane_conns:
            conn.close()
        self.lane_conns = []
        self.own_pids = set()

    def _close_listen(self) -> None:
        if self.listen_conn is not None:
            self.listen_conn.close()
        self.listen_conn = None
