"""Insights: list (filters, sort, pages), one with its proposals, and status actions."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import requires
from api.blueprint import Blueprint
from api.common import PREFIX, actor, in_transaction, org_id, page_headers, reading
from api.schemas import (
    PAGINATION_HEADERS,
    InsightActionSchema,
    InsightDetailSchema,
    InsightQuerySchema,
    PerformanceInsightSchema,
)
from chanperf.core.api_keys import Role
from chanperf.insights.queries import (
    InsightFilter,
    get_insight,
    list_insights,
    parse_period,
    proposals_of_insight,
)
from chanperf.insights.workflow import act_on_insight
from chanperf.models.performance import PerformanceInsight

blp = Blueprint(
    "insights", __name__, url_prefix=PREFIX, description="Insights: what is wrong, and why"
)


def _detail(session: Any, row: PerformanceInsight) -> dict[str, Any]:
    out = {c.key: getattr(row, c.key) for c in PerformanceInsight.__table__.columns}
    out["proposals"] = proposals_of_insight(session, row.org_id, row.id)
    return out


@blp.route("/insights")
class Insights(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(InsightQuerySchema, location="query")
    @blp.response(200, PerformanceInsightSchema(many=True), headers=PAGINATION_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """List insights, filtered and sorted, a page at a time."""
        flt = InsightFilter(
            types=args.get("type", ()),
            severities=args.get("severity", ()),
            statuses=args.get("status", ()),
            categories=args.get("category", ()),
            region=args.get("region"),
            segment=args.get("segment"),
            period=parse_period(args["period"]) if args.get("period") else None,
        )
        with reading() as session:
            page = list_insights(
                session,
                org_id(),
                flt,
                args.get("sort"),
                offset=(args["page"] - 1) * args["page_size"],
                limit=args["page_size"],
            )
        return page.items, 200, page_headers(args["page"], args["page_size"], page.total)


@blp.route("/insights/<id:insight_id>")
class Insight(MethodView):
    @requires(Role.VIEWER)
    @blp.response(200, InsightDetailSchema)
    @blp.doc(responses={"404": "NOT_FOUND"})
    def get(self, insight_id: int) -> Any:
        """One insight with its evidence, impact and proposals."""
        with reading() as session:
            return _detail(session, get_insight(session, org_id(), insight_id))


@blp.route("/insights/<id:insight_id>/action")
class InsightAction(MethodView):
    @requires(Role.ANALYST)
    @blp.arguments(InsightActionSchema)
    @blp.response(200, InsightDetailSchema)
    @blp.doc(responses={"404": "NOT_FOUND", "409": "CONFLICT"})
    def post(self, body: dict[str, Any], insight_id: int) -> Any:
        """Review, start, implement, dismiss, reopen, snooze or label an insight (one race winner)."""
        org, who = org_id(), actor()

        def act(session: Any) -> dict[str, Any]:
            row = act_on_insight(
                session,
                org,
                insight_id,
                body["action"],
                who,
                reason=body.get("reason"),
                implementation_notes=body.get("implementation_notes"),
                label=body.get("label"),
                snooze_until=body.get("snooze_until"),
            )
            return _detail(session, row)

        return in_transaction(act)
