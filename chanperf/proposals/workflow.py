"""Review of a proposal: DRAFT -> PENDING_REVIEW -> APPROVED | REJECTED.

Analysis creates proposals directly in PENDING_REVIEW, requested by SYSTEM_ACTOR: there
is nothing left for a person to draft. Every function takes the caller's session and
flushes; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from chanperf.core.clock import as_utc
from chanperf.core.enums import ProposalStatus
from chanperf.core.errors import (
    ConflictError,
    PermissionDenied,
    Problem,
    ValidationError,
)
from chanperf.models.performance import PolicyProposal
from chanperf.proposals.queries import get_proposal

SYSTEM_ACTOR = "chanperf-analysis"


def require_actor(actor: str | None, name: str = "actor") -> str:
    if actor is None or not actor.strip():
        raise ValidationError([Problem(name, "who is acting is required", field=name)])
    return actor.strip()


def submit_for_review(
    session: Session, org_id: int, proposal_id: int, actor: str, now: datetime | None = None
) -> PolicyProposal:
    actor = require_actor(actor)
    row = get_proposal(session, org_id, proposal_id, for_update=True)
    if row.status != ProposalStatus.DRAFT:
        raise ConflictError(
            f"proposal {proposal_id} is {row.status.value}; only a DRAFT is submitted"
        )
    row.status = ProposalStatus.PENDING_REVIEW
    row.requested_by = row.requested_by or actor
    row.submitted_at = as_utc(now)
    session.flush()
    return row


def _decidable(row: PolicyProposal, actor: str, verb: str) -> None:
    if row.status != ProposalStatus.PENDING_REVIEW:
        raise ConflictError(
            f"proposal {row.id} is {row.status.value}; only PENDING_REVIEW can be {verb}"
        )
    if row.requested_by and row.requested_by.strip().casefold() == actor.casefold():
        raise PermissionDenied(f"{actor} requested proposal {row.id} and cannot review it")


def approve_proposal(
    session: Session, org_id: int, proposal_id: int, actor: str, now: datetime | None = None
) -> PolicyProposal:
    actor = require_actor(actor)
    row = get_proposal(session, org_id, proposal_id, for_update=True)
    _decidable(row, actor, "approved")
    row.status = ProposalStatus.APPROVED
    row.approved_by = actor
    row.approved_at = as_utc(now)
    session.flush()
    return row


def reject_proposal(
    session: Session,
    org_id: int,
    proposal_id: int,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> PolicyProposal:
    actor = require_actor(actor)
    if reason is None or not reason.strip():
        raise ValidationError([Problem("reason", "a rejection needs a reason", field="reason")])
    row = get_proposal(session, org_id, proposal_id, for_update=True)
    _decidable(row, actor, "rejected")
    row.status = ProposalStatus.REJECTED
    row.rejected_by = actor
    row.rejected_at = as_utc(now)
    row.rejection_reason = reason.strip()
    session.flush()
    return row
