"""Tasks registered through TASKS by the worker tests."""
CALLS: list = []
# What `news` returns, one entry per call, in order: a result (a dict), or an exception to raise.
NEWS: list = []


def echo(account_id, params):
    return {"report_url": f"https://reports.example.com/{params['run_id']}", "account_id": account_id,
            "params": params}


# What `lease_left` saw: seconds left until its run's lease stops being renewed, one entry per call.
LEASE_LEFT: list = []


def lease_left(account_id, params):
    """echo, noting how long the worker will go on renewing this run's lease (worker/jobs.py's LeaseKeeper)."""
    import time

    from worker import jobs

    until = jobs.worker_context().lease._until[params["run_id"]]
    LEASE_LEFT.append(until - time.monotonic())
    return echo(account_id, params)


def boom(account_id, params):
    raise ValueError("the report source is down")


def not_json(account_id, params):
    return object()


def counted(account_id, params):
    """echo, remembering each call: a delivery retry must never call the task again."""
    CALLS.append(params["run_id"])
    return echo(account_id, params)


def slow(account_id, params):
    """Waits `sleep` seconds (task_parameters), like a report waiting on I/O: a window to kill the worker in."""
    import time

    time.sleep(float(params.get("sleep", 0.5)))
    return echo(account_id, params)


def spin(account_id, params):
    """Loops for ever in pure Python: a report whose bad input never ends its loop."""
    n = 0
    while True:
        n += 1


def hang(account_id, params):
    """Sleeps for ever: a report waiting on a socket that never answers."""
    import time

    while True:
        time.sleep(3600)


def exit_process(account_id, params):
    """Ends the whole process at once, as a C library calling exit() would."""
    import os

    os._exit(1)


def segfault(account_id, params):
    """Crashes the process with SIGSEGV, as a broken C extension would."""
    import ctypes

    ctypes.string_at(0)


LEAKED: list = []


def leak(account_id, params):
    """Keeps 40 MB for good on every call, as a task with a cache that never forgets would."""
    LEAKED.append(b"x" * (40 * 1024 * 1024))  # written, so resident (a zeroed bytearray may not be)
    return echo(account_id, params)


def news(account_id, params):
    """The next entry of NEWS: a result the test chose (with `empty` or `content_key`, the task contract
    of deliver_when), or an exception to raise; with this run's own link, as a real report's."""
    item = NEWS.pop(0)
    if isinstance(item, Exception):
        raise item
    return {"report_url": f"https://reports.example.com/{params['run_id']}", **item}
