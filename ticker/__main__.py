"""`python -m ticker`: the ticker daemon; `--once` runs a single tick; `preview ...` prints next runs.

Settings come from the environment (core.ops.settings); a missing or bad one is one `error:` line on
stderr and exit status 2. SIGTERM (sent by Render on every deploy) and SIGINT finish the batch in
hand, remove the heartbeat and exit 0. With METRICS_PORT set, the daemon serves its Prometheus
metrics at http://0.0.0.0:METRICS_PORT/metrics (ticker/metrics.py, TickerMetrics); `--once` does not.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from core.ops.logs import configure_logging
from core.ops.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["preview"]:
        from ticker import preview  # pure time math: needs no database, Redis or settings

        return preview.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m ticker",
        description="Dispatch due schedules: record their runs and push their RQ jobs. "
                    "`python -m ticker preview --help` prints a schedule's next runs.")
    parser.add_argument("--once", action="store_true", help="run one tick, then exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings.require("database_url", "redis_url")
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)

    from ticker.loop import Ticker  # after the settings check: a bad setting costs no imports

    if args.once:
        return Ticker(settings, heartbeat=False).run_once()
    ticker = Ticker(settings)
    server = None
    if settings.metrics_port:
        from prometheus_client import start_http_server

        try:
            server, _ = start_http_server(settings.metrics_port, registry=ticker.metrics.registry)
        except OSError as exc:
            ticker.close()
            print(f"error: METRICS_PORT {settings.metrics_port} cannot be served: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
        logging.getLogger("ticker").info("Metrics served on port %d at /metrics", settings.metrics_port)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: ticker.request_stop())
    try:
        ticker.run()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
