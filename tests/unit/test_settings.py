"""Settings: every bad variable gives one line naming it."""
import subprocess
import sys
from pathlib import Path

import pytest

from core.ops.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_when_nothing_is_set():
    settings = load_settings({})
    assert settings.tick_interval == 60
    assert settings.tick_batch_size == 1000
    assert settings.environment == "development"
    assert settings.log_format == "text"
    assert settings.tasks == {"generate_report": "core.runs.demo_tasks:generate_report"}
    assert settings.database_url is None
    assert (settings.worker_concurrency, settings.worker_db_connections, settings.smtp_connections) == (50, 10, 4)
    assert (settings.jwt_max_lifetime_days, settings.console_session_hours, settings.console_idle_minutes) == (30, 12, 60)


def test_postgres_scheme_is_accepted_as_postgresql():
    settings = load_settings({"DATABASE_URL": "postgres://u:p@db.example.com:5432/app"})
    assert settings.database_url == "postgresql://u:p@db.example.com:5432/app"


@pytest.mark.parametrize("url", [
    "redis://localhost:6379/0",
    "rediss://u:p@x.upstash.io:6379?ssl_cert_reqs=CERT_REQUIRED",
    "unix:///tmp/redis.sock",
])
def test_redis_urls_of_every_kind_are_accepted(url):
    assert load_settings({"REDIS_URL": url}).redis_url == url


def test_tasks_registry_is_parsed():
    settings = load_settings({"TASKS": "generate_report=myapp.tasks:generate_report, ping=myapp.jobs:ping"})
    assert settings.tasks == {"generate_report": "myapp.tasks:generate_report", "ping": "myapp.jobs:ping"}


@pytest.mark.parametrize("env, message", [
    ({"TICK_INTERVAL": "abc"}, "TICK_INTERVAL must be a number of seconds, got 'abc'"),
    ({"TICK_INTERVAL": "0"}, "TICK_INTERVAL must be between 0.05 and 3600, got '0'"),
    ({"TICK_INTERVAL": "nan"}, "TICK_INTERVAL must be between 0.05 and 3600, got 'nan'"),
    ({"TICK_BATCH_SIZE": "1.5"}, "TICK_BATCH_SIZE must be an int, got '1.5'"),
    ({"TICK_BATCH_SIZE": "0"}, "TICK_BATCH_SIZE must be between 1 and 10000, got '0'"),
    ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must start with postgresql:// or postgres://, got scheme 'mysql'"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL must start with redis://, rediss:// or unix://, got scheme 'http'"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of text, json, got 'xml'"),
    ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'CHATTY'"),
    ({"TASKS": "generate_report"}, "TASKS entry 'generate_report' is malformed: use name=package.module:function, comma-separated"),
    ({"SMTP_URL": "http://mail"}, "SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465"),
    ({"PUBLIC_BASE_URL": "example.com"}, "PUBLIC_BASE_URL must be an http(s) URL such as https://schedules.example.com, got 'example.com'"),
    ({"METRICS_PORT": "99999"}, "METRICS_PORT must be between 1 and 65535, got '99999'"),
    ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY must be between 1 and 1000, got '0'"),
    ({"WORKER_CONCURRENCY": "many"}, "WORKER_CONCURRENCY must be an int, got 'many'"),
    ({"WORKER_DB_CONNECTIONS": "500"}, "WORKER_DB_CONNECTIONS must be between 1 and 200, got '500'"),
    ({"SMTP_CONNECTIONS": "-1"}, "SMTP_CONNECTIONS must be between 1 and 100, got '-1'"),
    ({"ENVIRONMENT": "production", "JWT_SECRET": "short"}, "JWT_SECRET is too short for production: use at least 32 random characters"),
    ({"JWT_MAX_LIFETIME_DAYS": "0"}, "JWT_MAX_LIFETIME_DAYS must be between 1 and 365, got '0'"),
    ({"JWT_MAX_LIFETIME_DAYS": "30d"}, "JWT_MAX_LIFETIME_DAYS must be an int, got '30d'"),
    ({"CONSOLE_IDLE_MINUTES": "0"}, "CONSOLE_IDLE_MINUTES must be between 1 and 43200, got '0'"),
    ({"REQUEST_READ_TIMEOUT": "0"}, "REQUEST_READ_TIMEOUT must be between 0.5 and 300, got '0'"),
    ({"REQUEST_MIN_RATE": "fast"}, "REQUEST_MIN_RATE must be an int, got 'fast'"),
])
def test_each_bad_variable_gives_one_line_naming_it(env, message):
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_require_names_the_missing_variable():
    with pytest.raises(SettingsError, match="^REDIS_URL is not set"):
        load_settings({"DATABASE_URL": "postgresql://x/y"}).require("database_url", "redis_url")


def test_a_process_with_a_bad_setting_exits_with_one_line_and_no_traceback():
    result = subprocess.run([sys.executable, "-m", "core.ops.migrate"], cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://x/y", "TICK_INTERVAL": "abc"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: TICK_INTERVAL must be a number of seconds, got 'abc'"]


def test_console_settings_default_to_no_framing_and_the_jwt_secret():
    settings = load_settings({"JWT_SECRET": "j" * 32})
    assert settings.console_frame_ancestors == "'none'"
    assert settings.console_signing_secret == "j" * 32
    assert settings.console_session_hours == 12
    assert load_settings({"JWT_SECRET": "j", "CONSOLE_SECRET": "c"}).console_signing_secret == "c"


@pytest.mark.parametrize("value, expected", [
    ("'self'", "'self'"),
    ("'self'  https://app.example.com", "'self' https://app.example.com"),
    ("https://*.example.com:8443 http://localhost:3000", "https://*.example.com:8443 http://localhost:3000"),
])
def test_console_frame_ancestors_accepts_sources(value, expected):
    assert load_settings({"CONSOLE_FRAME_ANCESTORS": value}).console_frame_ancestors == expected


@pytest.mark.parametrize("value", ["*", "'none' https://a.example.com", "app.example.com", "https://a.example.com/path",
                                   "https://a.example.com; script-src *", "'unsafe-inline'"])
def test_console_frame_ancestors_refuses_anything_else(value):
    with pytest.raises(SettingsError, match="CONSOLE_FRAME_ANCESTORS"):
        load_settings({"CONSOLE_FRAME_ANCESTORS": value})


def test_console_secret_and_session_hours_are_checked():
    with pytest.raises(SettingsError, match="CONSOLE_SECRET is too short"):
        load_settings({"ENVIRONMENT": "production", "CONSOLE_SECRET": "short"})
    with pytest.raises(SettingsError, match="CONSOLE_SESSION_HOURS"):
        load_settings({"CONSOLE_SESSION_HOURS": "0"})


def test_the_web_process_settings_default_to_what_render_needs():
    settings = load_settings({})
    assert (settings.web_host, settings.port, settings.web_concurrency, settings.web_threads) == ("0.0.0.0", 8000, 2, 4)
    assert load_settings({"WEB_HOST": "::1", "PORT": "9000"}).web_host == "::1"


@pytest.mark.parametrize("env, name", [({"PORT": "http"}, "PORT"), ({"PORT": "70000"}, "PORT"),
                                       ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
                                       ({"WEB_THREADS": "many"}, "WEB_THREADS"), ({"WEB_HOST": "a b"}, "WEB_HOST"),
                                       ({"WEB_HOST": "http://x"}, "WEB_HOST")])
def test_the_web_process_settings_are_parsed_strictly(env, name):
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_an_empty_environment_gives_every_settings_default():
    """load_settings takes each default from the Settings dataclass: the two can never disagree."""
    from dataclasses import fields

    from core.ops.settings import Settings

    loaded, defaults = load_settings({}), Settings()
    assert {f.name: getattr(loaded, f.name) for f in fields(Settings)} == {
        f.name: getattr(defaults, f.name) for f in fields(Settings)}
