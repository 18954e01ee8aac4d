"""Pushing run jobs to a real Redis: one job per run, and a re-push never makes a second one."""
import uuid

import redis
from rq import Queue
from rq.job import Job

from core.runs.rq_jobs import job_id_for, push_runs
from worker import entry_points


def test_push_runs_enqueues_one_job_per_run_with_derived_ids(redis_url):
    conn = redis.Redis.from_url(redis_url)
    runs = [uuid.uuid4() for _ in range(3)]
    assert push_runs(conn, "schedules-test", runs) == [f"run-{r}" for r in runs]
    queue = Queue("schedules-test", connection=conn)
    assert queue.job_ids == [job_id_for(r) for r in runs]
    job = Job.fetch(job_id_for(runs[0]), connection=conn)
    assert job.func_name == entry_points.RUN
    assert job.args == (str(runs[0]),)


def test_re_push_with_skip_existing_makes_no_second_job(redis_url):
    conn = redis.Redis.from_url(redis_url)
    first, second = uuid.uuid4(), uuid.uuid4()
    push_runs(conn, "schedules-test", [first])
    push_runs(conn, "schedules-test", [first, second], skip_existing=True)
    assert Queue("schedules-test", connection=conn).job_ids == [job_id_for(first), job_id_for(second)]
