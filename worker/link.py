"""The wire between a worker process and its supervisor: what the child tells, and what the parent hears.

A child (worker/child.py) writes one line per event to a pipe its supervisor (worker/supervisor.py)
reads, so that the supervisor knows, whatever way the child ends, exactly which runs it held:

    T <job id> <execution id> <queue> <run id> <attempt> <timeout>   took a job
    E <job id>                                                         a job ended (or was given up)
    H                                                                  alive (about once a second)
    S <reason>                                                         stopping on its own, cleanly

The pipe is written without blocking: a line the pipe cannot take now waits in the child's memory for
the next write, so a busy supervisor never stalls a child's loop. A write that finds the pipe closed
means the supervisor is gone.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from worker import entry_points


@dataclass(frozen=True)
class Held:
    """A job a child took: the run and attempt it executes, and when it must be over."""

    job_id: str
    execution_id: str
    queue: str
    run_id: str              # NOT_A_RUN: a job that executes no run
    attempt: int
    timeout: float           # the job's timeout, seconds
    taken_at: float          # the supervisor's time.monotonic() when it heard of it


NOT_A_RUN = "-"


def run_of(job) -> tuple[str, int]:
    """(run id, attempt) of a run's job (execute_run(run_id[, attempt])); (NOT_A_RUN, 0)
    for any other job found on the queue (the supervisor has no run to hand back for it)."""
    if job.func_name != entry_points.RUN or not job.args:
        return NOT_A_RUN, 0
    run_id, *rest = job.args
    return str(run_id), int(rest[0] if rest else job.kwargs.get("attempt", 1))


class ChildLink:
    """The child's end: ThreadedWorker's `link`."""

    def __init__(self, fd: int, default_timeout: int):
        self.fd = fd
        self.default_timeout = default_timeout
        self.parent = os.getppid()
        self._unsent = bytearray()
        self._broken = False
        os.set_blocking(fd, False)

    def took(self, jobs, executions: dict[str, str]) -> None:
        lines = []
        for job in jobs:
            run_id, attempt = run_of(job)
            timeout = job.timeout if job.timeout is not None and job.timeout > 0 else self.default_timeout
            lines.append(f"T {job.id} {executions[job.id]} {job.origin} {run_id} {attempt} {timeout:g}\n")
        self._write("".join(lines))

    def ended(self, jobs) -> None:
        self._write("".join(f"E {job.id}\n" for job in jobs))

    def beat(self) -> None:
        self._write("H\n")

    def stopping(self, reason: str) -> None:
        self._write(f"S {' '.join(reason.split())}\n")

    def supervisor_alive(self) -> bool:
        return not self._broken and os.getppid() == self.parent

    def _write(self, text: str) -> None:
        if self._broken:
            return
        self._unsent += text.encode()
        try:
            while self._unsent:
                written = os.write(self.fd, self._unsent)
                del self._unsent[:written]
        except BlockingIOError:
            pass  # the pipe is full: the rest goes with the next write
        except OSError:  # EPIPE: the supervisor is gone
            self._broken = True


class ParentEnd:
    """The supervisor's end of one child's pipe: reads what is there and keeps the child's held jobs."""

    def __init__(self, fd: int, clock):
        self.fd = fd
        self.clock = clock
        self.held: dict[str, Held] = {}
        self.taken = 0                       # jobs it took in all
        self.stopping: str | None = None
        self.last_heard = clock()
        self._partial = b""
        os.set_blocking(fd, False)

    def read(self) -> bool:
        """Take in what the child wrote; False once the pipe is closed (the child is gone)."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self.last_heard = self.clock()
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for line in lines:
                self._hear(line.decode(errors="replace"))

    def _hear(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "T":
            job_id, execution_id, queue, run_id, attempt, timeout = rest.split(" ")
            self.held[job_id] = Held(job_id, execution_id, queue, run_id, int(attempt), float(timeout), self.clock())
            self.taken += 1
        elif kind == "E":
            self.held.pop(rest, None)
        elif kind == "S":
            self.stopping = rest

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
