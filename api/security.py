"""Security headers outside the console's own pages (api/console/headers.py has those).

- HSTS on every answer when ENVIRONMENT=production: the service is only ever reached over https there
  (Render's edge terminates TLS), so a browser should never try plain http again.
- `page_headers()` for the pages that are not the console's but act on a click: the unsubscribe
  confirmation and its result (a state-changing button that needs no sign-in). They get the console's
  Content-Security-Policy with `frame-ancestors 'none'` whatever CONSOLE_FRAME_ANCESTORS says (a page
  that unsubscribes on one click must never be framed), `X-Frame-Options: DENY`, `nosniff`, and no
  Referer (their address holds the link's token).
"""
from __future__ import annotations

from api.console.headers import policy

HSTS = "max-age=31536000; includeSubDomains"


def page_headers() -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy("'none'"),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _add_hsts(response):
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app, settings) -> None:
    if settings.is_production:
        app.after_request(_add_hsts)
