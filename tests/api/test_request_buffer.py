"""api/request_buffer.py: where a request ends, fed a byte at a time or all at once."""
from __future__ import annotations

import pytest

from api.request_buffer import MAX_HEAD_BYTES, RequestBuffer, parse_head, route_class

HEAD = b"POST /v1/schedules HTTP/1.1\r\nHost: x\r\n"


def feed_bytewise(data: bytes, max_body: int = 1000) -> tuple[RequestBuffer, int | None]:
    """The buffer after `data`, one byte at a time, and after how many bytes it became ready."""
    buffer = RequestBuffer(max_body)
    ready_at = None
    for index in range(len(data)):
        if buffer.feed(data[index:index + 1]) and ready_at is None:
            ready_at = index + 1
    return buffer, ready_at


@pytest.mark.parametrize("request_bytes", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    HEAD + b"Content-Length: 5\r\n\r\nhello",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
])
def test_a_whole_request_is_ready_at_its_last_byte_and_not_before(request_bytes):
    buffer, ready_at = feed_bytewise(request_bytes + b"GET /next")
    assert ready_at == len(request_bytes)
    assert buffer.take() == (request_bytes, b"GET /next")
    assert not buffer.close_after and buffer.refusal is None


@pytest.mark.parametrize("partial", [
    HEAD + b"Content-Length: 1000\r\n\r\n123456789",                   # issue 29's probe
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel",                # a stalled chunked body
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",          # no last chunk yet
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",     # no end of trailers yet
    HEAD + b"Content-Len",                                               # a head still coming
    HEAD + b"Transfer-Encoding: chunked\r\n\r\nA\r",                     # a size line cut at its CR
])
def test_an_unfinished_request_is_never_ready(partial):
    buffer, ready_at = feed_bytewise(partial)
    assert ready_at is None and buffer.refusal is None


@pytest.mark.parametrize("malformed", [
    HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",                  # issue 29: a chunk size of zz
    HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz",                      # ... even before its line ends
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",            # no CRLF after the data
    HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",            # two lengths
    HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",   # both framings
    HEAD + b"Content-Length: -1\r\n\r\n",
    HEAD + b"Transfer-Encoding: gzip\r\n\r\n",
])
def test_a_malformed_request_is_handed_over_at_once_to_be_answered_400(malformed):
    buffer, ready_at = feed_bytewise(malformed)
    assert ready_at is not None and buffer.close_after
    assert buffer.take()[0] == malformed[:ready_at]


def test_a_body_over_the_limit_is_handed_over_from_its_header_or_at_limit_plus_one_byte():
    buffer, ready_at = feed_bytewise(HEAD + b"Content-Length: 1001\r\n\r\n" + b"x" * 50)
    assert ready_at == len(HEAD) + len(b"Content-Length: 1001\r\n\r\n") and buffer.close_after
    chunked = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"258\r\n" + b"x" * 600 + b"\r\n" + b"258\r\n" + b"x" * 600
    buffer, ready_at = feed_bytewise(chunked)
    body_start = len(HEAD) + len(b"Transfer-Encoding: chunked\r\n\r\n")
    assert ready_at == body_start + 5 + 600 + 2 + 5 + 401  # 1001 body bytes: the app reads them, then says 413
    assert buffer.close_after


def test_a_huge_head_or_a_body_of_tiny_chunks_is_refused_by_the_front():
    buffer = RequestBuffer(1000)
    assert not buffer.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD_BYTES)
    assert buffer.refusal == 431
    chunky = RequestBuffer(1000)  # 1 body byte per chunk, each with a 900-byte extension
    chunky.feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    chunky.feed((b"1;" + b"e" * 900 + b"\r\na\r\n") * 30)  # 27 KB of framing for 30 bytes
    assert chunky.refusal == 413 and not chunky.ready


def test_expect_100_continue_is_noted_when_a_body_must_still_come():
    buffer = RequestBuffer(1000)
    buffer.feed(HEAD + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert buffer.expect_continue and not buffer.ready
    too_large = RequestBuffer(1000)
    too_large.feed(HEAD + b"Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
    assert too_large.ready and not too_large.expect_continue  # the 413 goes out instead


@pytest.mark.parametrize("head, kind", [
    (b"GET /healthz HTTP/1.1", "health"),
    (b"GET /v1/schedules HTTP/1.1\r\nAuthorization: Bearer x", "authenticated"),
    (b"GET /v1/schedules HTTP/1.1", "anonymous"),
    (b"POST /v1/email/unsubscribe HTTP/1.1\r\nAuthorization: Bearer x", "anonymous"),
    (b"GET /console/?q=1 HTTP/1.1\r\nCookie: a=1; schedules_console=abc", "authenticated"),
    (b"GET /console/login?token=x HTTP/1.1\r\nCookie: schedules_console=abc", "anonymous"),
    (b"GET /readyz HTTP/1.1\r\nAuthorization: Bearer x", "anonymous"),
])
def test_route_classes(head, kind):
    assert route_class(parse_head(head)) == kind
