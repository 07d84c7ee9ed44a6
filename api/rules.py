"""Rule statistics: how often each rule fired, how often reviewers said it was right."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import requires
from api.blueprint import Blueprint
from api.common import PREFIX, org_id, reading
from api.context import services
from api.schemas import RulesQuerySchema, RulesReportSchema
from chanperf.analysis.context import load_packs
from chanperf.core import clock
from chanperf.core.api_keys import Role
from chanperf.core.errors import ConfigError, ValidationError
from chanperf.rules.stats import report_as_dict, rule_stats

blp = Blueprint("rules", __name__, url_prefix=PREFIX, description="Rules: precision and coverage")


@blp.route("/rules")
class Rules(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(RulesQuerySchema, location="query")
    @blp.response(200, RulesReportSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Per rule: firings, labels, precision with its Wilson interval; silent rules."""
        settings = services().settings
        try:
            _, rules = load_packs(settings)
        except ValidationError as exc:  # the server's own pack: not the caller's input
            raise ConfigError(f"the rule pack does not load: {exc}") from exc
        as_of = args.get("as_of") or clock.today(settings.tz)
        with reading() as session:
            report = rule_stats(session, org_id(), rules, as_of, days=args["days"])
        return report_as_dict(report)
