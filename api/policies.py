"""Policies: the current version of each and its history."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import requires
from api.blueprint import Blueprint
from api.common import PREFIX, org_id, reading
from api.context import services
from api.schemas import PolicyDetailSchema, PolicySummarySchema
from chanperf.core.api_keys import Role
from chanperf.policies.queries import get_policy, list_policies

blp = Blueprint("policies", __name__, url_prefix=PREFIX, description="Policies as code")


@blp.route("/policies")
class Policies(MethodView):
    @requires(Role.VIEWER)
    @blp.response(200, PolicySummarySchema(many=True))
    def get(self) -> Any:
        """Every policy with its current version."""
        with reading() as session:
            return list_policies(session, services().settings, org_id())


@blp.route("/policies/<string:name>")
class Policy(MethodView):
    @requires(Role.VIEWER)
    @blp.response(200, PolicyDetailSchema)
    @blp.doc(responses={"404": "NOT_FOUND"})
    def get(self, name: str) -> Any:
        """One policy: its current version (document included) and every recorded version."""
        with reading() as session:
            return get_policy(session, services().settings, org_id(), name)
