"""The worker's entry points: the functions its RQ jobs name, by import path.

Core names no worker function: the ticker, which pushes the jobs, hands these to core.runs.rq_jobs when
it starts (`rq_jobs.use_entry_points`), and the worker's link tells a run's job by RUN. A job carries
only its run's (or alert message's) id: the task a run executes is read from PostgreSQL, never from
Redis. tests/worker/test_entry_points.py checks that each path leads to its function.
"""
RUN = "worker.jobs.execute_run"        # execute_run(run_id[, attempt])
ALERT = "worker.alerts.deliver_alert"  # deliver_alert(message_id)
