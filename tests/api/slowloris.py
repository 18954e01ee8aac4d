"""Slow clients against a real gunicorn, over loopback: the measurement behind test_slow_clients.py.

`attack(port, ...)` keeps `slow` connections open that each send part of a request and then wait
(three kinds, as in issue 29: a Content-Length body cut short to the unsubscribe route, a stalled
chunked body to POST /v1/schedules without a token, a head that never ends), opening a new one
whenever the server closes one, while two threads measure: GET /healthz every 0.2 s (its latency) and
authenticated GET /v1/schedules back to back (how many answer, how fast). Every loop is bounded by
`seconds`; nothing leaves loopback.
"""
from __future__ import annotations

import http.client
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

PARTIALS = [
    b"POST /v1/email/unsubscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{\"email\":",
    b"POST /v1/schedules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n400\r\n{\"name\": \"slow",
    b"GET /v1/schedules HTTP/1.1\r\nHost: x\r\nX-Slow: ",
]


@dataclass
class Figures:
    seconds: float = 0.0
    held: list[int] = field(default_factory=list)          # slow connections open, sampled every 0.2 s
    reconnects: int = 0                                     # slow connections the server closed
    answered_408: int = 0
    health_ms: list[float] = field(default_factory=list)
    health_failures: int = 0
    authenticated_ok: int = 0
    authenticated_failures: int = 0
    authenticated_ms: list[float] = field(default_factory=list)

    def summary(self) -> str:
        health = sorted(self.health_ms) or [float("nan")]
        auth = sorted(self.authenticated_ms) or [float("nan")]
        return (f"{min(self.held or [0])}-{max(self.held or [0])} slow connections held over {self.seconds:.0f} s "
                f"({self.reconnects} closed by the server, {self.answered_408} of them with a 408); /healthz: "
                f"{len(self.health_ms)} answers, {self.health_failures} failures, median {health[len(health) // 2]:.1f} ms, "
                f"max {health[-1]:.1f} ms; authenticated GET /v1/schedules: {self.authenticated_ok} answered 200 "
                f"({self.authenticated_ok / max(self.seconds, 0.001):.0f}/s), {self.authenticated_failures} failures, "
                f"median {auth[len(auth) // 2]:.1f} ms, max {auth[-1]:.1f} ms")


def _timed_get(port: int, path: str, headers: dict, timeout: float) -> tuple[int, float]:
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, (time.monotonic() - start) * 1000
    finally:
        conn.close()


def _open_slow(port: int, index: int, selector) -> socket.socket | None:
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        sock.sendall(PARTIALS[index % len(PARTIALS)])
    except OSError:
        return None
    sock.setblocking(False)
    selector.register(sock, selectors.EVENT_READ, index)
    return sock


def attack(port: int, auth_headers: dict, *, slow: int = 50, seconds: float = 10.0,
           health_timeout: float = 5.0) -> Figures:
    figures = Figures()
    selector = selectors.DefaultSelector()
    sockets: dict[int, socket.socket | None] = {i: _open_slow(port, i, selector) for i in range(slow)}
    stop = time.monotonic() + seconds
    started = time.monotonic()

    def health():
        while time.monotonic() < stop:
            try:
                status, ms = _timed_get(port, "/healthz", {}, health_timeout)
                figures.health_ms.append(ms)
                figures.health_failures += status != 200
            except OSError:
                figures.health_failures += 1
            figures.held.append(sum(1 for sock in sockets.values() if sock is not None))
            time.sleep(0.2)

    def authenticated():
        while time.monotonic() < stop:
            try:
                status, ms = _timed_get(port, "/v1/schedules", auth_headers, health_timeout)
                figures.authenticated_ms.append(ms)
                if status == 200:
                    figures.authenticated_ok += 1
                else:
                    figures.authenticated_failures += 1
            except OSError:
                figures.authenticated_failures += 1

    threads = [threading.Thread(target=health), threading.Thread(target=authenticated)]
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() < stop:
            for key, _ in selector.select(timeout=0.2):
                index, sock = key.data, key.fileobj
                try:
                    answer = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    answer = b""
                figures.answered_408 += answer.startswith(b"HTTP/1.1 408")
                selector.unregister(sock)
                sock.close()
                figures.reconnects += 1
                sockets[index] = _open_slow(port, index, selector)  # the attacker comes straight back
            for index, sock in sockets.items():
                if sock is None and time.monotonic() < stop:
                    sockets[index] = _open_slow(port, index, selector)
    finally:
        for thread in threads:
            thread.join(timeout=health_timeout + 1)
        for sock in sockets.values():
            if sock is not None:
                sock.close()
        selector.close()
    figures.seconds = time.monotonic() - started
    return figures
