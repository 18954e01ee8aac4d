"""`/` leads to the console; `/docs` is Swagger UI 5 (it reads OpenAPI 3.1, which /openapi.json is)
over /openapi.json, its files served from the pinned flask-swagger-ui package's dist/ folder (at
/docs/assets/...), so it works offline and under the console's Content-Security-Policy: the page's
only script besides Swagger UI's is static/docs.js, no inline code, nothing from a CDN. The page
links back to the console. `/favicon.ico` is the console's icon, so no page asks for a missing one.
"""
from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, abort, redirect, render_template, send_from_directory, url_for

from api.console.headers import add_headers

bp = Blueprint("docs", __name__, template_folder="templates")
bp.after_request(add_headers)

SWAGGER_UI = Path(flask_swagger_ui.__file__).parent / "dist"
# The Swagger UI files the page needs; nothing else of the package is served.
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"}


@bp.route("/")
def home():
    return redirect(url_for("console.schedule_list"))


@bp.route("/docs")
def swagger_ui():
    return render_template("console/docs.html")


@bp.route("/docs/assets/<path:filename>")
def swagger_asset(filename: str):
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(SWAGGER_UI, filename, max_age=86400)


@bp.route("/favicon.ico")
def favicon():
    return send_from_directory(Path(__file__).parent / "static", "favicon.ico", max_age=86400)
