"""Next-run computations per second, per cadence, and against croniter for cron rules.

    python -m bench.bench_timing

The ticker computes one next run per dispatched run, so the engine must stay well above the
10,000 runs/s dispatch target. Each figure is warm (rules compiled, zone segments found) and
counts from instants spread over a year, so DST changes are crossed as often as in real life.
The croniter column is the obvious alternative for cron rules: croniter(expr, aware local
start).get_next(datetime), one object per computation, as a ticker would use it.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

from croniter import croniter

from core.engine import timing
from core.engine.timing import next_run_after

UTC = timezone.utc
ZONE = "America/New_York"
CREATED = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)

CASES = [
    ("hourly", {"cadence": "hourly", "send_minute": 5}),
    ("daily", {"cadence": "daily", "send_hour": 9}),
    ("weekly", {"cadence": "weekly", "weekly_dow": 1}),
    ("biweekly", {"cadence": "biweekly", "weekly_dow": 1, "created_at": CREATED}),
    ("monthly", {"cadence": "monthly", "monthly_dom": -1}),
    ("interval", {"cadence": "interval", "interval_seconds": 900, "created_at": CREATED}),
    ("once", {"cadence": "once", "start_at": datetime(2027, 1, 1, tzinfo=UTC)}),
    ("cron */15 * * * *", {"cadence": "cron", "cron_expression": "*/15 * * * *"}),
    ("cron 0 9 * * 1-5", {"cadence": "cron", "cron_expression": "0 9 * * 1-5"}),
    ("cron 30 2 * * *", {"cadence": "cron", "cron_expression": "30 2 * * *"}),
    ("cron 0 9-17 * * mon-fri", {"cadence": "cron", "cron_expression": "0 9-17 * * mon-fri"}),
    ("cron 0 0 1 1 *", {"cadence": "cron", "cron_expression": "0 0 1 1 *"}),
]


def instants(count: int, seed: int = 1) -> list[datetime]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [start + timedelta(seconds=rng.randrange(366 * 86400)) for _ in range(count)]


def rate(function, arguments) -> float:
    """Calls per second of function over arguments (each a tuple), best of three passes."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for args in arguments:
            function(*args)
        best = min(best, time.perf_counter() - began)
    return len(arguments) / best


def croniter_next(expression: str, start: datetime) -> datetime:
    return croniter(expression, start).get_next(datetime)


def mixed_schedules(count: int) -> list[dict]:
    """Distinct schedules as a real table might hold them: many zones, times and cadences."""
    rng = random.Random(2)
    zones = sorted(available_timezones())
    expressions = ["*/15 * * * *", "0 9 * * 1-5", "30 2 * * *", "0 */2 * * *", "0 8 1,15 * *"]
    schedules = []
    for _ in range(count):
        fields = {"timezone": rng.choice(zones), "send_hour": rng.randrange(24),
                  "send_minute": rng.choice([0, 15, 30, 45]), "created_at": CREATED}
        cadence = rng.choice(["hourly", "daily", "weekly", "biweekly", "monthly", "cron", "interval"])
        fields["cadence"] = cadence
        fields["weekly_dow"] = rng.randrange(7)
        fields["monthly_dom"] = rng.choice([1, 15, 28, 31, -1])
        fields["interval_seconds"] = rng.choice([60, 300, 3600, 86400])
        if cadence == "cron":
            fields["cron_expression"] = rng.choice(expressions)
        schedules.append(fields)
    return schedules


def measure(count: int = 20_000) -> dict:
    """Warm next-run computations per second per cadence (and croniter's, for cron rules)."""
    afters = instants(count)
    rates = {}
    for name, fields in CASES:
        fields = {**fields, "timezone": ZONE}
        next_run_after(fields, afters[0])  # compile and find the zone's segments first
        entry = {"engine_per_second": rate(next_run_after, [(fields, after) for after in afters])}
        if fields["cadence"] == "cron":
            zone = ZoneInfo(ZONE)
            starts = [(fields["cron_expression"], after.astimezone(zone)) for after in afters[:2000]]
            entry["croniter_per_second"] = rate(croniter_next, starts)
            entry["ratio"] = entry["engine_per_second"] / entry["croniter_per_second"]
        rates[name] = entry

    schedules = mixed_schedules(10_000)
    work = list(zip(schedules, instants(len(schedules), seed=3)))
    for fields, after in work:  # warm: every zone's segments and every rule compiled once
        next_run_after(fields, after)
    mixed = {"schedules": len(work), "zones": len({s["timezone"] for s in schedules}),
             "per_second": rate(next_run_after, work)}

    # Cold start: the first computation in each zone finds that zone's offset segments.
    timing._chunk.cache_clear()
    zones = sorted(available_timezones())
    began = time.perf_counter()
    for zone in zones:
        next_run_after({"cadence": "daily", "timezone": zone}, afters[0])
    cold_ms = (time.perf_counter() - began) / len(zones) * 1000
    return {"zone": ZONE, "instants": count, "cadences": rates, "mixed": mixed, "cold_ms_per_zone": cold_ms}


def report(figures: dict) -> None:
    print(f"next_run_after per second, warm, {figures['zone']}, {figures['instants']:,} instants over 2026")
    print(f"{'cadence':<26}{'engine/s':>12}{'croniter/s':>13}{'ratio':>9}")
    for name, entry in figures["cadences"].items():
        line = f"{name:<26}{entry['engine_per_second']:>12,.0f}"
        if "croniter_per_second" in entry:
            line += f"{entry['croniter_per_second']:>13,.0f}{entry['ratio']:>8.1f}x"
        print(line)
    mixed = figures["mixed"]
    print(f"\n{mixed['schedules']:,} distinct schedules in {mixed['zones']} zones, mixed cadences, warm: "
          f"{mixed['per_second']:,.0f}/s")
    print(f"cold: first computation in a zone: {figures['cold_ms_per_zone']:.2f} ms")


def main() -> None:
    report(measure())


if __name__ == "__main__":
    main()
