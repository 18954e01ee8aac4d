"""GET /metrics: the web process's Prometheus metrics; and the timing of every request that feeds them.

Requests are counted by method, route template (`/v1/schedules/<uuid:schedule_id>`, never the path
itself, so ids make no new series) and status, and timed by method and route. The gauges read from
PostgreSQL (due, pending, schedules by state, health issues, runs and emails of the last 24 h, the
ticker heartbeat's age) come from core.observe.gauges.SqlCollector, on a connection lent by the app's pool.
Under gunicorn with PROMETHEUS_MULTIPROC_DIR set, every worker process's requests are added up
(gunicorn.conf.py prepares the directory). No auth, like /healthz: restrict it at the proxy if the
counts are not for everyone's eyes.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

from flask import Response, current_app, g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from api.base import Blueprint
from core.engine import tzdb
from core.observe.gauges import SqlCollector, multiprocess_dir

# No `*_created` twin of every counter and histogram series: Prometheus does not need them.
disable_created_metrics()

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

blp = Blueprint("metrics", __name__, description="Prometheus metrics of the service")


class TzDatabaseCollector:
    """`schedules_tz_database_info{version, source} 1`: the IANA release every run time is computed with."""

    def collect(self):
        database = tzdb.in_use()
        info = GaugeMetricFamily("schedules_tz_database_info", "The IANA tz database the engine reads "
                                 "(the pinned tzdata package unless PYTHONTZPATH says otherwise); always 1.",
                                 labels=["version", "source"])
        info.add_metric([database.version, database.source], 1)
        yield info


class ApiMetrics:
    """The web process's request metrics and the registry GET /metrics serves (see core/observe/gauges.py on
    PROMETHEUS_MULTIPROC_DIR)."""

    def __init__(self, sql_collector: SqlCollector | None = None):
        directory = multiprocess_dir()
        own = None if directory else CollectorRegistry()  # in multi-process mode the values go to files
        self.requests = Counter(
            "schedules_http_requests", "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"], registry=own)
        self.latency = Histogram(
            "schedules_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
            ["method", "route"], buckets=HTTP_BUCKETS, registry=own)
        if directory:
            self.registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.registry, path=directory)
        else:
            self.registry = own
            ProcessCollector(registry=own)
            PlatformCollector(registry=own)
        self.registry.register(TzDatabaseCollector())
        self.sql = sql_collector
        if sql_collector is not None:
            self.registry.register(sql_collector)

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        method = method if method in HTTP_METHODS else "other"  # a client's made-up method is no new series
        route = route or UNMATCHED_ROUTE
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


@blp.route("/metrics")
@blp.doc(security=[])
@blp.response(200, {"type": "string"}, content_type="text/plain",
              description="Prometheus text exposition format (OpenMetrics when the Accept header asks)")
def metrics():
    """Prometheus metrics: requests, dispatch backlog, schedules by state and health, recent run outcomes."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(current_app.extensions["metrics"].registry), headers={"Content-Type": content_type})


def init_app(app) -> None:
    pool = app.extensions["db_pool"]

    @contextmanager
    def pooled_connection():
        conn = pool.getconn()
        try:
            yield conn
        finally:
            pool.putconn(conn)

    app.extensions["metrics"] = ApiMetrics(SqlCollector(pooled_connection))
    app.before_request(_start_clock)
    app.after_request(_count)


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _count(response):
    started = g.get("metrics_started")
    if started is not None:
        rule = request.url_rule
        current_app.extensions["metrics"].observe(request.method, rule.rule if rule else None,
                                                  response.status_code, time.perf_counter() - started)
    return response
