"""Slow clients cannot starve the web process: 50 of them against a real gunicorn (the buffering worker
of gunicorn.conf.py, 1 process x 4 threads), over real sockets; and the chunked-body probes of issue 29
under gunicorn. The figures are printed (`pytest -s`) for docs/operating.md."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess

import pytest

from tests.api.conftest import JWT_SECRET, bearer
from tests.api.slowloris import attack
from tests.api.test_gunicorn import ROOT, _env, _free_port, _gunicorn_cmd, _wait_until_serving


@pytest.fixture
def gunicorn(tmp_path, database_url):
    """Start gunicorn with extra environment; yields its port; stops it (and checks no 500 was logged)."""
    started = []

    def start(**extra):
        port = _free_port()
        env = _env(DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET, PORT=str(port), WEB_CONCURRENCY="1",
                   WEB_THREADS="4", WEB_HOST="127.0.0.1", HOME=str(tmp_path), **extra)
        log = open(tmp_path / f"gunicorn-{port}.log", "wb")
        process = subprocess.Popen(_gunicorn_cmd(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        started.append((process, log))
        _wait_until_serving(process, port)
        return port

    yield start
    for process, log in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=40)
        log.close()
    logged = "\n".join(path.read_text() for path in tmp_path.glob("gunicorn-*.log"))
    assert '" 500 ' not in logged and "Traceback" not in logged, logged[-3000:]


def test_fifty_slow_clients_leave_health_and_authenticated_requests_answering(gunicorn, account_id):
    port = gunicorn(REQUEST_READ_TIMEOUT="3")
    figures = attack(port, bearer(account_id), slow=50, seconds=8)
    print("\nbuffering worker:", figures.summary())
    assert min(figures.held) >= 45  # the attack really held its connections (reconnecting when closed)
    assert figures.health_failures == 0 and len(figures.health_ms) >= 20
    assert max(figures.health_ms) < 1000
    assert figures.authenticated_failures == 0 and figures.authenticated_ok >= 50
    assert figures.answered_408 >= 40  # each slow request was cut at its deadline with a 408


def _raw(port: int, data: bytes, *, shutdown: bool = False, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)  # the client stops sending: the body is cut off
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    return answer


def test_issue_29s_probe_ten_cut_short_bodies_then_health(gunicorn):
    port = gunicorn()
    held = []
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /v1/email/unsubscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n123456789")
        held.append(sock)
    try:
        for _ in range(5):
            answer = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=1)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
    finally:
        for sock in held:
            sock.close()


CHUNKED_HEAD = (b"POST /v1/schedules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n")


def test_bad_chunk_sizes_are_400s_under_gunicorn_ten_of_ten(gunicorn, account_id):
    port = gunicorn()
    token = b"Authorization: " + bearer(account_id)["Authorization"].encode() + b"\r\n"
    for head in (CHUNKED_HEAD, CHUNKED_HEAD + token):
        for _ in range(5):
            answer = _raw(port, head + b"\r\nzz\r\n{}\r\n0\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def test_a_chunked_body_cut_off_by_the_client_is_never_a_500(gunicorn):
    port = gunicorn()
    for cut in (b"\r\n5\r\n{\"na", b"\r\n5\r\n{}   \r\n", b"\r\nA"):
        answer = _raw(port, CHUNKED_HEAD + cut, shutdown=True)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    # and the server still answers (the fixture also checks its log for a 500)
    assert _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200 ")


def test_a_request_in_pieces_and_keep_alive_and_pipelining_work(gunicorn, account_id):
    port = gunicorn()
    auth = bearer(account_id)["Authorization"].encode()
    body = b'{"name": "x"}'
    request = (b"POST /v1/schedules/preview HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
               b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for index in range(0, len(request), 7):  # a request in 7-byte pieces
            sock.sendall(request[index:index + 7])
        sock.sendall(health + health[:10])  # one more whole request behind it, and the start of another
        sock.sendall(health[10:])
        answer = b""
        while answer.count(b"HTTP/1.1 ") < 3:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"400", b"200", b"200"], answer  # the preview names the missing cadence: a 400 of the app


def test_expect_100_continue_is_answered_by_the_front(gunicorn):
    port = gunicorn()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /v1/email/unsubscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ") and b"100 Continue" not in answer


def test_json_nested_thousands_deep_is_a_400_under_gunicorn(gunicorn):
    port = gunicorn()
    body = b'{"email": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    answer = _raw(port, b"POST /v1/email/unsubscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
