"""Service information, liveness and readiness: open to everyone."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

import chanperf
from api.context import services
from chanperf.jobs.queue import queue_reachable

blp = Blueprint("health", __name__, description="Service information and health")


class ServiceInfoSchema(Schema):
    service = fields.String(required=True)
    version = fields.String(required=True)
    docs = fields.String(required=True)
    openapi = fields.String(required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"description": "ready or not_ready"})
    database = fields.String(required=True)
    queue = fields.String(required=True, metadata={"description": "ok, error or disabled"})


@blp.route("/")
class Root(MethodView):
    @blp.response(200, ServiceInfoSchema)
    def get(self) -> dict[str, Any]:
        """Service name, version and where the API is documented."""
        return {
            "service": "chanperf",
            "version": chanperf.__version__,
            "docs": "/docs",
            "openapi": "/openapi.json",
        }


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """Liveness: the process answers (checks nothing else)."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, schema=ReadySchema, description="A dependency is unreachable")
    def get(self) -> Any:
        """Readiness: the database answers, and the queue too when one is configured."""
        ctx = services()
        database = queue = "ok"
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            database = "error"
        if not ctx.settings.redis_url:
            queue = "disabled"
        elif not queue_reachable(ctx.settings.redis_url):
            queue = "error"
        ready = database == "ok" and queue != "error"
        body = {"status": "ready" if ready else "not_ready", "database": database, "queue": queue}
        return body, (200 if ready else 503)
