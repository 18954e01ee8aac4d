"""`/` leads to the console; `/docs` is Swagger UI over /openapi.json, served from the pinned
swagger-ui-bundle package (its files at /docs/assets/...), so it works offline and under the
console's Content-Security-Policy: the page's only script besides Swagger UI's is
static/docs.js, no inline code, nothing from a CDN.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from api.console.headers import add_headers

bp = Blueprint("docs", __name__, template_folder="templates")
bp.after_request(add_headers)

# The Swagger UI files the page needs; nothing else of the package is served.
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
          "favicon-32x32.png", "favicon-16x16.png"}


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
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
