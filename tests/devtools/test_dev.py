"""`make dev` (python -m devtools.dev), run as a newcomer runs it: embedded servers, web, ticker and
worker; the API on 127.0.0.1 only; Ctrl-C stops every process and both embedded servers even when the
reader of its output went away first (`make dev | tee out`, and Ctrl-C killed tee)."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the IPv4 sockets listening on `port` (hex, as /proc/net/tcp has them)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, hex_port = fields[1].split(":")
        if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(address)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _read_until(pipe, wanted: list[str], timeout: float) -> str:
    """Read the pipe until every string in `wanted` has appeared; returns what was read."""
    text, deadline = "", time.monotonic() + timeout
    while not all(item in text for item in wanted):
        left = deadline - time.monotonic()
        assert left > 0, f"waited {timeout}s for {wanted}; read:\n{text[-3000:]}"
        ready, _, _ = select.select([pipe], [], [], left)
        if ready:
            chunk = os.read(pipe.fileno(), 65536)
            assert chunk, f"make dev closed its output; read:\n{text[-3000:]}"
            text += chunk.decode("utf-8", "replace")
    return text


def test_ctrl_c_stops_everything_even_after_the_reader_of_stdout_died(tmp_path):
    port, data = _free_port(), tmp_path / "devdata"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "DEV_DATA_DIR": str(data),
           "PORT": str(port)}
    stderr = tmp_path / "stderr"
    with open(stderr, "wb") as err:
        # Its own process group, as a terminal's foreground job: Ctrl-C sends SIGINT to the group.
        dev = subprocess.Popen([sys.executable, "-m", "devtools.dev"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    try:
        shown = _read_until(dev.stdout, ["export TOKEN=", f"Listening at: http://127.0.0.1:{port}",
                                         "Schedules ticker started"], timeout=120)
        assert "Traceback" not in shown
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, not 0.0.0.0
        time.sleep(2)  # let the worker start and everything connect
        processes = _descendants(dev.pid)
        postmaster = int((data / "postgres" / "postmaster.pid").read_text().split()[0])
        assert _alive(postmaster) and len(processes) >= 4  # gunicorn (+ worker), ticker, worker, redis

        dev.stdout.close()  # tee died first
        os.killpg(dev.pid, signal.SIGINT)
        assert dev.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in processes | {postmaster}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {pid for pid in processes | {postmaster} if _alive(pid)} == set()
        assert "Traceback" not in stderr.read_text() and "BrokenPipe" not in stderr.read_text()
    finally:
        _kill_everything(dev, data)


def _kill_everything(dev, data: Path) -> None:
    """Whatever a failed test left running: make dev, what it started, the embedded PostgreSQL."""
    pids = _descendants(dev.pid)
    pidfile = data / "postgres" / "postmaster.pid"
    if pidfile.exists():
        pids.add(int(pidfile.read_text().split()[0]))
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    if dev.poll() is None:
        os.killpg(dev.pid, signal.SIGKILL)
        dev.wait()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_sigint_stops_everything_when_started_in_the_background_with_sigint_ignored(tmp_path):
    """`setsid make dev > log &` from a script: the job inherits SIGINT ignored. `kill -INT` of make
    dev alone still stops it and everything it started, each process on its own (no SIGKILL)."""
    port, data = _free_port(), tmp_path / "devdata"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "DEV_DATA_DIR": str(data),
           "PORT": str(port)}
    dev = subprocess.Popen([sys.executable, "-m", "devtools.dev"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_ignore_sigint)
    try:
        _read_until(dev.stdout, [f"Listening at: http://127.0.0.1:{port}", "Schedules ticker started",
                                 "Worker supervisor"], timeout=120)
        processes = _descendants(dev.pid)
        os.kill(dev.pid, signal.SIGINT)  # the runner alone, not its process group
        assert dev.wait(timeout=30) == 0
        rest = dev.stdout.read().decode("utf-8", "replace")
        assert "stopping" in rest and "killing" not in rest
        assert "web stopped (status 0)" in rest and "ticker stopped (status 0)" in rest
        assert {pid for pid in processes if _alive(pid)} == set()
    finally:
        _kill_everything(dev, data)
