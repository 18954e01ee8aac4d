"""/healthz: the process is up and serving. It touches neither PostgreSQL nor Redis, so a database
outage never makes the platform restart healthy web processes (readiness is another route's job)."""
from __future__ import annotations

from api.errors import Blueprint
from api.schemas import HealthSchema

blp = Blueprint("health", __name__, description="Liveness of the web process")


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz():
    """Liveness: 200 while the process can answer."""
    return {"status": "ok"}
