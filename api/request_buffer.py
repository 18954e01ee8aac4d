"""Where one HTTP/1.1 request ends, told from the bytes received so far: the framing half of the
buffering worker (api/buffered_worker.py), with no sockets, threads or clocks, so it can be tested
byte by byte.

A `RequestBuffer` is fed what the socket gives and says when the request is *ready* to hand to a
thread: its head and its whole body are here (Content-Length, or chunked up to the last chunk and the
trailers), or it is malformed or too large, in which case what is here is enough for gunicorn's parser
and the app to answer it (a 400 or a 413) without waiting for another byte. `refusal` is set instead
when the front should answer by itself and close: a head larger than MAX_HEAD_BYTES (431), or far more
chunk framing than body (413). So a connection holds at most about MAX_HEAD_BYTES + 2 x max_body +
MAX_FRAMING_BYTES (176 KiB with the default 64 KiB MAX_REQUEST_BYTES). Only the framing is checked
here; gunicorn's parser still parses the request, so the two cannot disagree about anything but where
it ends.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 32 * 1024  # gunicorn's own limits (a 4 KiB request line, 8 KiB fields) are stricter
MAX_FRAMING_BYTES = 16 * 1024  # chunk-size lines and extensions a chunked body may add to its data
MAX_CHUNK_LINE = 1024
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_HEX_PREFIX = re.compile(rb"[0-9A-Fa-f]*")
# Routes that answer without credentials (the unsubscribe link is its own authority, the others need none).
_OPEN_CONSOLE = ("/console/login", "/console/signed-out", "/console/static/")


@dataclass
class Head:
    method: str
    path: str
    headers: dict[str, list[str]]

    def first(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


def parse_head(raw: bytes) -> Head:
    """The request line and header fields (names lowercased); latin-1, as HTTP/1.1 fields are."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Head(method, urlsplit(target).path if target.startswith("/") else target, headers)


def route_class(head: Head) -> str:
    """"health", "authenticated" or "anonymous": how the worker shares its threads (see buffered_worker).

    "authenticated" means the route needs credentials and the request carries some: a bearer token to
    /v1 (the unsubscribe routes excepted), the session cookie to the console's signed-in pages. Whether
    they are valid is the app's business; a forged one costs it a signature check and a 401."""
    path = head.path
    if path == "/healthz":
        return "health"
    if path.startswith("/v1/") and not path.startswith("/v1/email/unsubscribe") and head.first("authorization"):
        return "authenticated"
    if (path.startswith("/console/") and not path.startswith(_OPEN_CONSOLE)
            and "schedules_console=" in ";".join(head.headers.get("cookie", []))):
        return "authenticated"
    return "anonymous"


@dataclass
class RequestBuffer:
    max_body: int
    data: bytearray = field(default_factory=bytearray)
    head: Head | None = None
    head_end: int = 0
    end: int | None = None            # where the request ends in `data`, once ready
    close_after: bool = False         # handed over before its end: the connection cannot be reused
    refusal: int | None = None        # the front answers this status itself and closes
    expect_continue: bool = False     # the client waits for "100 Continue" before sending its body
    _length: int | None = None
    _chunked: bool = False
    _pos: int = 0                     # chunked: where the next chunk-size line starts
    _body: int = 0                    # chunked: body bytes seen so far

    @property
    def ready(self) -> bool:
        return self.end is not None

    def feed(self, chunk: bytes = b"") -> bool:
        """Add what the socket gave; True once the request is ready to hand over."""
        self.data += chunk
        if self.ready or self.refusal:
            return self.ready
        if self.head is None and not self._read_head():
            return False
        if self._chunked:
            self._read_chunks()
        elif self._length is not None and len(self.data) >= self.head_end + self._length:
            self.end = self.head_end + self._length
        return self.ready

    def take(self) -> tuple[bytes, bytes]:
        """(the request's bytes, what came after it: the start of a pipelined next request)."""
        assert self.end is not None, "take() before the request is ready"
        return bytes(self.data[:self.end]), bytes(self.data[self.end:])

    def _hand_over(self, close: bool = True) -> None:
        self.end, self.close_after = len(self.data), close

    def _read_head(self) -> bool:
        while self.data.startswith(b"\r\n"):  # RFC 9112 2.2: empty lines before a request are ignored
            del self.data[:2]
        end = self.data.find(b"\r\n\r\n")
        if end < 0:
            if len(self.data) > MAX_HEAD_BYTES:
                self.refusal = 431
            return False
        self.head_end = end + 4
        self.head = parse_head(bytes(self.data[:end]))
        coding = self.head.headers.get("transfer-encoding")
        lengths = self.head.headers.get("content-length")
        if coding is not None and lengths is not None or lengths is not None and len(set(lengths)) > 1:
            self._hand_over()  # ambiguous framing: gunicorn refuses it (400), from the head alone
        elif coding is not None:
            if coding[-1].split(",")[-1].strip().lower() != "chunked":
                self._hand_over()  # gunicorn answers an unsupported coding itself
            else:
                self._chunked, self._pos = True, self.head_end
        elif lengths is not None:
            if not lengths[0].isdigit() or not lengths[0].isascii():
                self._hand_over()  # gunicorn refuses a malformed Content-Length (400)
            elif int(lengths[0]) > self.max_body:
                self._hand_over()  # the app answers 413 from the header, without reading the body
            else:
                self._length = int(lengths[0])
        else:
            self.end = self.head_end  # no body
        body_expected = self._chunked or bool(self._length)
        self.expect_continue = (not self.ready and body_expected
                                and (self.head.first("expect") or "").lower() == "100-continue")
        return True

    def _read_chunks(self) -> None:
        data = self.data
        while True:
            line_end = data.find(b"\r\n", self._pos)
            line = bytes(data[self._pos:line_end if line_end >= 0 else len(data)])
            size_text = line.split(b";", 1)[0].rstrip(b"\r").strip(b" \t")
            if line_end < 0:
                # Not whole yet; a size that cannot become valid is handed over now (gunicorn: 400).
                if len(line) > MAX_CHUNK_LINE or b";" not in line and not _HEX_PREFIX.fullmatch(size_text):
                    self._hand_over()
                return
            if not _HEX.fullmatch(size_text) or len(size_text) > 16:
                self._hand_over()
                return
            size = int(size_text, 16)
            start = line_end + 2
            if size == 0:
                if data[start:start + 2] == b"\r\n":
                    self.end = start + 2
                else:
                    trailers_end = data.find(b"\r\n\r\n", start)
                    if trailers_end >= 0:
                        self.end = trailers_end + 4
                    elif len(data) - start > MAX_HEAD_BYTES:
                        self.refusal = 431
                return
            if self._body + size > self.max_body:
                # The app reads max_body + 1 bytes and answers 413: hand over once they are here.
                if len(data) - start >= self.max_body + 1 - self._body:
                    self._hand_over()
                return
            if len(data) < start + size + 2:
                return
            if data[start + size:start + size + 2] != b"\r\n":
                self._hand_over()
                return
            self._body += size
            self._pos = start + size + 2
            if self._pos - self.head_end > 2 * self.max_body + MAX_FRAMING_BYTES:
                self.refusal = 413  # a body of tiny chunks: the framing alone is too large
                return
