"""core.ops.freelist: the worker's pools lend from it (PostgreSQL connections, SMTP mailers)."""
import queue
import threading
import time

import pytest

from core.ops.freelist import FreeList


def test_lends_the_most_recently_given_back_first():
    pool = FreeList(["a", "b", "c"])
    first = pool.take()
    second = pool.take()
    pool.give_back(second)
    pool.give_back(first)
    assert pool.take() == first  # the warm one
    assert pool.take() == second


def test_a_borrower_waits_for_one_given_back_by_another_thread():
    pool = FreeList(["only"])
    held = pool.take()
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.take(timeout=10)))
    waiter.start()
    time.sleep(0.05)
    assert got == []  # still waiting: nothing is free
    pool.give_back(held)
    waiter.join(10)
    assert got == ["only"]


def test_none_free_for_the_whole_timeout_raises_empty():
    pool = FreeList(["only"])
    pool.take()
    with pytest.raises(queue.Empty):
        pool.take(timeout=0.01)


def test_each_thing_is_lent_to_one_borrower_at_a_time():
    pool = FreeList(list(range(4)))
    in_use, clashes = set(), []
    lock = threading.Lock()

    def borrow(times):
        for _ in range(times):
            item = pool.take(timeout=10)
            with lock:
                if item in in_use:
                    clashes.append(item)
                in_use.add(item)
            with lock:
                in_use.discard(item)
            pool.give_back(item)

    threads = [threading.Thread(target=borrow, args=(2_000,)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert clashes == []
    assert sorted(pool.take_all_free()) == [0, 1, 2, 3]  # all four back, none lost or doubled


def test_take_all_free_leaves_what_is_lent_out():
    pool = FreeList(["a", "b", "c"])
    lent = pool.take()
    assert sorted(pool.take_all_free()) == sorted({"a", "b", "c"} - {lent})
    with pytest.raises(queue.Empty):
        pool.take(timeout=0)
    pool.give_back(lent)
    assert pool.take(timeout=0) == lent


def test_giving_back_more_often_than_taking_is_refused():
    pool = FreeList(["a"])
    with pytest.raises(ValueError, match="given back more often than taken"):
        pool.give_back("a")
    pool.give_back(pool.take())  # a take and its give-back are fine
