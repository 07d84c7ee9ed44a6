"""The dashboard in one call."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
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
        """KPI cards (this week vs last), new insights by severity, 30-day trends, pending proposals."""
        with reading() as session:
            return build_dashboard(session, org_id(), args.get("as_of") or yesterday())
