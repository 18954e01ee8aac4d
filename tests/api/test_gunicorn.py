"""gunicorn.conf.py: bad settings stop gunicorn with one line; good ones serve the app (gthread), and
everything gunicorn writes from start to stop is a log line in the service's format (text or JSON)."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from werkzeug.middleware.proxy_fix import ProxyFix

from tests.api.conftest import JWT_SECRET, bearer

ROOT = Path(__file__).resolve().parents[2]


def _gunicorn_cmd():
    beside_python = Path(sys.executable).parent / "gunicorn"  # the venv's, whatever PATH says
    return [str(beside_python) if beside_python.exists() else shutil.which("gunicorn"), "api:create_app()"]


def _env(**extra):
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **extra}


def test_missing_jwt_secret_stops_gunicorn_with_one_line(database_url):
    result = subprocess.run(_gunicorn_cmd(), cwd=ROOT, env=_env(DATABASE_URL=database_url),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "JWT_SECRET" in lines[0]


def test_bad_port_or_threads_stop_gunicorn_with_one_line(database_url):
    for name, value in (("PORT", "eighty"), ("WEB_THREADS", "0")):
        result = subprocess.run(_gunicorn_cmd(), cwd=ROOT, capture_output=True, text=True, timeout=30,
                                env=_env(DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET, **{name: value}))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and name in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_until_serving(process, port: int, timeout: float = 30):
    """(status, body) of the first /healthz gunicorn answers; fails if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(port, "/healthz")
        except OSError:
            output = process.stdout.read().decode() if process.poll() is not None and process.stdout else ""
            assert process.poll() is None, f"gunicorn exited: {output}"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)


def test_gunicorn_serves_the_app(database_url, account_id):
    port = _free_port()
    env = _env(DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET, PORT=str(port), WEB_CONCURRENCY="1",
               WEB_THREADS="2")
    process = subprocess.Popen(_gunicorn_cmd(), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status, body = _wait_until_serving(process, port)
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, _ = _get(port, "/v1/schedules", headers=bearer(account_id))
        assert status == 200
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_proxy_headers_of_one_hop_are_trusted(app):
    assert isinstance(app.wsgi_app, ProxyFix)
    assert (app.wsgi_app.x_for, app.wsgi_app.x_proto) == (1, 1)


TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - [\w.]+ - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - \S")


def _serve_once(tmp_path, database_url, during=None, **extra) -> tuple[list[str], list[str]]:
    """Start gunicorn, GET /healthz, call during(port), stop it with SIGTERM: (stdout lines, stderr lines)."""
    port = _free_port()
    env = _env(DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET, PORT=str(port), WEB_CONCURRENCY="1",
               WEB_THREADS="2", HOME=str(tmp_path), **extra)
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen(_gunicorn_cmd(), cwd=ROOT, env=env, stdout=out, stderr=err,
                                   start_new_session=True)
        try:
            status, _ = _wait_until_serving(process, port)
            assert status == 200
            if during is not None:
                during(port)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    return out_path.read_text().splitlines(), err_path.read_text().splitlines()


def test_gunicorn_writes_only_text_log_lines_from_start_to_stop(tmp_path, database_url):
    out, err = _serve_once(tmp_path, database_url)
    assert err, "gunicorn wrote nothing"
    assert [line for line in err if not TEXT_LINE.match(line)] == []
    text = "\n".join(err)
    for said in ("Starting gunicorn", "Listening at: http://0.0.0.0:", "Booting worker", "Shutting down"):
        assert said in text
    access = [line for line in out if "/healthz" in line]
    assert len(access) == 1 and TEXT_LINE.match(access[0]) and " - gunicorn.access - INFO - " in access[0]
    assert '"GET /healthz HTTP/1.1" 200' in access[0]


def test_gunicorn_writes_only_json_lines_with_log_format_json(tmp_path, database_url):
    out, err = _serve_once(tmp_path, database_url, LOG_FORMAT="json")
    entries = [json.loads(line) for line in out + err]  # fails on any line that is not JSON
    assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
    assert any(entry["message"].startswith("Starting gunicorn") for entry in entries)
    [access] = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    assert access["message"] == "GET /healthz 200"
    assert (access["method"], access["path"], access["status"], access["remote_addr"]) == (
        "GET", "/healthz", 200, "127.0.0.1")
    assert access["duration_ms"] >= 0 and access["bytes"] > 0


def test_gunicorn_makes_no_shared_control_socket(tmp_path, database_url):
    _serve_once(tmp_path, database_url)
    assert not (tmp_path / ".gunicorn").exists()


def test_web_host_chooses_the_address_gunicorn_binds(tmp_path, database_url):
    _, err = _serve_once(tmp_path, database_url, WEB_HOST="127.0.0.1")
    assert any("Listening at: http://127.0.0.1:" in line for line in err)
    bad = subprocess.run(_gunicorn_cmd(), cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env=_env(DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET, WEB_HOST="a b"))
    assert bad.returncode == 2 and "WEB_HOST" in bad.stderr


def _post_chunked(port: int, path: str, body: bytes) -> bytes:
    """POST `body` with Transfer-Encoding: chunked; the raw answer (the server may answer early)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode())
        try:
            for start in range(0, len(body), 65536):
                chunk = body[start:start + 65536]
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed before taking the whole body
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def test_a_2_mb_chunked_body_is_a_413_under_gunicorn(tmp_path, database_url):
    answers = []
    _serve_once(tmp_path, database_url, during=lambda port: answers.append(
        _post_chunked(port, "/v1/email/unsubscribe", b'{"email": "' + b"a" * 2_000_000 + b'"}')))
    assert answers[0].startswith(b"HTTP/1.1 413 "), answers[0][:300]
    assert b'"payload_too_large"' in answers[0]


_BOOTING_WORKER = """
import os, queue, runpy, signal, sys, time
hooks = runpy.run_path("gunicorn.conf.py")
class Server:
    SIG_QUEUE = queue.SimpleQueue()
if sys.argv[1] == "queued":  # arrived between the fork and the hook: the master's handler queued it
    Server.SIG_QUEUE.put_nowait(signal.SIGQUIT)
    hooks["post_fork"](Server(), None)
else:  # arrives after the hook, before the worker's own handlers
    hooks["post_fork"](Server(), None)
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    time.sleep(5)
print("served on")
"""


def test_a_worker_told_to_stop_while_it_boots_stops_at_once(database_url):
    """Ctrl-C while gunicorn forks its workers: a worker that got SIGQUIT before installing its own
    handlers used to serve on, and the master waited 30 s before killing it (post_fork closes that)."""
    for case in ("queued", "SIGQUIT", "SIGINT", "SIGTERM"):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", _BOOTING_WORKER, case], cwd=ROOT, capture_output=True,
                                text=True, timeout=30, env=_env(DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET))
        assert (result.returncode, result.stdout) == (0, ""), (case, result.stdout, result.stderr)
        assert time.monotonic() - started < 5, case
