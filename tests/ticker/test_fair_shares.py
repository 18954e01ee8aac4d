"""Fair shares between accounts (migration 0023): each plan caps an account's runs in flight (queued or
running: free 5, pro 50, unlimited none). Runs dispatched over the cap stay pending and `held` in
PostgreSQL; each run of the account that leaves flight releases the account's oldest held run, which
a ticker pushes; a pass over held runs fills slots the release missed. Exactly once throughout."""
from __future__ import annotations

from datetime import datetime, timezone

from core.ops import db
from core.runs import dispatch
from tests.conftest import make_account
from tests.ticker.conftest import assert_exactly_once, fetch, insert_due_schedules, redis_jobs, scalar


def counts(conn, account_id) -> dict:
    rows = fetch(conn, """SELECT status, held, count(*) AS n FROM schedule_runs WHERE account_id = %s
                          GROUP BY status, held""", (account_id,))
    return {(r["status"] + (" held" if r["held"] else "")): r["n"] for r in rows}


def leave_flight(conn, account_id, n: int, status: str = "succeeded") -> list[str]:
    """n of the account's queued runs end (as a worker's finish does: the status changes)."""
    return [r["id"] for r in fetch(conn, """
        UPDATE schedule_runs SET status = %s, finished_at = now()
         WHERE id IN (SELECT id FROM schedule_runs WHERE account_id = %s AND status = 'queued'
                       ORDER BY created_at LIMIT %s)
        RETURNING id::text""", (status, account_id, n))]


def test_each_account_gets_its_plans_cap_pushed_and_the_rest_is_held(conn, make_ticker, redis_client):
    pro, free, unlimited = (make_account(conn, "Pro", "pro"), make_account(conn, "Free", "free"),
                            make_account(conn, "Unlimited", "unlimited"))
    insert_due_schedules(conn, pro, 120, name="Pro")
    insert_due_schedules(conn, free, 3, name="Free")
    insert_due_schedules(conn, unlimited, 100, name="Unlimited")
    make_ticker().tick()
    assert counts(conn, pro) == {"queued": 50, "pending held": 70}
    assert counts(conn, free) == {"queued": 3}
    assert counts(conn, unlimited) == {"queued": 100}
    hashes, entries = redis_jobs(redis_client)
    assert len(hashes) == len(entries) == 153
    # Held runs are not work for the ticker now: it sleeps until something else comes due.
    # (The schedules' next runs are 12 hours away; the unheld runs are all queued.)
    assert dispatch.next_wake_at(conn, 0.0) > scalar(conn, "SELECT now() + interval '1 hour' AS t")


def test_a_run_leaving_flight_releases_its_accounts_oldest_held_run_and_a_tick_pushes_it(
        conn, make_ticker, redis_client):
    free, other = make_account(conn, "Free", "free"), make_account(conn, "Other free", "free")
    insert_due_schedules(conn, free, 12, name="Free")
    insert_due_schedules(conn, other, 7, name="Other")
    ticker = make_ticker()
    ticker.tick()
    assert counts(conn, free) == {"queued": 5, "pending held": 7}
    oldest_held = fetch(conn, """SELECT id::text FROM schedule_runs WHERE account_id = %s AND held
                                 ORDER BY created_at LIMIT 2""", (free,))
    leave_flight(conn, free, 1)
    leave_flight(conn, free, 1, status="retrying")  # a retry waiting holds no slot either
    released = fetch(conn, "SELECT id::text FROM schedule_runs WHERE account_id = %s AND status = 'pending' "
                           "AND NOT held AND not_before IS NOT NULL", (free,))
    assert sorted(r["id"] for r in released) == sorted(r["id"] for r in oldest_held)
    assert counts(conn, other) == {"queued": 5, "pending held": 2}  # another account's slots are its own
    ticker.tick()
    assert counts(conn, free) == {"queued": 5, "pending held": 5, "succeeded": 1, "retrying": 1}
    # Every run ends: all of them were pushed once, none twice.
    for _ in range(10):
        leave_flight(conn, free, 5)
        leave_flight(conn, other, 5)
        ticker.tick()
    assert counts(conn, free) == {"succeeded": 11, "retrying": 1}
    assert counts(conn, other) == {"succeeded": 7}
    hashes, entries = redis_jobs(redis_client)
    assert len(hashes) == len(set(hashes)) == 19 and len(entries) == 19


def test_slots_the_release_missed_are_filled_by_the_ticker(conn, make_ticker, redis_client):
    """A hold committed while the account's runs ended (so no release fired for it) is not stranded."""
    free = make_account(conn, "Free", "free")
    insert_due_schedules(conn, free, 8, name="Free")
    ticker = make_ticker()
    ticker.tick()
    fetch(conn, "ALTER TABLE schedule_runs DISABLE TRIGGER release_held_run")
    leave_flight(conn, free, 5)  # no release: the trigger is off, as if the hold came just after
    fetch(conn, "ALTER TABLE schedule_runs ENABLE TRIGGER release_held_run")
    assert counts(conn, free) == {"succeeded": 5, "pending held": 3}
    ticker.tick()
    assert counts(conn, free) == {"succeeded": 5, "queued": 3}


def test_an_unlimited_account_is_never_held(conn, make_ticker, redis_client):
    unlimited = make_account(conn, "Unlimited", "unlimited")
    insert_due_schedules(conn, unlimited, 300, name="Big")
    make_ticker().tick()
    assert_exactly_once(conn, redis_client, 300)


def test_schedules_due_at_one_instant_are_dispatched_accounts_in_turn(conn, make_ticker, redis_client):
    """Each account's first schedule, then each one's second...: not one account's whole batch first."""
    big, small, other = (make_account(conn, name) for name in ("Big", "Small", "Other"))
    insert_due_schedules(conn, big, 30, name="Big")  # made first, due at the same instant
    insert_due_schedules(conn, small, 3, name="Small")
    insert_due_schedules(conn, other, 3, name="Other")
    fetch(conn, "UPDATE schedules SET next_run_at = date_trunc('minute', now()) - interval '1 minute' RETURNING id")
    with db.service_transaction(conn) as cur:
        claimed = dispatch.claim_due(cur, datetime.now(timezone.utc), 9)
    assert sorted(str(r["account_id"]) for r in claimed) == sorted(str(a) for a in (big, small, other) * 3)
    with db.service_transaction(conn) as cur:  # the locks went with that transaction: claim them for real
        first = dispatch.claim_due(cur, datetime.now(timezone.utc), 3)
    assert {str(r["account_id"]) for r in first} == {str(big), str(small), str(other)}
    make_ticker(tick_batch_size=9).tick()
    assert_exactly_once(conn, redis_client, 36)
    # The queue's order is the claim's: the workers take each account's first run first.
    account_of = {f"run-{r['id']}": str(r["account_id"]) for r in fetch(conn, "SELECT id, account_id FROM schedule_runs")}
    _, entries = redis_jobs(redis_client)
    for turn in range(3):
        assert {account_of[entry] for entry in entries[3 * turn:3 * turn + 3]} == {str(big), str(small), str(other)}


def test_a_new_schedule_takes_its_accounts_next_number(conn, account_id, other_account_id):
    from tests.ticker.conftest import make_schedule
    first, second = make_schedule(conn, account_id), make_schedule(conn, account_id)
    theirs = make_schedule(conn, other_account_id)
    seqs = {r["id"]: r["account_seq"] for r in fetch(conn, "SELECT id, account_seq FROM schedules")}
    assert (seqs[first], seqs[second], seqs[theirs]) == (1, 2, 1)
