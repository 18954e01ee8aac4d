"""An RQ worker that keeps up to `concurrency` jobs in flight, each in a thread of the worker process.

RQ's own Worker forks a work horse per job and runs one job at a time; its SimpleWorker runs one job
at a time in-process. A run spends most of its time waiting (PostgreSQL, the mail server, a task's
own I/O), so this worker keeps dequeuing while it has free slots and runs the jobs in a pool of
threads that share the process's connections (worker/jobs.py's WorkerContext).

To RQ it is a worker like any other: it registers itself, heartbeats, and records each job as RQ's
worker does (an Execution in the StartedJobRegistry and status `started` when it starts; status,
result and the finished or failed registry when it ends), so `rq info` and rq-dashboard show the
queue, the workers and the jobs (how a job is taken and recorded in RQ's format is core.runs.rq_jobs's;
this module decides when). The bookkeeping of every job started (or ended) since the last turn of the
loop goes to Redis in one pipeline (not a MULTI/EXEC transaction: nothing reads it half written, and
PostgreSQL, not Redis, says where a run stands), and jobs are taken from the queue in batches, each
job marked `started` in the same atomic step. With every slot busy the loop lets a fifth of them free
up (REFILL_WAIT at most) before its next turn, so Redis costs a few round trips per batch of jobs, not
per job.

A job past its timeout cannot be stopped inside a thread, so the process that runs it stops instead:
`on_timeout(job, error)` ends the attempt in PostgreSQL (worker/jobs.py's expire_run: a compare-and-set
on the attempt, so the stuck thread's later writes find no row), the RQ job is failed, and the worker
takes no more jobs, lets the others in flight finish for `timeout_grace` seconds, and leaves its loop
(`stop_reason` says why). Its supervisor (worker/supervisor.py) hands back what was left unfinished and
starts a fresh process, so a task that loops for ever costs its own run, and the CPU it burns ends with
the process. The worker also stops, after finishing what it has, once it ran `max_jobs_per_process`
jobs or its memory grew past `memory_limit_mb` (a fresh process replaces it), and when its supervisor
is gone.

It tells its supervisor, through `link` (worker/link.py), each job it takes and each that ends, so a
process that dies is known to have held exactly the runs it held. PostgreSQL unreachable (a job raised
`unavailable`): the job goes back to the head of its queue if its run was not taken yet, and the
worker takes no job until `database_answers()` says PostgreSQL is back (1, 2, 4 ... 30 s apart).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime

import redis
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job
from rq.utils import now
from rq.worker import BaseWorker, WorkerStatus

from core.runs import rq_jobs

logger = logging.getLogger("worker")

HEARTBEAT_EVERY = 5.0  # seconds between worker heartbeats while busy (the key lives worker_ttl + 60 s)
LINK_BEAT_EVERY = 1.0  # seconds between "alive" messages to the supervisor
LONGEST_BLOCK = 5      # seconds an idle worker waits for a job before it looks around (supervisor, stop)
MEMORY_CHECK_EVERY = 5.0  # seconds between looks at the process's resident memory
DATABASE_BACKOFF = (1, 2, 4, 8, 16, 30)  # seconds between looks at PostgreSQL while it is unreachable
IDLE_POLL = 0.05       # seconds to wait for a job to end when the queue is empty but jobs are in flight
SUSPENSION_CHECK_EVERY = 1.0  # seconds between checks of `rq suspend` (a Redis round trip each)
# With every slot busy, the loop waits for a fifth of them to free up (or REFILL_WAIT after the first
# did) before it records the ended jobs and takes new ones: Redis then costs a few round trips per
# batch of jobs, not per job. A slot waits at most REFILL_WAIT for its next job.
REFILL_FRACTION = 0.2
REFILL_WAIT = 0.05


@dataclass(eq=False)
class Slot:
    """One job in flight."""

    job: Job
    queue: object
    execution: Execution
    started: float                          # time.monotonic()
    deadline: float | None                  # time.monotonic() past which the job is given up
    ok: bool = False
    return_value: object = None
    exc_string: str = ""
    error: BaseException | None = None      # what the job raised
    done: bool = False                      # the thread finished it (under ThreadedWorker._slot_lock)
    abandoned: bool = False                 # the loop gave up on it (idem)
    ended_at: datetime | None = field(default=None)


class ThreadedWorker(BaseWorker):
    def __init__(self, queues, *, concurrency: int, on_timeout=None, default_job_timeout: int = 600,
                 timeout_grace: float = 10.0, link=None, max_jobs_per_process: int = 0, memory_limit_mb: int = 0,
                 unavailable: type[BaseException] | None = None, database_answers=None, **kwargs):
        super().__init__(queues, **kwargs)
        self.concurrency = concurrency
        self.on_timeout = on_timeout
        self.default_job_timeout = default_job_timeout
        self.timeout_grace = timeout_grace
        self.link = link or NoLink()
        self.max_jobs_per_process = max_jobs_per_process
        self.memory_limit_mb = memory_limit_mb
        self.unavailable = unavailable
        self.database_answers = database_answers
        self.stop_reason: str | None = None     # why the loop ended (a timeout, a recycle), None: asked to
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._ended: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._in_flight: dict[str, Slot] = {}
        self._threads = 0
        self._slot_lock = threading.Lock()
        self._last_heartbeat_at = 0.0
        self._last_link_beat = 0.0
        self._next_suspension_check = 0.0
        self._next_memory_check = 0.0
        self._memory_checked_at_job = 0
        self._refill_batch = max(1, int(concurrency * REFILL_FRACTION))
        self._jobs_done = 0                     # jobs ended in this process (it runs one work() loop)
        self._drain_until: float | None = None  # taking no more jobs; leave the loop by then (inf: none left)
        self._database_failures = 0
        self._database_retry_at: float | None = None

    # ------------------------------------------------------------------ the loop

    def work(self, burst: bool = False, logging_level: str | None = None, max_jobs: int | None = None,
             **kwargs) -> bool:
        self.bootstrap(logging_level or "INFO")
        self._install_signal_handlers()
        try:
            while True:
                try:
                    self._jobs_done += self._reap()
                    self._give_up_late_jobs()
                    self._beat_link()
                    self._look_around()
                    if self._drain_until is not None:
                        if not self._in_flight or time.monotonic() >= self._drain_until:
                            break
                        self._wake.wait(IDLE_POLL)
                        self._wake.clear()
                        continue
                    if self._stop_requested:
                        if not self._in_flight:
                            self.log.info("Worker %s: stopping on request", self.name)
                            break
                        self._wake.wait(IDLE_POLL)
                        self._wake.clear()
                        continue
                    if max_jobs is not None and self._jobs_done >= max_jobs and not self._in_flight:
                        break
                    if time.monotonic() >= self._next_suspension_check:
                        self.check_for_suspension(burst)
                        self._next_suspension_check = time.monotonic() + SUSPENSION_CHECK_EVERY
                    if self.should_run_maintenance_tasks:
                        self.run_maintenance_tasks()
                    self._keep_alive()
                    if not self._database_is_back():
                        self._wake.wait(IDLE_POLL if self._in_flight else 0.5)
                        self._wake.clear()
                        continue
                    free = self.concurrency - len(self._in_flight)
                    if free < self._refill_batch and self._in_flight:
                        self._wait_for_ends(self._refill_batch - free)
                        continue
                    taken = self._dequeue(free, block=not self._in_flight and not burst)
                    if taken:
                        self._start(taken)
                    elif not self._in_flight:
                        if burst:
                            self.log.info("Worker %s: done, quitting", self.name)
                            break
                    else:
                        self._wake.wait(IDLE_POLL)
                        self._wake.clear()
                except redis.exceptions.ConnectionError as exc:
                    self.log.error("Worker %s: Redis unreachable (%s); retrying in 1s", self.name, exc)
                    time.sleep(1)
                except StopRequested:
                    break
        finally:
            for _ in range(self._threads):
                self._todo.put(None)
            self.teardown()
        return bool(self._jobs_done)

    # ------------------------------------------------------------------ when to stop taking jobs

    def _drain(self, reason: str, grace: float | None) -> None:
        """Take no more jobs; leave the loop once those in flight ended, or after `grace` seconds."""
        if self._drain_until is not None:
            return
        self.stop_reason = reason
        self._drain_until = time.monotonic() + grace if grace is not None else float("inf")
        self.link.stopping(reason)
        if self._in_flight:
            self.log.warning("Worker %s: %s; taking no more jobs, letting the %d in flight finish%s", self.name,
                             reason, len(self._in_flight), f" for up to {grace:g}s" if grace is not None else "")
        else:
            self.log.info("Worker %s: %s", self.name, reason)

    def _look_around(self) -> None:
        """Recycle after max_jobs_per_process jobs or past memory_limit_mb; stop when the supervisor is gone."""
        if self._drain_until is not None:
            return
        if not self.link.supervisor_alive():
            self._drain("its supervisor is gone", self.timeout_grace)
        elif self.max_jobs_per_process and self._jobs_done >= self.max_jobs_per_process:
            self._drain(f"recycled after {self._jobs_done} jobs (WORKER_MAX_RUNS)", None)
        elif self.memory_limit_mb and (self._jobs_done != self._memory_checked_at_job
                                       or time.monotonic() >= self._next_memory_check):
            # After each batch of ended jobs (a job is what grows a process), and every few seconds.
            self._memory_checked_at_job = self._jobs_done
            self._next_memory_check = time.monotonic() + MEMORY_CHECK_EVERY
            rss = resident_mb()
            if rss is not None and rss > self.memory_limit_mb:
                self._drain(f"recycled at {rss:.0f} MB resident (WORKER_MAX_MEMORY_MB={self.memory_limit_mb})", None)

    def _beat_link(self) -> None:
        if time.monotonic() - self._last_link_beat >= LINK_BEAT_EVERY:
            self.link.beat()
            self._last_link_beat = time.monotonic()

    def _database_is_back(self) -> bool:
        """False while PostgreSQL is unreachable (a job found it so): no job is taken then."""
        if self._database_retry_at is None:
            return True
        if time.monotonic() < self._database_retry_at:
            return False
        if self.database_answers is not None and not self.database_answers():
            self._database_unreachable()
            return False
        self.log.info("Worker %s: PostgreSQL answers again; taking jobs", self.name)
        self._database_failures, self._database_retry_at = 0, None
        return True

    def _database_unreachable(self) -> None:
        delay = DATABASE_BACKOFF[min(self._database_failures, len(DATABASE_BACKOFF) - 1)]
        if not self._database_failures:
            self.log.error("Worker %s: PostgreSQL is unreachable; taking no jobs until it answers (next look in "
                           "%ds)", self.name, delay)
        self._database_failures += 1
        self._database_retry_at = time.monotonic() + delay

    def _wait_for_ends(self, wanted: int) -> None:
        """Wait (at most 1 s) for a job to end, then up to REFILL_WAIT more until `wanted` have."""
        if self._ended.empty():
            self._wake.wait(1.0)
            self._wake.clear()
        deadline = time.monotonic() + REFILL_WAIT
        while self._ended.qsize() < wanted and not self._stop_requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wake.wait(remaining)
            self._wake.clear()

    def _keep_alive(self) -> None:
        if time.monotonic() - self._last_heartbeat_at >= HEARTBEAT_EVERY:
            self.heartbeat()
            self._last_heartbeat_at = time.monotonic()

    # ------------------------------------------------------------------ taking jobs

    def _dequeue(self, free: int, *, block: bool) -> list[tuple[Job, object]]:
        """Up to `free` jobs from the queues, in order; waits up to 30 s for one when `block`."""
        if block:
            self.set_state(WorkerStatus.IDLE)
            self.procline(f"Listening on {','.join(self.queue_names())}")
            # Wait without taking: BLMOVE from a queue's head to its own head returns as soon as the
            # queue has a job and leaves it in place (a job popped here would be lost with the worker).
            timeout = max(1, min(self.dequeue_timeout, LONGEST_BLOCK))
            if len(self._ordered_queues) == 1:
                q = self._ordered_queues[0]
                waited = self.connection.blmove(q.key, q.key, timeout, "LEFT", "LEFT")
            else:
                waited = self.connection.blpop([q.key for q in self._ordered_queues], timeout)
                if waited is not None:  # several queues cannot wait in place: put it back at the head
                    self.connection.lpush(waited[0], waited[1])
            self._keep_alive()
            if waited is None:
                return []
        taken: list[tuple[Job, object]] = []
        for q in self._ordered_queues:
            if len(taken) >= free:
                break
            taken += [(job, q) for job in rq_jobs.take_jobs(self, q, free - len(taken))]
        return taken

    def _start(self, taken: list[tuple[Job, object]]) -> None:
        """Record the jobs as started, as RQ's worker does, in one pipeline; then hand them to threads."""
        slots = []
        at = time.monotonic()
        with self.connection.pipeline(transaction=False) as pipe:
            for job, q in taken:
                timeout = job.timeout if job.timeout is not None else self.default_job_timeout
                ttl = (timeout if timeout > 0 else self.default_job_timeout) + 60
                execution = rq_jobs.record_started(self, job, ttl, pipe)
                slots.append(Slot(job, q, execution, at, at + timeout if timeout > 0 else None))
            self.set_current_job_id(taken[-1][0].id, pipeline=pipe)
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            pipe.execute()
        self.link.took([slot.job for slot in slots], {slot.job.id: slot.execution.id for slot in slots})
        for slot in slots:
            self.log.debug("Worker %s: %s: %s", self.name, slot.queue.name, slot.job.id)
            self._in_flight[slot.job.id] = slot
            self._todo.put(slot)
        # A thread per slot in use, made as needed (an idle worker keeps the threads it made).
        while self._threads < min(self.concurrency, len(self._in_flight)):
            self._spawn()
        self.procline(f"{len(self._in_flight)} job(s) in flight")

    def _spawn(self) -> None:
        self._threads += 1
        threading.Thread(target=self._thread_loop, name=f"job-{self._threads}", daemon=True).start()

    # ------------------------------------------------------------------ in the threads

    def _thread_loop(self) -> None:
        while True:
            slot = self._todo.get()
            if slot is None or slot.abandoned:
                return  # told to stop, or given up on before it began (another thread replaced this one)
            try:
                job = slot.job
                slot.return_value = rq_jobs.perform(job)
                slot.ok = True
            except BaseException as exc:  # noqa: B036 (a job's failure, whatever it is, is the job's, not the thread's)
                slot.exc_string = traceback.format_exc()
                slot.error = exc
            slot.ended_at = now()
            with self._slot_lock:
                if slot.abandoned:
                    return  # the loop gave up on it and made another thread in this one's place
                slot.done = True
            self._ended.put(slot)
            self._wake.set()

    # ------------------------------------------------------------------ ending jobs

    def _reap(self) -> int:
        """Record every job that ended since the last turn, in one pipeline; returns how many."""
        ended = []
        while True:
            try:
                ended.append(self._ended.get_nowait())
            except queue.Empty:
                break
        if not ended:
            return 0
        unavailable = [slot for slot in ended if self.unavailable and isinstance(slot.error, self.unavailable)]
        with self.connection.pipeline(transaction=False) as pipe:
            for slot in ended:
                del self._in_flight[slot.job.id]
                slot.job.ended_at = slot.ended_at
                if slot in unavailable:
                    self._record_unavailable(slot, pipe)
                elif slot.ok:
                    rq_jobs.record_success(self, slot.job, slot.execution, slot.return_value, pipe)
                else:
                    rq_jobs.record_failure(self, slot.job, slot.execution, slot.exc_string, pipe)
            self._after_end(pipe)
            pipe.execute()
        self.link.ended([slot.job for slot in ended])
        for slot in ended:
            if slot in unavailable:
                self.log.warning("Worker %s: job %s: %s", self.name, slot.job.id, slot.error)
            elif not slot.ok:
                self.log.error("Worker %s: job %s failed:\n%s", self.name, slot.job.id, slot.exc_string)
        if unavailable:
            self._database_unreachable()
        return len(ended) - len(unavailable)

    def _record_unavailable(self, slot: Slot, pipe) -> None:
        """A job that could not reach PostgreSQL is no failure of its own: one whose run was not taken yet
        goes back to the head of its queue untouched; one whose run was taken is dropped (its lease,
        no longer renewed, hands the run back), neither of them left in RQ's failed registry."""
        if getattr(slot.error, "taken", False):
            rq_jobs.drop(self, slot.job, slot.execution, pipe)
        else:
            rq_jobs.put_back(slot.job, slot.execution, slot.queue, pipe)

    def _after_end(self, pipe) -> None:
        if not self._in_flight:
            self.set_current_job_id(None, pipeline=pipe)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)

    def _give_up_late_jobs(self) -> None:
        """End the jobs past their timeout without waiting for their threads (which cannot be stopped),
        then stop the process: its other jobs get `timeout_grace` seconds to finish."""
        clock = time.monotonic()
        with self._slot_lock:
            late = [slot for slot in self._in_flight.values()
                    if slot.deadline is not None and clock > slot.deadline and not slot.done]
            for slot in late:
                slot.abandoned = True
        for slot in late:
            del self._in_flight[slot.job.id]
            timeout = slot.deadline - slot.started
            error = f"JobTimeoutException: Task exceeded maximum timeout value ({timeout:g} seconds)"
            self.log.warning("Worker %s: job %s ran past its timeout of %gs: giving up on it", self.name,
                             slot.job.id, timeout)
            if self.on_timeout is not None:
                try:
                    self.on_timeout(slot.job, error)
                except Exception:  # PostgreSQL away: the lease (not renewed past the timeout) recovers it
                    self.log.exception("Worker %s: could not end job %s after its timeout", self.name, slot.job.id)
            slot.job.ended_at = now()
            with self.connection.pipeline(transaction=False) as pipe:
                rq_jobs.record_failure(self, slot.job, slot.execution, error, pipe)
                self._after_end(pipe)
                pipe.execute()
            self.link.ended([slot.job])
        if late:
            # Its thread cannot be stopped and may spin for ever: only the end of the process ends it.
            self._drain(f"job {late[0].job.id} ran past its timeout; stopping this process", self.timeout_grace)


class NoLink:
    """The link of a worker that has no supervisor (tests, a worker run by hand): says nothing."""

    def took(self, jobs, executions) -> None:
        pass

    def ended(self, jobs) -> None:
        pass

    def beat(self) -> None:
        pass

    def stopping(self, reason: str) -> None:
        pass

    def supervisor_alive(self) -> bool:
        return True


def resident_mb() -> float | None:
    """The process's resident memory in MB (Linux's /proc; None where there is none)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1_000_000
