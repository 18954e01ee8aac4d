"""Fair shares at a spike, with real processes (`python -m ticker`, `python -m worker`), PostgreSQL,
Redis and SMTP: one account with a backlog far over its plan's cap on runs in flight never has more
than the cap running, the small accounts due at the same moment start before the big account's
backlog has drained, and every run still ends once with one message per recipient."""
from __future__ import annotations

from tests.acceptance.processes import Workers, all_final, check_delivered, make_due_schedules, process_env
from tests.conftest import make_account
from tests.ticker.conftest import TickerProcess, fetch, wait_until
from tests.worker.conftest import SmtpServer

FREE_CAP = 5  # migration 0023: the free plan's max_runs_in_flight


def most_at_once(spans) -> int:
    """The most [start, end) intervals that overlap at any instant."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_a_backlog_over_the_cap_runs_at_most_the_cap_at_once_and_small_accounts_go_first(
        conn, database_url, redis_url, tmp_path):
    smtp = SmtpServer()
    smtp.start()
    big = make_account(conn, "Big", "free")
    small = [make_account(conn, f"Small {i}", "free") for i in range(3)]
    make_due_schedules(conn, big, 40, task_parameters='{"sleep": 0.3}', name="Big")
    for account in small:
        make_due_schedules(conn, account, 2, task_parameters='{"sleep": 0.3}', name="Small")
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_CONCURRENCY=4)  # 2 x 4 slots
    ticker = TickerProcess(env, (), tmp_path / "ticker.log")
    workers = Workers(env, tmp_path)
    try:
        workers.start()
        wait_until(lambda: fetch(conn, "SELECT count(*) AS n FROM schedule_runs")[0]["n"] == 46 and all_final(conn),
                   90, interval=0.2, message="every run final")
        figures = check_delivered(conn, smtp, 46)
        assert figures["statuses"] == {"succeeded": 46}
        runs = fetch(conn, "SELECT account_id, started_at, finished_at FROM schedule_runs ORDER BY started_at")
        big_runs = [r for r in runs if r["account_id"] == big]
        assert most_at_once([(r["started_at"], r["finished_at"]) for r in big_runs]) <= FREE_CAP
        tenth_big_start = big_runs[9]["started_at"]
        assert all(r["started_at"] < tenth_big_start for r in runs if r["account_id"] != big)
        assert "over their account's cap on runs in flight" in ticker.output
    finally:
        workers.close()
        ticker.stop()
        ticker.close()
        smtp.stop()
