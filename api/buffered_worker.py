"""gunicorn's threaded worker, made to read each request whole before a thread is committed to it.

Stock gthread hands a connection to a thread as soon as it is readable; the thread then reads the
head and the body from the socket as slowly as the client sends them. Ten clients that send
`Content-Length: 1000` and 9 bytes held all 8 threads of the web service for as long as they liked
(issue 29). Here the worker's event loop (its main thread, which already accepts connections and
watches kept-alive ones) reads every request itself, without blocking, into memory:

- a request goes to the thread pool only when it is whole (api/request_buffer.py tells where it ends),
  or malformed or too large in a way the app can answer from what is here (400, 413); the thread's
  parser reads those bytes from memory and never from the socket, so no thread ever waits on a client;
- a request must arrive within REQUEST_READ_TIMEOUT seconds, plus one second per REQUEST_MIN_RATE
  bytes received: a client below that rate gets a 408 and is closed. The longest anyone can hold a
  connection is REQUEST_READ_TIMEOUT + MAX_REQUEST_BYTES / REQUEST_MIN_RATE (26 s by default), and
  what it holds is a socket and at most that many bytes, not a thread;
- requests to routes that need no credentials (the unsubscribe link, /readyz, /metrics, the console's
  sign-in, any request without a token) may occupy at most a quarter of the threads at once (at least
  one); more wait in the event loop, holding no thread. Requests that carry credentials, and /healthz,
  go straight to the pool, so they keep being answered whatever anonymous clients do.
- closing waits for the client's FIN in the event loop too (stock gthread lingers up to 2 s in it).

Plain HTTP/1.1 only (no TLS, no HTTP/2), which is what Render's proxy speaks to the service; the worker
refuses to start otherwise. It is tied to gunicorn's ThreadWorker internals (gunicorn is pinned with
==, and tests/api/test_slow_clients.py runs it against real sockets).
"""
from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import deque
from functools import partial

from gunicorn import http
from gunicorn.workers.gthread import ThreadWorker, TConn

from api.request_buffer import RequestBuffer, route_class
from core.ops.settings import load_settings

ANONYMOUS_SHARE = 4          # anonymous requests may use at most 1/ANONYMOUS_SHARE of the threads
WRITE_TIMEOUT = 10.0         # a client that does not read its answer holds a thread at most this long
CLOSE_LINGER = 2.0           # how long a closing connection waits for the client's FIN
_STATUS = {408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large"}
_MESSAGE = {408: "the request did not arrive in time", 413: "the request body is too large",
            431: "the request's header section is too large"}


def canned(status: int) -> bytes:
    body = f'{{"error": "{_STATUS[status].lower().replace(" ", "_")}", "message": "{_MESSAGE[status]}"}}'.encode()
    return (f"HTTP/1.1 {status} {_STATUS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class BufferingWorker(ThreadWorker):

    @classmethod
    def check_config(cls, cfg, log):
        super().check_config(cfg, log)
        if cfg.is_ssl or getattr(cfg, "http_protocols", ["h1"]) not in (["h1"], "h1"):
            raise RuntimeError("api.buffered_worker speaks plain HTTP/1.1 only: no TLS, no HTTP/2")

    def init_process(self):
        settings = load_settings()
        self.read_timeout = settings.request_read_timeout
        self.min_rate = settings.request_min_rate
        self.max_body = settings.max_request_bytes
        self.anonymous_limit = max(1, self.cfg.threads // ANONYMOUS_SHARE)
        self.anonymous_busy = 0
        self.anonymous_waiting: deque = deque()
        self.reading: set = set()   # connections whose next request is being received
        self.closing: set = set()   # connections waiting for the client's FIN
        super().init_process()

    # -- the event loop's side --

    def accept(self, listener):
        try:
            sock, address = listener.accept()
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, address, listener.getsockname())  # non-blocking from here
        self._read_next(conn, b"", idle_limit=self.read_timeout)

    def _read_next(self, conn, leftover: bytes, *, idle_limit: float):
        conn.buffer = RequestBuffer(self.max_body)
        conn.waiting_since, conn.first_byte_at, conn.idle_limit = time.monotonic(), None, idle_limit
        self.reading.add(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        if leftover:  # a pipelined request came with the previous one
            self._received(conn, leftover)

    def _on_readable(self, conn, _sock):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before its request was whole: nothing to answer
            self._forget(conn)
            self._close(conn)
            return
        self._received(conn, data)

    def _received(self, conn, data: bytes):
        if conn.first_byte_at is None:
            conn.first_byte_at = time.monotonic()
        buffer = conn.buffer
        if buffer.feed(data):
            self._forget(conn)
            conn.request_bytes, conn.leftover = buffer.take()
            conn.close_after, conn.route = buffer.close_after, route_class(buffer.head)
            self._hand_to_thread(conn)
        elif buffer.refusal:
            self._refuse(conn, buffer.refusal)
        elif buffer.expect_continue:
            buffer.expect_continue = False
            self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")

    def _deadline(self, conn) -> float:
        if conn.first_byte_at is None:
            return conn.waiting_since + conn.idle_limit
        return conn.first_byte_at + self.read_timeout + len(conn.buffer.data) / self.min_rate

    def murder_pending(self):
        """Called by gunicorn's loop about once a second: slow requests and lingering closes end here."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.reading if now > self._deadline(c) or not self.alive and c.first_byte_at is None]:
            if conn.first_byte_at is None:
                self._forget(conn)
                self._close(conn)  # an idle kept-alive or silent connection: closed without a word
            else:
                self.log.info("Slow client %s: %d bytes in %.1f s, answered 408", conn.client[0],
                              len(conn.buffer.data), now - conn.first_byte_at)
                self._refuse(conn, 408)
        for conn in [c for c in self.closing if now > c.close_deadline]:
            self._finish_close(conn)

    def _hand_to_thread(self, conn):
        """A whole request to a thread, or, past the anonymous routes' share, to the queue of those waiting."""
        if conn.route == "anonymous":
            if self.anonymous_busy >= self.anonymous_limit:
                self.anonymous_waiting.append(conn)
                return
            self.anonymous_busy += 1
        self.enqueue_req(conn)

    def finish_request(self, conn, fs):
        """Back from a thread (run by the event loop): read the next request, or close."""
        if conn.route == "anonymous":
            self.anonymous_busy -= 1
            if self.anonymous_waiting:
                self.anonymous_busy += 1
                self.enqueue_req(self.anonymous_waiting.popleft())
        try:
            keep_alive = not fs.cancelled() and fs.result() is True
        except Exception:  # noqa: BLE001 (handle() catches what it can; anything else ends the connection)
            keep_alive = False
        if keep_alive and self.alive:
            try:
                conn.sock.setblocking(False)
                self._read_next(conn, conn.leftover, idle_limit=self.cfg.keepalive)
                return
            except OSError:
                pass
        self._close(conn)

    def _refuse(self, conn, status: int):
        self._forget(conn)
        self._send(conn, canned(status))
        self._close(conn)

    def _send(self, conn, data: bytes):
        try:
            conn.sock.send(data)  # small: fits the socket's buffer; a client that reads nothing loses it
        except OSError:
            pass

    def _forget(self, conn):
        if conn in self.reading:
            self.reading.discard(conn)
            self.poller.unregister(conn.sock)

    def _close(self, conn):
        """Half-close, then wait in the event loop for the client's FIN, so the last answer is not lost
        to a reset (RFC 9112 9.6)."""
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
            conn.close_deadline = time.monotonic() + CLOSE_LINGER
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_closing_readable, conn))
            self.closing.add(conn)
        except (OSError, ValueError):
            self._finish_close(conn)

    def _on_closing_readable(self, conn, _sock):
        try:
            if conn.sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._finish_close(conn)

    def _finish_close(self, conn):
        if conn in self.closing:
            self.closing.discard(conn)
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
        self.nr_conns -= 1
        conn.close()

    # -- a thread's side: the request is in memory --

    def handle(self, conn):
        conn.sock.setblocking(True)
        conn.sock.settimeout(WRITE_TIMEOUT)
        conn.parser = http.get_parser(self.cfg, [conn.request_bytes], conn.client)  # reads memory, not the socket
        req = None
        try:
            req = next(conn.parser)
            req._expected_100_continue = False  # the event loop answered it when the head came
            keep_alive = self.handle_request(req, conn)
            return bool(keep_alive and not conn.close_after and conn.parser.finish_body())
        except (StopIteration, http.errors.NoMoreData):
            return False
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, None):
                self.log.exception("Socket error processing request.")
            return False
        except Exception as error:  # noqa: BLE001 (gunicorn's parse errors: it answers 400 itself)
            self.handle_error(req, conn.sock, conn.client, error)
            return False
