"""The dashboard in one call."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import current_key, requires
from api.blueprint import Blueprint
from api.common import PREFIX, org_id, reading, yesterday
from api.schemas import DashboardQuerySchema, DashboardSchema
from chanperf.core.api_keys import Role
from chanperf.metrics.dashboard import build_dashboard

blp = Blueprint("dashboard", __name__, url_prefix=PREFIX, description="Dashboard")


@blp.route("/dashboard")
class Dashboard(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(DashboardQuerySchema, location="query")
    @blp.response(200, DashboardSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The Performance page: KPI cards of the last complete week, new insights, trends, pending proposals."""
        key = current_key()
        with reading() as session:
            body = build_dashboard(session, org_id(), args.get("as_of") or yesterday())
        body["viewer"] = {
            "name": key.name,
            "role": key.role.label,
            "can_act": key.role >= Role.ANALYST,
            "can_approve": key.role >= Role.APPROVER,
        }
        return body
