"""The worker's supervisor: processes for isolation, threads for throughput.

`python -m worker` keeps WORKER_PROCESSES child processes running (worker/child.py), each with up to
WORKER_CONCURRENCY runs in threads. The supervisor runs no task and owns no business rule: it starts
children, hears from each which jobs it takes and which end (worker/link.py), replaces the ones that
end, and hands their unfinished runs back through core.runs.lifecycle at once, without waiting for a
lease to run out. PostgreSQL holds the truth, so a child can be killed at any moment.

How a child ends decides what its unfinished runs cost:
- It stopped on its own (exit 0 after saying why: a run past JOB_TIMEOUT, whose attempt it ended
  itself, with WORKER_TIMEOUT_GRACE for the others; a recycle after WORKER_MAX_RUNS or above
  WORKER_MAX_MEMORY_MB): the runs it left are handed back, no attempt counted.
- The supervisor killed it (a run past its timeout + grace that the process did not stop, say a task
  holding the GIL in C): that run's attempt ends with a timeout; the others are handed back.
- It died (a segfault, `os._exit`, the OOM killer, a kill -9): any of its runs may have killed it. All
  are handed back as suspects, no attempt counted, and run again each alone in a quarantine process (up
  to WORKER_PROCESSES of them, each running one run at a time, leaving when none waits). The run present
  in every death of its processes fails with the signal or exit code as its reason ("the task's process
  was killed by SIGSEGV"); its neighbours lose nothing.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import redis

from core.engine import tzdb
from core.ops import db
from core.runs import lifecycle, rq_jobs
from worker.jobs import killed_after
from worker.link import NOT_A_RUN, Held, ParentEnd

logger = logging.getLogger("worker")

# A child not heard from for this long is stuck (a task holding the interpreter in C code): killed.
SILENCE_LIMIT = 60.0
QUARANTINE_CHECK_EVERY = 1.0
LISTEN_SECONDS = 0.5
# Waits before replacing a child that died before it took any job, so many times in a row (a broken
# environment: a child that cannot start must not be restarted in a tight loop).
RESPAWN_DELAYS = (0, 1, 2, 5, 10, 30)
# Waits between attempts to hand runs back while PostgreSQL is unreachable.
HAND_BACK_DELAYS = (1, 2, 4, 8, 15)


@dataclass(eq=False)
class Child:
    process: subprocess.Popen
    end: ParentEnd
    quarantine: bool
    started: float
    killed_because: str | None = None       # the supervisor killed it, and why
    told_to_stop: bool = False              # sent SIGTERM because the supervisor is stopping
    late: set[str] = field(default_factory=set)  # its jobs past their timeout when it was killed

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Owed:
    """A hand-back PostgreSQL could not take yet: tried again until it does."""

    held: list[Held]
    why: str
    suspect: bool
    solo: bool
    late: set[str]


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the task's process was killed by {name}"
    return f"the task's process exited with code {returncode}"


class Supervisor:
    def __init__(self, settings, *, burst: bool = False, clock=time.monotonic):
        self.settings = settings
        self.burst = burst
        self.clock = clock
        self.children: list[Child] = []
        self._stopping = 0                  # signals received: 1 = stop gently, 2 = kill the children
        self._stillborn = 0
        self._next_spawn_at = 0.0
        self._next_quarantine_check = 0.0
        self._owed: list[Owed] = []
        self._next_owed_try = 0.0
        self._owed_failures = 0
        self._conn = None
        self._redis = None
        self._burst_started = 0

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        logger.info("Worker supervisor %d started: %d process(es) x %d runs in flight on queue '%s', tz database %s",
                    os.getpid(), self.settings.worker_processes, self.settings.worker_concurrency,
                    self.settings.queue_name, tzdb.in_use())
        try:
            while True:
                if not self._stopping:
                    self._keep_children()
                else:
                    self._stop_children()
                self._listen(LISTEN_SECONDS)
                self._reap()
                self._enforce()
                self._settle_owed()
                if not self.children and (self._stopping or (self.burst and not self._quarantine_waiting())):
                    break
        finally:
            self._settle_owed(final=True)
            if self._conn is not None:
                self._conn.close()
        logger.info("Worker supervisor %d stopped", os.getpid())
        return 0

    def _on_signal(self, signum, frame) -> None:
        self._stopping += 1
        if self._stopping == 1:
            logger.info("Worker supervisor: %s received; the processes finish the runs in flight, then stop",
                        signal.Signals(signum).name)
        self._stop_children()

    def _stop_children(self) -> None:
        """SIGTERM, once, to every child (the second signal: SIGKILL). Called by the handler and again
        by the loop: a signal that lands while _spawn starts a child runs before the child is listed,
        and that child must be told too."""
        if self._stopping > 1:
            self._kill_all("the supervisor was told twice to stop")
            return
        for child in list(self.children):
            if not child.told_to_stop and child.killed_because is None:
                child.told_to_stop = True
                self._signal(child, signal.SIGTERM)

    # ------------------------------------------------------------------ children

    def _keep_children(self) -> None:
        now = self.clock()
        working = [c for c in self.children if not c.quarantine and c.end.stopping is None]
        if len(working) < self.settings.worker_processes and now >= self._next_spawn_at and not self._ended_burst():
            self._spawn(quarantine=False)
        if now >= self._next_quarantine_check:
            self._next_quarantine_check = now + QUARANTINE_CHECK_EVERY
            # Up to WORKER_PROCESSES quarantine processes, one started a second while runs wait there.
            quarantined = sum(c.quarantine for c in self.children)
            if quarantined < self.settings.worker_processes and self._quarantine_waiting():
                self._spawn(quarantine=True)

    def _ended_burst(self) -> bool:
        """In burst mode the first children run what is queued; none is started after they leave."""
        return self.burst and self._burst_started >= self.settings.worker_processes

    def _spawn(self, *, quarantine: bool) -> Child:
        read_fd, write_fd = os.pipe()
        queue = rq_jobs.quarantine_queue(self.settings.queue_name) if quarantine else self.settings.queue_name
        args = [sys.executable, "-m", "worker.child", "--queue", queue, "--link-fd", str(write_fd),
                "--concurrency", "1" if quarantine else str(self.settings.worker_concurrency)]
        if quarantine or self.burst:
            args.append("--burst")
        # A session of its own: a Ctrl-C in the terminal reaches the supervisor, which stops the children
        # once, gently. A child whose supervisor dies notices (worker/link.py) and stops by itself.
        process = subprocess.Popen(args, pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        child = Child(process, ParentEnd(read_fd, self.clock), quarantine, self.clock())
        self.children.append(child)
        if self.burst and not quarantine:
            self._burst_started += 1
        logger.info("Started worker process %d%s", child.pid, " (quarantine: one run at a time)" if quarantine else "")
        return child

    def _listen(self, timeout: float) -> None:
        ends = {child.end.fd: child for child in self.children if child.end.fd is not None}
        try:
            ready, _, _ = select.select(list(ends), [], [], timeout if ends else min(timeout, 0.1))
        except InterruptedError:
            return
        for fd in ready:
            ends[fd].end.read()

    def _reap(self) -> None:
        for child in list(self.children):
            code = child.process.poll()
            if code is None:
                continue
            child.end.read()
            child.end.close()
            self.children.remove(child)
            self._ended(child, code)

    def _enforce(self) -> None:
        """Kill a child whose run is past its timeout + grace (it failed to stop), or that went silent."""
        now = self.clock()
        grace = self.settings.worker_timeout_grace
        for child in self.children:
            if child.killed_because is not None:
                continue
            late = {h.job_id for h in child.end.held.values() if now > h.taken_at + killed_after(h.timeout, grace)}
            if late:
                child.late = late
                self._kill(child, "a run went past its timeout and the process did not stop")
            elif now - child.end.last_heard > SILENCE_LIMIT:
                self._kill(child, f"it was not heard from for {SILENCE_LIMIT:g}s")

    def _kill(self, child: Child, why: str) -> None:
        child.killed_because = why
        logger.error("Killing worker process %d: %s", child.pid, why)
        self._signal(child, signal.SIGKILL)

    def _kill_all(self, why: str) -> None:
        for child in self.children:
            if child.killed_because is None:
                self._kill(child, why)

    @staticmethod
    def _signal(child: Child, signum) -> None:
        try:
            child.process.send_signal(signum)
        except ProcessLookupError:
            pass  # it ended already: _reap hears of it

    # ------------------------------------------------------------------ a child ended

    def _ended(self, child: Child, code: int) -> None:
        held = [h for h in child.end.held.values() if h.run_id != NOT_A_RUN]
        # Told to stop while it was starting, before its own handlers: SIGTERM's default ended it.
        stopped_early = child.told_to_stop and code == -signal.SIGTERM and not held
        if child.killed_because is not None:
            why = f"its worker process was killed by the supervisor ({child.killed_because})"
            owed = Owed(held, why, suspect=not child.late and not self._stopping, solo=False, late=child.late)
        elif code == 0 and (child.end.stopping is not None or not held) or stopped_early:
            why = f"its worker process stopped ({child.end.stopping or 'asked to'})"
            owed = Owed(held, why, suspect=False, solo=False, late=set())
        else:
            owed = Owed(held, describe_exit(code), suspect=True, solo=len(held) == 1, late=set())
        if (code != 0 or held) and not stopped_early:
            logger.log(logging.ERROR if owed.suspect else logging.WARNING,
                       "Worker process %d ended (%s) with %d run(s) in flight", child.pid,
                       describe_exit(code).replace("the task's process ", "") if code else "exit 0", len(held))
        stillborn = code != 0 and not child.end.taken and child.killed_because is None and not stopped_early
        self._stillborn = self._stillborn + 1 if stillborn else 0
        delay = RESPAWN_DELAYS[min(self._stillborn, len(RESPAWN_DELAYS) - 1)]
        self._next_spawn_at = self.clock() + delay
        if delay:
            logger.warning("Worker processes keep dying before they take a job: the next starts in %ds", delay)
        if held:
            self._owed.append(owed)
            self._next_owed_try = 0.0
            self._forget_in_redis(child, held)
        else:
            self._forget_in_redis(child, [])

    def _settle_owed(self, final: bool = False) -> None:
        """Hand back what ended children left, as long as PostgreSQL takes it (else later; the runs'
        leases are the last resort if the supervisor itself dies first)."""
        if not self._owed or (self.clock() < self._next_owed_try and not final):
            return
        while self._owed:
            owed = self._owed[0]
            try:
                self._hand_back(owed)
            except db.CONNECTION_ERRORS as exc:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                delay = HAND_BACK_DELAYS[min(self._owed_failures, len(HAND_BACK_DELAYS) - 1)]
                self._owed_failures += 1
                self._next_owed_try = self.clock() + delay
                logger.error("Could not hand back %d run(s): %s: %s (retrying in %ds)", len(owed.held),
                             type(exc).__name__, str(exc).strip(), delay)
                return
            self._owed.pop(0)
            self._owed_failures = 0

    def _hand_back(self, owed: Owed) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = db.connect(self.settings.database_url, application_name="worker-supervisor")
        late = [h for h in owed.held if h.job_id in owed.late]
        for h in late:
            error = (f"JobTimeoutException: Task exceeded maximum timeout value ({h.timeout:g} seconds); "
                     f"its process did not stop and was killed")
            with db.service_transaction(self._conn) as cur:
                outcome = lifecycle.end_timed_out(cur, h.run_id, h.attempt, error, self.settings)
            if outcome:
                logger.error("Run %s %s: %s", h.run_id, "will be retried" if outcome == "retrying" else "failed",
                             error, extra={"run_id": h.run_id})
        rest = [(h.run_id, h.attempt) for h in owed.held if h.job_id not in owed.late]
        for back in lifecycle.hand_back(self._conn, self.settings, rest, why=owed.why, suspect=owed.suspect,
                                        solo=owed.solo):
            if back.outcome == "failed":
                logger.error("Run %s of schedule %s failed: %s", back.run_id, back.schedule_id, back.error,
                             extra={"run_id": back.run_id, "schedule_id": back.schedule_id})
            else:
                logger.warning("Run %s of schedule %s handed back%s: %s", back.run_id, back.schedule_id,
                               " to quarantine" if owed.suspect else "", owed.why,
                               extra={"run_id": back.run_id, "schedule_id": back.schedule_id})

    def _forget_in_redis(self, child: Child, held: list[Held]) -> None:
        """Drop what RQ keeps of a dead child (its worker entry, its jobs' executions), so that `rq info`
        shows no ghost and RQ's clean-up never fails a job pushed again under the same id."""
        try:
            rq_jobs.forget_worker(self._redis_connection(), f"{socket.gethostname()}.{child.pid}",
                                  [(h.queue, h.job_id, h.execution_id) for h in held])
        except redis.RedisError as exc:
            logger.warning("Could not clear worker process %d's entries in Redis: %s", child.pid, exc)

    def _quarantine_waiting(self) -> bool:
        try:
            quarantine = rq_jobs.quarantine_queue(self.settings.queue_name)
            return bool(rq_jobs.queued_count(self._redis_connection(), quarantine))
        except redis.RedisError:
            return False

    def _redis_connection(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        return self._redis
