"""api/buffered_worker.py's sharing of threads, without sockets: anonymous requests get at most their
share of the threads at once, the others wait in the event loop, and credentials or /healthz never wait.
(tests/api/test_slow_clients.py runs the worker itself against real sockets.)"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from types import SimpleNamespace

from api.buffered_worker import BufferingWorker, canned


def _worker(limit: int):
    worker = BufferingWorker.__new__(BufferingWorker)  # no gunicorn arbiter: only the sharing logic
    worker.anonymous_limit, worker.anonymous_busy, worker.anonymous_waiting = limit, 0, deque()
    worker.alive = False  # finish_request then closes instead of reading a next request
    worker.started, worker.closed = [], []
    worker.enqueue_req = worker.started.append
    worker._close = worker.closed.append
    return worker


def _done(result=False) -> Future:
    future = Future()
    future.set_result(result)
    return future


def test_anonymous_requests_get_at_most_their_share_and_the_rest_wait_without_a_thread():
    worker = _worker(limit=1)
    anonymous = [SimpleNamespace(route="anonymous", name=f"a{i}") for i in range(3)]
    signed = SimpleNamespace(route="authenticated", name="t")
    health = SimpleNamespace(route="health", name="h")
    for conn in (*anonymous, signed, health):
        worker._hand_to_thread(conn)
    assert [conn.name for conn in worker.started] == ["a0", "t", "h"]
    assert [conn.name for conn in worker.anonymous_waiting] == ["a1", "a2"]
    worker.finish_request(signed, _done())
    assert worker.anonymous_busy == 1 and len(worker.started) == 3  # a signed request frees no anonymous slot
    worker.finish_request(anonymous[0], _done())
    assert [conn.name for conn in worker.started] == ["a0", "t", "h", "a1"] and worker.anonymous_busy == 1
    worker.finish_request(anonymous[1], _done())
    worker.finish_request(anonymous[2], _done(RuntimeError("boom")))
    assert worker.anonymous_busy == 0 and not worker.anonymous_waiting
    assert [conn.name for conn in worker.closed] == ["t", "a0", "a1", "a2"]


def test_the_fronts_own_answers_are_complete_http():
    answer = canned(408)
    head, body = answer.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head and b'"error": "request_timeout"' in body
