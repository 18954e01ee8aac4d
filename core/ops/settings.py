"""Settings: read once from the environment by strict parsers that name the bad variable.

Every process calls `load_settings()` at start, then `require(...)` for what it cannot run without.
A bad value raises SettingsError with one line naming the variable and what to do; the entry points
print that line and exit 2, never a traceback.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit


class SettingsError(Exception):
    """A missing or malformed environment variable; the message names it."""


DEFAULT_TASKS = "generate_report=core.runs.demo_tasks:generate_report"
_TASK_ENTRY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What `require()` says for each setting a process cannot run without.
_HELP = {
    "database_url": "DATABASE_URL is not set: point it at PostgreSQL, e.g. postgresql://user:pass@host:5432/db",
    "redis_url": "REDIS_URL is not set: point it at Redis, e.g. redis://localhost:6379/0",
    "jwt_secret": "JWT_SECRET is not set: use a random string of at least 32 characters",
    "unsubscribe_secret": "UNSUBSCRIBE_SECRET is not set: use a random string of at least 32 characters",
}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    redis_url: str | None = None
    tick_interval: float = 60.0
    tick_batch_size: int = 1000
    jwt_secret: str | None = None
    unsubscribe_secret: str | None = None
    environment: str = "development"
    public_base_url: str = "http://localhost:8000"
    smtp_url: str | None = None
    email_from: str = "Schedules <schedules@localhost>"
    tasks: Mapping[str, str] = field(default_factory=lambda: parse_tasks(DEFAULT_TASKS))
    log_level: str = "INFO"
    log_format: str = "text"
    queue_name: str = "schedules"
    outbox_dir: str = "outbox"
    metrics_port: int | None = None
    run_retention_days: int = 90
    worker_max_attempts: int = 3
    job_timeout: int = 600
    run_lease_seconds: int = 15
    delivery_max_attempts: int = 8
    max_recipients: int = 50
    max_request_bytes: int = 64 * 1024
    db_pool_size: int = 10
    worker_concurrency: int = 50
    worker_processes: int = 2
    worker_max_runs: int = 0
    worker_max_memory_mb: int = 512
    worker_timeout_grace: float = 10.0
    unknown_outcome: str = "resend"
    worker_db_connections: int = 10
    smtp_connections: int = 4
    webhook_allow_loopback: bool = False
    webhook_timeout: float = 5.0
    webhook_max_response_bytes: int = 64 * 1024
    # The console's sign-in links are signed with CONSOLE_SECRET, or with JWT_SECRET when it is unset.
    console_secret: str | None = None
    console_frame_ancestors: str = "'none'"
    console_session_hours: int = 12
    console_idle_minutes: int = 60
    jwt_max_lifetime_days: int = 30
    # The web process (gunicorn.conf.py): where it listens, its worker processes and their threads.
    web_host: str = "0.0.0.0"
    port: int = 8000
    web_concurrency: int = 2
    web_threads: int = 4
    # The buffering worker (api/buffered_worker.py): a request must arrive within this many seconds,
    # plus one more per request_min_rate bytes received.
    request_read_timeout: float = 10.0
    request_min_rate: int = 4096

    @property
    def console_signing_secret(self) -> str | None:
        return self.console_secret or self.jwt_secret

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def require(self, *names: str) -> None:
        """Raise SettingsError naming the first of `names` that is unset."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(_HELP.get(name, f"{name.upper()} is not set"))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value is not None and value.strip() != "" else None

    environment = (get("ENVIRONMENT") or _DEFAULTS.environment).lower()
    settings = Settings(
        database_url=_database_url(get("DATABASE_URL")),
        redis_url=_redis_url(get("REDIS_URL")),
        tick_interval=_number("TICK_INTERVAL", get("TICK_INTERVAL"),
                              _DEFAULTS.tick_interval, low=0.05, high=3600, kind=float),
        tick_batch_size=_number("TICK_BATCH_SIZE", get("TICK_BATCH_SIZE"),
                                _DEFAULTS.tick_batch_size, low=1, high=10_000),
        jwt_secret=_secret("JWT_SECRET", get("JWT_SECRET"), environment),
        unsubscribe_secret=_secret("UNSUBSCRIBE_SECRET", get("UNSUBSCRIBE_SECRET"), environment),
        environment=environment,
        public_base_url=_http_url("PUBLIC_BASE_URL", get("PUBLIC_BASE_URL") or _DEFAULTS.public_base_url),
        smtp_url=_smtp_url(get("SMTP_URL")),
        email_from=get("EMAIL_FROM") or _DEFAULTS.email_from,
        tasks=parse_tasks(get("TASKS") or DEFAULT_TASKS),
        log_level=_choice("LOG_LEVEL", (get("LOG_LEVEL") or _DEFAULTS.log_level).upper(), _LOG_LEVELS),
        log_format=_choice("LOG_FORMAT", (get("LOG_FORMAT") or _DEFAULTS.log_format).lower(), ("text", "json")),
        queue_name=_queue_name(get("RQ_QUEUE") or _DEFAULTS.queue_name),
        outbox_dir=get("OUTBOX_DIR") or _DEFAULTS.outbox_dir,
        metrics_port=_number("METRICS_PORT", get("METRICS_PORT"), _DEFAULTS.metrics_port, low=1, high=65535),
        run_retention_days=_number("RUN_RETENTION_DAYS", get("RUN_RETENTION_DAYS"),
                                   _DEFAULTS.run_retention_days, low=1, high=36500),
        worker_max_attempts=_number("WORKER_MAX_ATTEMPTS", get("WORKER_MAX_ATTEMPTS"),
                                    _DEFAULTS.worker_max_attempts, low=1, high=20),
        job_timeout=_number("JOB_TIMEOUT", get("JOB_TIMEOUT"), _DEFAULTS.job_timeout, low=1, high=86_400),
        run_lease_seconds=_number("RUN_LEASE_SECONDS", get("RUN_LEASE_SECONDS"),
                                  _DEFAULTS.run_lease_seconds, low=2, high=3600),
        delivery_max_attempts=_number("DELIVERY_MAX_ATTEMPTS", get("DELIVERY_MAX_ATTEMPTS"),
                                      _DEFAULTS.delivery_max_attempts, low=1, high=50),
        max_recipients=_number("MAX_RECIPIENTS", get("MAX_RECIPIENTS"), _DEFAULTS.max_recipients, low=1, high=1000),
        max_request_bytes=_number("MAX_REQUEST_BYTES", get("MAX_REQUEST_BYTES"),
                                  _DEFAULTS.max_request_bytes, low=1024, high=16 * 1024 * 1024),
        db_pool_size=_number("DB_POOL_SIZE", get("DB_POOL_SIZE"), _DEFAULTS.db_pool_size, low=1, high=200),
        worker_concurrency=_number("WORKER_CONCURRENCY", get("WORKER_CONCURRENCY"),
                                   _DEFAULTS.worker_concurrency, low=1, high=1000),
        worker_processes=_number("WORKER_PROCESSES", get("WORKER_PROCESSES"),
                                 _DEFAULTS.worker_processes, low=1, high=64),
        worker_max_runs=_number("WORKER_MAX_RUNS", get("WORKER_MAX_RUNS"),
                                _DEFAULTS.worker_max_runs, low=0, high=10_000_000),
        worker_max_memory_mb=_number("WORKER_MAX_MEMORY_MB", get("WORKER_MAX_MEMORY_MB"),
                                     _DEFAULTS.worker_max_memory_mb, low=0, high=1_000_000),
        worker_timeout_grace=_number("WORKER_TIMEOUT_GRACE", get("WORKER_TIMEOUT_GRACE"),
                                     _DEFAULTS.worker_timeout_grace, low=0, high=3600,
                                     kind=float),
        unknown_outcome=_choice("UNKNOWN_OUTCOME", (get("UNKNOWN_OUTCOME") or _DEFAULTS.unknown_outcome).lower(),
                                ("resend", "give_up")),
        worker_db_connections=_number("WORKER_DB_CONNECTIONS", get("WORKER_DB_CONNECTIONS"),
                                      _DEFAULTS.worker_db_connections, low=1, high=200),
        smtp_connections=_number("SMTP_CONNECTIONS", get("SMTP_CONNECTIONS"),
                                 _DEFAULTS.smtp_connections, low=1, high=100),
        webhook_allow_loopback=_allow_loopback(get("WEBHOOK_ALLOW_LOOPBACK"), environment),
        webhook_timeout=_number("WEBHOOK_TIMEOUT", get("WEBHOOK_TIMEOUT"),
                                _DEFAULTS.webhook_timeout, low=0.1, high=60, kind=float),
        webhook_max_response_bytes=_number("WEBHOOK_MAX_RESPONSE_BYTES", get("WEBHOOK_MAX_RESPONSE_BYTES"),
                                           _DEFAULTS.webhook_max_response_bytes, low=1024, high=16 * 1024 * 1024),
        console_secret=_secret("CONSOLE_SECRET", get("CONSOLE_SECRET"), environment),
        console_frame_ancestors=_frame_ancestors(get("CONSOLE_FRAME_ANCESTORS") or _DEFAULTS.console_frame_ancestors),
        console_session_hours=_number("CONSOLE_SESSION_HOURS", get("CONSOLE_SESSION_HOURS"),
                                      _DEFAULTS.console_session_hours, low=1, high=720),
        console_idle_minutes=_number("CONSOLE_IDLE_MINUTES", get("CONSOLE_IDLE_MINUTES"),
                                     _DEFAULTS.console_idle_minutes, low=1, high=43_200),
        jwt_max_lifetime_days=_number("JWT_MAX_LIFETIME_DAYS", get("JWT_MAX_LIFETIME_DAYS"),
                                      _DEFAULTS.jwt_max_lifetime_days, low=1, high=365),
        web_host=_web_host(get("WEB_HOST") or _DEFAULTS.web_host),
        port=_number("PORT", get("PORT"), _DEFAULTS.port, low=1, high=65535),
        web_concurrency=_number("WEB_CONCURRENCY", get("WEB_CONCURRENCY"), _DEFAULTS.web_concurrency, low=1, high=64),
        web_threads=_number("WEB_THREADS", get("WEB_THREADS"), _DEFAULTS.web_threads, low=1, high=64),
        request_read_timeout=_number("REQUEST_READ_TIMEOUT", get("REQUEST_READ_TIMEOUT"),
                                     _DEFAULTS.request_read_timeout, low=0.5, high=300,
                                     kind=float),
        request_min_rate=_number("REQUEST_MIN_RATE", get("REQUEST_MIN_RATE"),
                                 _DEFAULTS.request_min_rate, low=1, high=100_000_000),
    )
    return settings


def parse_tasks(spec: str) -> dict[str, str]:
    """`name=package.module:function,...` -> {name: "package.module:function"}."""
    tasks: dict[str, str] = {}
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        match = _TASK_ENTRY.match(entry)
        if not match:
            raise SettingsError(
                f"TASKS entry {entry!r} is malformed: use name=package.module:function, comma-separated"
            )
        tasks[match.group(1)] = f"{match.group(2)}:{match.group(3)}"
    if not tasks:
        raise SettingsError("TASKS is empty: register at least one task as name=package.module:function")
    return tasks


def _number(name, raw, default, *, low, high, kind=int):
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        unit = "a number of seconds" if name == "TICK_INTERVAL" else f"an {kind.__name__}"
        raise SettingsError(f"{name} must be {unit}, got {raw!r}") from None
    if not (low <= value <= high) or value != value:  # value != value catches NaN
        raise SettingsError(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def _web_host(raw: str) -> str:
    if any(char.isspace() for char in raw) or "/" in raw:
        raise SettingsError(f"WEB_HOST must be an address such as 127.0.0.1 or 0.0.0.0, got {raw!r}")
    return raw


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _url(name: str, raw: str | None, schemes: tuple[str, ...]) -> str | None:
    """`raw` when its scheme is one of `schemes` (unset stays None)."""
    if raw is None:
        return None
    scheme = urlsplit(raw).scheme
    if scheme not in schemes:
        starts = [f"{known}://" for known in schemes]
        raise SettingsError(f"{name} must start with {', '.join(starts[:-1])} or {starts[-1]}, got scheme {scheme!r}")
    return raw


def _database_url(raw: str | None) -> str | None:
    raw = _url("DATABASE_URL", raw, ("postgresql", "postgres"))
    if raw and urlsplit(raw).scheme == "postgres":  # Heroku and Render hand out postgres://; libpq wants postgresql://
        raw = "postgresql" + raw[len("postgres"):]
    return raw


def _redis_url(raw: str | None) -> str | None:
    return _url("REDIS_URL", raw, ("redis", "rediss", "unix"))


def _smtp_url(raw: str | None) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingsError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
    try:
        parts.port
    except ValueError:
        raise SettingsError("SMTP_URL has a port that is not a number") from None
    return raw


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http(s) URL such as https://schedules.example.com, got {raw!r}")
    return raw.rstrip("/")


def _queue_name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", raw):
        raise SettingsError(f"RQ_QUEUE must be letters, digits, '_', '.', ':' or '-', got {raw!r}")
    return raw


# A CSP source the console may be framed by: 'self', 'none', or a scheme + host (wildcard subdomain
# and port allowed), e.g. https://app.example.com or https://*.example.com:8443.
_FRAME_SOURCE = re.compile(r"^(?:'self'|https?://(?:\*\.)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?)$")


def _frame_ancestors(raw: str) -> str:
    """CONSOLE_FRAME_ANCESTORS: the CSP frame-ancestors sources, space-separated; 'none' alone forbids framing."""
    sources = raw.split()
    if sources == ["'none'"]:
        return raw.strip()
    bad = [source for source in sources if not _FRAME_SOURCE.match(source)]
    if bad or not sources:
        raise SettingsError(
            "CONSOLE_FRAME_ANCESTORS must be 'none', or space-separated sources such as "
            f"'self' https://app.example.com, got {bad[0] if bad else raw!r}")
    return " ".join(sources)


def _secret(name: str, raw: str | None, environment: str) -> str | None:
    if raw is not None and environment == "production" and len(raw) < 32:
        raise SettingsError(f"{name} is too short for production: use at least 32 random characters")
    return raw


def _allow_loopback(raw: str | None, environment: str) -> bool:
    """WEBHOOK_ALLOW_LOOPBACK: webhooks and Slack to http(s)://127.0.0.1 etc., for tests and `make dev`."""
    if raw is None:
        return False
    if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"WEBHOOK_ALLOW_LOOPBACK must be true or false, got {raw!r}")
    allowed = raw.lower() in ("true", "1", "yes")
    if allowed and environment == "production":
        raise SettingsError("WEBHOOK_ALLOW_LOOPBACK=true is for development only: unset it in production")
    return allowed


# Each setting's default is its Settings field's: load_settings reads it from here, never from a
# literal of its own.
_DEFAULTS = Settings()
