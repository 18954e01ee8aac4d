"""How the ticker sleeps between ticks: until a deadline, cut short by a stop request, by another
process's NOTIFY on the LISTEN connection, or by work that came due meanwhile (looked for every
WATCH_EVERY_SECONDS).

A stop request writes to a pipe the sleep selects on, so a signal handler wakes it at once.
"""
from __future__ import annotations

import os
import select
import time
from typing import Callable

# While it sleeps, the ticker looks this often whether work came due that it could not know of when it
# went to sleep: a lease that a worker took since and that ran out, a retry or a hand-back, Redis
# emptied. Each look is one indexed query and one Redis EXISTS.
WATCH_EVERY_SECONDS = 2.0


class Sleeper:
    def __init__(self):
        self.stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def stop(self) -> None:
        """Wake the sleep for good (safe to call from a signal handler)."""
        self.stopping = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # the pipe is full: a wake-up is pending already

    def sleep(self, seconds: float, *, listen_conn=None, news: Callable[[], bool] | None = None,
              came_due: Callable[[], bool] | None = None) -> None:
        """Sleep up to `seconds`. With `listen_conn`, return once `news()` says a notification on it is
        someone else's, or once `came_due()` (asked every WATCH_EVERY_SECONDS) says work is due."""
        deadline = time.monotonic() + seconds
        next_watch = time.monotonic() + WATCH_EVERY_SECONDS
        listening = listen_conn is not None
        while not self.stopping:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return
            waiting_on = [self._wake_r] + ([listen_conn] if listening else [])
            ready, _, _ = select.select(waiting_on, [], [], min(remaining, next_watch - now) if listening else remaining)
            if self._wake_r in ready:
                try:
                    os.read(self._wake_r, 512)
                except BlockingIOError:
                    pass
            if listening and listen_conn in ready and news():
                return
            if listening and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + WATCH_EVERY_SECONDS
                if came_due():
                    return

    def close(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass  # closed already
