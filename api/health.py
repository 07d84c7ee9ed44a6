"""Service information, liveness and readiness: open to everyone."""

from __future__ import annotations

import logging
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import inspect

import chanperf
from api.context import services
from chanperf.jobs.queue import queue_reachable
from chanperf.models.performance import (
    PerformanceInsight,
    PerformanceMetric,
    PolicyProposal,
    SegmentMetric,
)
from chanperf.models.runs import AnalysisRun, PolicyVersion

log = logging.getLogger(__name__)
blp = Blueprint("health", __name__, description="Service information and health")
# chanperf's own tables: without them no /v1 route can answer.
SERVICE_TABLES = frozenset(
    str(m.__tablename__)
    for m in (
        PerformanceMetric,
        SegmentMetric,
        PerformanceInsight,
        PolicyProposal,
        PolicyVersion,
        AnalysisRun,
    )
)


class ServiceInfoSchema(Schema):
    service = fields.String(required=True)
    version = fields.String(required=True)
    docs = fields.String(required=True)
    openapi = fields.String(required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"description": "ready or not_ready"})
    database = fields.String(
        required=True,
        metadata={"description": "ok, missing_tables (run `chanperf db upgrade`) or error"},
    )
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
        """Readiness: the database answers and holds chanperf's tables, and the queue answers
        when one is configured."""
        ctx = services()
        database = queue = "ok"
        try:
            with ctx.engine.connect() as conn:
                present = set(inspect(conn).get_table_names())
            if not present >= SERVICE_TABLES:
                database = "missing_tables"
        except Exception:
            log.warning("readiness: the database is unreachable", exc_info=True)
            database = "error"
        if not ctx.settings.redis_url:
            queue = "disabled"
        elif not queue_reachable(ctx.settings.redis_url):
            queue = "error"
        ready = database == "ok" and queue != "error"
        body = {"status": "ready" if ready else "not_ready", "database": database, "queue": queue}
        return body, (200 if ready else 503)
