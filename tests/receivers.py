"""A real HTTP receiver on loopback (http.server in a thread), for webhook and Slack delivery tests.

It records every request (path, headers, body) and answers from a script: `answers` is a list of
(status, headers, body) used in turn, the last one repeated. It can be stopped (the receiver is down:
connections are refused) and started again on the same port.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    answers: list = field(default_factory=lambda: [(200, {}, b"ok")])
    delay: float = 0.0
    port: int = field(default_factory=free_port)
    requests: list = field(default_factory=list)
    on_request: object = None  # called with each request once recorded, before it is answered

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                index = len(receiver.requests)
                receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.on_request is not None:
                    receiver.on_request(receiver.requests[-1])
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, headers, answer = receiver.answers[min(index, len(receiver.answers) - 1)]
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender gave up (a timeout test)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
            self._server = None
