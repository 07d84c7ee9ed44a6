"""Stored metrics: the latest period, a history, and one measure's trend."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import requires
from api.blueprint import Blueprint
from api.common import PREFIX, org_id, reading, yesterday
from api.schemas import (
    ChannelMetricsSchema,
    HistoryQuerySchema,
    LatestMetricsSchema,
    MetricsQuerySchema,
    TrendDataSchema,
    TrendQuerySchema,
)
from chanperf.core.api_keys import Role
from chanperf.metrics.queries import default_window, latest_metrics, metric_history, metric_trend

blp = Blueprint("metrics", __name__, url_prefix=PREFIX, description="Channel metrics")


@blp.route("/metrics")
class Metrics(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(MetricsQuerySchema, location="query")
    @blp.response(200, LatestMetricsSchema)
    @blp.doc(responses={"404": "NOT_FOUND"})
    def get(self, args: dict[str, Any]) -> Any:
        """The latest stored period (WEEKLY by default) and the one before it."""
        with reading() as session:
            return latest_metrics(
                session, org_id(), args["period_type"], args.get("as_of") or yesterday()
            )


@blp.route("/metrics/history")
class MetricsHistory(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, ChannelMetricsSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Stored periods between two dates, totals or one dimension's cuts."""
        end = args.get("to") or yesterday()
        start = args.get("from_") or default_window(args["period_type"], end)
        with reading() as session:
            return metric_history(
                session,
                org_id(),
                args["period_type"],
                start,
                end,
                args.get("dimension"),
                args.get("dimension_value"),
            )


@blp.route("/trends/<string:metric>")
class Trend(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(TrendQuerySchema, location="query")
    @blp.response(200, TrendDataSchema)
    @blp.doc(responses={"404": "NOT_FOUND"})
    def get(self, args: dict[str, Any], metric: str) -> Any:
        """One measure over the last N days with period-over-period and week-over-week deltas."""
        with reading() as session:
            points = metric_trend(
                session,
                org_id(),
                metric,
                args["days"],
                args.get("end") or yesterday(),
                args["period_type"],
            )
        return {"metric": metric, "period_type": args["period_type"].value, "points": points}
