"""Run the Procfile's processes side by side for `make dev`: their output interleaved, each line
prefixed by the time and the process name; Ctrl-C stops them all.

Written for two failures of the process manager used before (honcho): when whoever reads our stdout
goes away first (`make dev | tee out`, and Ctrl-C kills tee), printing "SIGINT received" raised
BrokenPipeError and left every process running. Here a failed write only stops the output; stopping
never depends on it. Each process runs in its own session, so only this runner signals it: the first
Ctrl-C (or SIGTERM) sends SIGINT to every process group and waits up to STOP_SECONDS; a second Ctrl-C,
or the wait running out, sends SIGKILL. One process exiting stops the others, as in honcho. Started by
`make`, the runner also stops when make goes away (`kill <make's pid>`: make does not pass a signal on
to its recipe, so without this the service would run on, orphaned).
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

STOP_SECONDS = 10.0


def read_procfile(path: Path) -> dict[str, str]:
    """{name: command} of `name: command` lines; blank lines and # comments are skipped."""
    commands = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = command.strip()
    return commands


class Output:
    """Lines to a stream that may go away: after the first failed write, output is dropped."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def line(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except OSError:  # BrokenPipeError: the reader is gone
            self.stream = None
            # Python flushes stdout again at exit and would print a BrokenPipeError about it.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass


def _is_make(pid: int) -> bool:
    """Whether process `pid` is make (Linux's /proc; elsewhere, never)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("make", "gmake")
    except OSError:
        return False


class Runner:
    def __init__(self, commands: dict[str, str], *, env: dict, cwd: Path, output: Output):
        self.commands, self.env, self.cwd, self.output = commands, env, cwd, output
        self.processes: dict[str, subprocess.Popen] = {}
        self.lines: queue.Queue = queue.Queue()
        self.readers: list[threading.Thread] = []
        self.width = max(map(len, commands), default=0)

    def run(self) -> int:
        """Start every process, show their output until Ctrl-C or one of them exits, stop them all.
        The status is 0 after Ctrl-C, else the status of the process that exited first."""
        status = 0
        parent = os.getppid()
        watch_parent = _is_make(parent)
        try:
            for name, command in self.commands.items():
                self._start(name, command)
            while True:
                self._show(timeout=0.2)
                exited = [(name, p.returncode) for name, p in self.processes.items() if p.poll() is not None]
                if exited:
                    name, status = exited[0]
                    self._say(f"{name} exited with status {status}: stopping the others")
                    break
                if watch_parent and os.getppid() != parent:
                    self._say("make stopped: stopping everything")
                    break
        except KeyboardInterrupt:
            self._say("stopping (Ctrl-C again to kill)")
        self._stop()
        return status

    def _start(self, name: str, command: str) -> None:
        process = subprocess.Popen(["/bin/sh", "-c", f"exec {command}"], cwd=self.cwd, env=self.env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        reader = threading.Thread(target=self._read, args=(name, process.stdout), daemon=True)
        reader.start()
        self.readers.append(reader)
        self._say(f"{name} started (pid {process.pid}): {command}")

    def _read(self, name: str, pipe) -> None:
        for raw in iter(pipe.readline, b""):
            self.lines.put((name, raw.decode("utf-8", "replace").rstrip("\n")))
        pipe.close()

    def _show(self, timeout: float) -> None:
        try:
            name, text = self.lines.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self.output.line(f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} | {text}")
            try:
                name, text = self.lines.get_nowait()
            except queue.Empty:
                return

    def _say(self, text: str) -> None:
        self.lines.put(("system", text))
        self.width = max(self.width, len("system"))

    def _signal_all(self, signum: int) -> None:
        for process in self.processes.values():
            # SIGKILL goes to every group: a leader that exited may have left children in it.
            if process.poll() is None or signum == signal.SIGKILL:
                try:
                    os.killpg(process.pid, signum)
                except ProcessLookupError:
                    pass

    def _stop(self) -> None:
        self._signal_all(signal.SIGINT)
        deadline = time.monotonic() + STOP_SECONDS
        try:
            while any(p.poll() is None for p in self.processes.values()):
                if time.monotonic() > deadline:
                    self._say(f"still running after {STOP_SECONDS:g}s: killing")
                    break
                self._show(timeout=0.1)
        except KeyboardInterrupt:
            pass
        self._signal_all(signal.SIGKILL)
        for name, process in self.processes.items():
            process.wait()
            self._say(f"{name} stopped (status {process.returncode})")
        for reader in self.readers:  # their last lines, written before the pipes closed
            reader.join(timeout=1)
        self._show(timeout=0)
