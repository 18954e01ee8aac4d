"""A free list shared by threads: `size` things lent out one at a time, the most recently given back
first (its connection is the warm one), a borrower waiting when all are out.

The pools of the worker (PostgreSQL connections, SMTP mailers) are borrowed and given back several
times per run by up to WORKER_CONCURRENCY threads. `queue.Queue` and `threading.Semaphore` do that
with Python-level Conditions: every hand-over allocates a lock and runs a few dozen lines of Python
while holding the GIL: 7.4% of the worker's GIL time in its profile, for the PostgreSQL pool alone.
Here a borrower blocks in C, in `queue.SimpleQueue.get`, on a token per free thing, and the things
themselves wait in a deque, whose append and pop are atomic.
"""
from __future__ import annotations

import queue
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class FreeList(Generic[T]):
    def __init__(self, items: list[T]):
        self._items: deque[T] = deque(items)
        self._size = len(items)
        self._tokens: queue.SimpleQueue = queue.SimpleQueue()
        for _ in items:
            self._tokens.put(None)

    def take(self, timeout: float | None = None) -> T:
        """The most recently given back; raises queue.Empty after `timeout` seconds with none free."""
        self._tokens.get(timeout=timeout)
        return self._items.pop()  # a token is put only after its item, so one is there

    def give_back(self, item: T) -> None:
        if len(self._items) >= self._size:  # as BoundedSemaphore does: a double give-back is a bug
            raise ValueError("FreeList: given back more often than taken")
        self._items.append(item)
        self._tokens.put(None)

    def take_all_free(self) -> list[T]:
        """Every thing not lent out now (for closing them); give them back to lend them again."""
        taken = []
        while True:
            try:
                self._tokens.get_nowait()
            except queue.Empty:
                return taken
            taken.append(self._items.pop())
