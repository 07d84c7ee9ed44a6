"""Policy proposals: the pending queue, one proposal, its diff, approve and reject."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from api.auth import requires
from api.blueprint import Blueprint
from api.common import PREFIX, actor, in_transaction, org_id, page_headers, reading
from api.schemas import (
    PAGINATION_HEADERS,
    ApproveSchema,
    PolicyProposalSchema,
    ProposalQuerySchema,
    RejectSchema,
)
from chanperf.core.api_keys import Role
from chanperf.core.enums import ProposalStatus
from chanperf.proposals.queries import get_proposal, page_proposals, proposal_diff
from chanperf.proposals.workflow import approve_proposal, reject_proposal

blp = Blueprint(
    "proposals", __name__, url_prefix=PREFIX, description="Policy proposals and their review"
)
REVIEW_ERRORS = {"404": "NOT_FOUND", "409": "CONFLICT"}


def _statuses(values: list[str] | None) -> tuple[ProposalStatus, ...]:
    if not values:
        return (ProposalStatus.PENDING_REVIEW,)
    if "ALL" in values:
        return ()
    return tuple(ProposalStatus(v) for v in values)


@blp.route("/proposals")
class Proposals(MethodView):
    @requires(Role.VIEWER)
    @blp.arguments(ProposalQuerySchema, location="query")
    @blp.response(200, PolicyProposalSchema(many=True), headers=PAGINATION_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """List proposals, pending review unless a status is asked for, newest first."""
        with reading() as session:
            page = page_proposals(
                session,
                org_id(),
                _statuses(args.get("status")),
                args.get("policy"),
                offset=(args["page"] - 1) * args["page_size"],
                limit=args["page_size"],
            )
        return page.items, 200, page_headers(args["page"], args["page_size"], page.total)


@blp.route("/proposals/<id:proposal_id>")
class Proposal(MethodView):
    @requires(Role.VIEWER)
    @blp.response(200, PolicyProposalSchema)
    @blp.doc(responses={"404": "NOT_FOUND"})
    def get(self, proposal_id: int) -> Any:
        """One proposal: the change, its impact, experiment plan and review state."""
        with reading() as session:
            return get_proposal(session, org_id(), proposal_id)


@blp.route("/proposals/<id:proposal_id>/diff")
class ProposalDiff(MethodView):
    @requires(Role.VIEWER)
    @blp.response(200, content_type="text/x-diff", description="Unified diff, current → proposed")
    @blp.doc(
        responses={
            "200": {
                "description": "Unified diff, current → proposed",
                "content": {"text/x-diff": {"schema": {"type": "string"}}},
            },
            "404": "NOT_FOUND",
        }
    )
    def get(self, proposal_id: int) -> Response:
        """The proposal as a unified diff of the policy file."""

        with reading() as session:
            text = proposal_diff(session, org_id(), proposal_id)
        return Response(text, mimetype="text/x-diff")


@blp.route("/proposals/<id:proposal_id>/approve")
class ApproveProposal(MethodView):
    @requires(Role.APPROVER)
    @blp.arguments(ApproveSchema, required=False)
    @blp.response(200, PolicyProposalSchema)
    @blp.doc(responses=REVIEW_ERRORS)
    def post(self, body: dict[str, Any], proposal_id: int) -> Any:
        """Approve a pending proposal (the body, with its comment, is optional); the approver is
        the API key's name."""

        org, who = org_id(), actor()
        in_transaction(
            lambda s: approve_proposal(s, org, proposal_id, who, comment=body.get("comment"))
        )
        with reading() as session:
            return get_proposal(session, org_id(), proposal_id)


@blp.route("/proposals/<id:proposal_id>/reject")
class RejectProposal(MethodView):
    @requires(Role.APPROVER)
    @blp.arguments(RejectSchema)
    @blp.response(200, PolicyProposalSchema)
    @blp.doc(responses=REVIEW_ERRORS)
    def post(self, body: dict[str, Any], proposal_id: int) -> Any:
        """Reject a pending proposal with a reason; the reviewer is the API key's name."""

        org, who = org_id(), actor()
        in_transaction(lambda s: reject_proposal(s, org, proposal_id, who, body["reason"]))
        with reading() as session:
            return get_proposal(session, org_id(), proposal_id)
