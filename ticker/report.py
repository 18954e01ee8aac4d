"""What a tick did: its figures (the summary line, the heartbeat, the metrics), and an error as the
one line the loop logs ("Failed to <stage>: <error>", with core.ops.logs's `stage`)."""
from __future__ import annotations

from dataclasses import dataclass, fields

import psycopg2

from core.runs.dispatch import error_line


@dataclass
class TickFigures:
    """What one tick did: logged as its summary line and stored in the heartbeat."""

    due: int = 0
    dispatched: int = 0
    missed: int = 0
    skipped: int = 0
    buffered: int = 0
    errors: int = 0
    repushed: int = 0
    retried: int = 0
    recovered: int = 0
    requeued: int = 0
    released: int = 0
    resumed: int = 0
    worst_lag_seconds: float = 0.0
    duration_ms: int = 0

    @property
    def did_work(self) -> bool:
        return bool(self.due or self.repushed or self.retried or self.recovered or self.requeued or self.released
                    or self.resumed)

    def add(self, other: TickFigures) -> None:
        for f in fields(self):
            if f.name == "worst_lag_seconds":
                self.worst_lag_seconds = max(self.worst_lag_seconds, other.worst_lag_seconds)
            elif f.name != "duration_ms":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> str:
        """`Tick: dispatched 2, missed 0, failed 0, re-pushed 0 in 14 ms (worst lag 0.3s)`, plus the
        overlap and recovery figures when they are not zero."""
        extra = "".join(f", {label} {value}" for label, value in (
            ("skipped (overlap)", self.skipped), ("buffered", self.buffered), ("retried", self.retried),
            ("recovered (worker lost)", self.recovered), ("requeued (job lost)", self.requeued),
            ("released", self.released), ("resumed (pause ended)", self.resumed)) if value)
        return (f"Tick: dispatched {self.dispatched}, missed {self.missed}, failed {self.errors}, "
                f"re-pushed {self.repushed}{extra} in {self.duration_ms} ms "
                f"(worst lag {self.worst_lag_seconds:.1f}s)")


def cause_line(exc: BaseException) -> str:
    """The error as one line, naming the cause rather than its echo: a query on a connection the
    server killed fails with OperationalError, then the rollback with "connection already closed"."""
    while isinstance(exc, psycopg2.InterfaceError) and isinstance(exc.__context__, psycopg2.Error):
        exc = exc.__context__
    return error_line(exc)
