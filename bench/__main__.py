"""`make bench` (python -m bench): what the service exists for, measured beside the seed's design.

    python -m bench                  # everything (about 17 minutes on 2 cores)
    python -m bench --quick          # smaller N, for a first look (about 6 minutes)
    python -m bench --only dispatch,lag
    python -m bench --only e2e       # ticker + 2 workers + SMTP, N due at once (about 5 minutes)
    python -m bench --only scale     # 1,000,000 schedules, 200,000 due at once, idle at 10,000,000, fairness,
                                     # the API's throughput and retention (about 45 minutes)
    python -m bench --only scale_reads  # scale's API latency and dispatch alone (about 10 minutes)
    python -m bench --only fairness  # a big account's backlog and small accounts due at once, caps on and off
    python -m bench --only retention # the retention sweep's rate, and a day of 10,000,000 runs in DB time
                                     # (not in the default run: about 30 minutes and 15 GB of disk)

Sets itself up like make dev / make test: embedded PostgreSQL and Redis unless DATABASE_URL /
REDIS_URL are given (then only databases named bench_* are created and dropped there, and the Redis
database is emptied: point REDIS_URL at a spare database number). Prints a table and writes it as
JSON to bench/results/<UTC time>.json; the tickers' logs go to bench/results/logs/. Figures are
ratios measured in the same run, because these machines are shared and noisy. Never fails CI.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench import api_load, bench_timing, dispatch, e2e, fairness, idle, lag, retention, scale
from bench.common import servers

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("timing", "dispatch", "lag", "idle", "api", "e2e", "scale", "scale_reads", "fairness", "retention")
# scale (which includes api, fairness and retention), scale_reads (scale's API and dispatch parts alone),
# fairness and retention only when asked for
DEFAULT_SECTIONS = SECTIONS[:-4]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 2,000 and 10,000; idle 1k vs 100k; shorter loads")
    parser.add_argument("--only", default=",".join(DEFAULT_SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    logs = RESULTS / "logs"
    results: dict = {"started_at": datetime.now(timezone.utc).isoformat(), "quick": args.quick,
                     "machine": {"python": platform.python_version(), "cpus": _cpus()}}

    if "timing" in chosen:
        results["timing"] = bench_timing.measure(5_000 if args.quick else 20_000)
        _section("Next-run computation (engine vs croniter's obvious use)")
        bench_timing.report(results["timing"])
    with servers() as running:
        if "dispatch" in chosen:
            results["dispatch"] = [dispatch.measure(running, n, logs, rounds=1 if args.quick else 3)
                                   for n in sizes]
            _section("Dispatch throughput: N due at once, full path, counts verified")
            _report_dispatch(results["dispatch"])
        if "lag" in chosen:
            results["lag"] = lag.measure(running, logs, n=300 if args.quick else 1000,
                                         spread_seconds=20 if args.quick else 60)
            _section("Dispatch lag: due -> enqueued, ticker running normally")
            _report_lag(results["lag"])
        if "idle" in chosen:
            results["idle"] = idle.measure(running, large=100_000 if args.quick else 1_000_000)
            _section("Idle tick (nothing due)")
            i = results["idle"]
            print(f"{i['small']:>9,} schedules: {i['small_ms']:.2f} ms   {i['large']:>9,} schedules: "
                  f"{i['large_ms']:.2f} ms   ratio {i['ratio']:.2f} (target <= 1.5)")
        if "api" in chosen or "scale" in chosen:
            results["api"] = api_load.measure(running, logs, seconds=5 if args.quick else 10)
            _section(f"API under gunicorn ({results['api']['gunicorn']}), {results['api']['threads']} client threads, "
                     f"the median of {results['api']['rounds']} rounds alternating with the minimal app")
            for route, r in results["api"]["routes"].items():
                floor = results["api"]["minimal"][route]
                ratio = results["api"]["ratios"][route]
                print(f"{route:<26}{r['requests_per_second']:>9,.0f} req/s   p50 {r['p50_ms']:6.1f} ms   "
                      f"p99 {r['p99_ms']:6.1f} ms   errors {r['errors']}   minimal Flask + psycopg2, same SQL: "
                      f"{floor['requests_per_second']:,.0f} req/s (ratio {ratio:.2f}, the rounds' median; target >= 0.7"
                      f"{'' if ratio >= 0.7 else ': MISSES'}; rounds {_rates(r)} vs {_rates(floor)})")
        if "e2e" in chosen:
            results["e2e"] = e2e.measure(running, logs, quick=args.quick)
            _section("End to end: N due at once -> ticker -> 2 workers -> SMTP on loopback, counts verified")
            e2e.report(results["e2e"])
        if "scale" in chosen or "scale_reads" in chosen:
            results["scale"] = scale.measure(running, logs, quick=args.quick, idle_ticks="scale" in chosen)
            _section("Scale: a million schedules, 200,000 due at once (issue 30's targets)")
            scale.report(results["scale"])
        if "scale" in chosen or "fairness" in chosen:
            results["fairness"] = fairness.measure(running, logs, quick=args.quick)
            _section("Fair shares at the spike: a big account's backlog and small accounts due at once, "
                     "with and without the plans' caps on runs in flight")
            fairness.report(results["fairness"])
        if "scale" in chosen or "retention" in chosen:
            results["retention"] = retention.measure(running, logs, quick=args.quick)
            _section("Retention at a year of runs: the ticker's sweep, statement by statement")
            retention.report(results["retention"])

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nWritten to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


def _section(title: str) -> None:
    print(f"\n== {title} ==")


def _report_dispatch(rows: list[dict]) -> None:
    print(f"{'N':>8}  {'ticker':<18}{'runs/s':>10}{'seconds':>9}{'peak RSS':>10}   check")
    for row in rows:
        n = row["n"]
        for processes, r in row["ours"].items():
            spread = r.get("rounds_runs_per_second", [])
            rounds = (f" (median of {len(spread)} rounds: {', '.join(f'{x:,.0f}' for x in spread)})"
                      if len(spread) > 1 else "")
            print(f"{n:>8,}  {f'ours x{processes}':<18}{r['runs_per_second']:>10,.0f}{r['seconds']:>9.2f}"
                  f"{r['peak_rss_mb']:>8.0f}MB   {r['problem'] or 'ok'}{_extras(r)}{rounds}")
        for name in ("batched", "seed"):
            r = row[name]
            print(f"{n:>8,}  {name:<18}{r['runs_per_second']:>10,.0f}{r['seconds']:>9.2f}{'':>10}   "
                  f"{r['problem'] or 'ok'}{_extras(r)}")
        ours = row["ours"][1]["runs_per_second"]
        print(f"{'':>8}  ratios (one ticker): ours/seed {ours / row['seed']['runs_per_second']:.1f}x, "
              f"ours/batched {ours / row['batched']['runs_per_second']:.1f}x; "
              f"x2/x1 {row['ours'][2]['runs_per_second'] / ours:.2f}, x4/x1 {row['ours'][4]['runs_per_second'] / ours:.2f}")


def _rates(r: dict) -> str:
    return "/".join(f"{rate:,.0f}" for rate in r["rounds_requests_per_second"])


def _extras(r: dict) -> str:
    extra = r.get("next_occurrences_also_run", 0)
    return f" (+{extra} next occurrences came due and ran once)" if extra else ""


def _report_lag(r: dict) -> None:
    if r.get("problem"):
        print(f"{r['n']} schedules: {r['problem']}")
        return
    print(f"{r['n']:,} schedules: p50 {r['p50_seconds']:.3f} s   p99 {r['p99_seconds']:.3f} s   "
          f"max {r['max_seconds']:.3f} s (target p99 <= 1 s)")


def _cpus() -> int:
    import os
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
