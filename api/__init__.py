"""The web process: `gunicorn 'api:create_app()'` (see gunicorn.conf.py).

`create_app(test_config=None)` builds the Flask app from settings: `test_config` is a dict of
environment-style settings ({"DATABASE_URL": ..., "JWT_SECRET": ...}) given to
`core.ops.settings.load_settings`, None reads the environment. DATABASE_URL and JWT_SECRET are required
(SettingsError naming the variable); REDIS_URL is optional here: without it, or while Redis is down,
"run now" leaves its run pending for the ticker to push.

Blueprints are imported inside the factory (as in Flask's tutorial), so nothing imports a global app.
flask-smorest turns their marshmallow schemas into the OpenAPI document at /openapi.json (completed
by api/openapi.py: per-cadence bodies, every status code, links); the console (api/console/) serves
the pages for people: the console itself under /console/, `/` leading there, and Swagger UI at /docs
from the pinned swagger-ui-bundle package. /healthz, /readyz and /metrics (api/health.py,
api/metrics.py) need no token; every request is counted and timed for /metrics.
"""
from __future__ import annotations

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core.ops.settings import load_settings

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                 "description": "HS256 JWT with claim account_id; `python -m api.cli mint-token` makes one"}


def create_app(test_config=None) -> Flask:
    settings = load_settings(test_config)
    settings.require("database_url", "jwt_secret")

    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE="Schedules API",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        API_SPEC_OPTIONS={"security": [{"bearerAuth": []}]},
    )
    from api.jsonbody import StrictJSONProvider

    app.json = StrictJSONProvider(app)  # request.get_json() anywhere: no NaN, no 1,000-deep nesting
    app.json.sort_keys = False  # keep the schemas' field order in responses
    # No redirect from `a//b` to `a/b`: a path segment may hold an encoded `/` (an email address in
    # DELETE /v1/email/suppressions/{email}), and a redirect there would act on another resource.
    app.url_map.merge_slashes = False
    # Render's proxy terminates TLS and adds one X-Forwarded-For / X-Forwarded-Proto hop.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)

    from api import (alerts, base, bulk, calendars, console, controls, db, errors, health, metrics, openapi, runs,
                     schedules, security, signing_secrets, suppressions, unsubscribe)

    db.init_app(app, settings)
    metrics.init_app(app)
    app.extensions["redis"] = (
        redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        if settings.redis_url else None
    )

    api = base.Api(app, spec_kwargs={"marshmallow_plugin": openapi.DocumentPlugin(settings)})
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    for blueprint in (health.blp, metrics.blp, schedules.blp, runs.blp, controls.blp, bulk.blp, unsubscribe.blp,
                      suppressions.blp, signing_secrets.blp, alerts.blp,
                      calendars.blp):
        api.register_blueprint(blueprint)
    errors.register_error_handlers(app)
    security.init_app(app, settings)
    console.init_app(app, settings)
    return app
