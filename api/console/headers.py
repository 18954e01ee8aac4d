"""Security headers of the console's pages and of /docs.

The Content-Security-Policy allows scripts, styles, images and fetches from the app itself only: no
inline script, no CDN. `frame-ancestors` comes from CONSOLE_FRAME_ANCESTORS ('none' by default), so a
host application can embed the console in a frame only when it is named there.
"""
from __future__ import annotations

from flask import current_app

from api.console import bp


def policy(frame_ancestors: str) -> str:
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ))


def add_headers(response):
    settings = current_app.config["SETTINGS"]
    response.headers["Content-Security-Policy"] = policy(settings.console_frame_ancestors)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if settings.console_frame_ancestors == "'none'":
        response.headers["X-Frame-Options"] = "DENY"  # for browsers without frame-ancestors
    if response.mimetype == "text/html":
        # Pages show one account's data: never kept by a shared cache or the back button after sign-out.
        response.headers["Cache-Control"] = "no-store"
    return response


# Set up once, at import (the blueprints are module-level and may be registered on many apps).
bp.after_request(add_headers)
