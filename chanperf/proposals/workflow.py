"""Review of a proposal: DRAFT -> PENDING_REVIEW -> APPROVED | REJECTED.

Analysis creates proposals directly in PENDING_REVIEW, requested by SYSTEM_ACTOR: there
is nothing left for a person to draft. Every transition is one compare-and-set UPDATE
(`move`); every function takes the caller's session, and the caller commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.orm import Session

from chanperf.core.clock import as_utc
from chanperf.core.enums import ProposalStatus
from chanperf.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    Problem,
    ValidationError,
)
from chanperf.core.transitions import compare_and_set
from chanperf.models.performance import PolicyProposal

SYSTEM_ACTOR = "chanperf-analysis"


def require_actor(actor: str | None, name: str = "actor") -> str:
    if actor is None or not actor.strip():
        raise ValidationError([Problem(name, "who is acting is required", field=name)])
    return actor.strip()


def move(
    session: Session,
    org_id: int,
    proposal_id: int,
    source: ProposalStatus,
    values: dict[str, Any],
    verb: str,
    reviewer: str | None = None,
) -> PolicyProposal:
    """Move a proposal from `source` by compare-and-set (chanperf.core.transitions): of two
    reviewers racing, one wins and the other gets 409 with the status the winner left.
    With `reviewer`, the UPDATE also requires that they did not request it."""
    t = PolicyProposal
    guards = [t.status == source]
    if reviewer is not None:
        guards.append(
            or_(t.requested_by.is_(None), func.lower(func.trim(t.requested_by)) != reviewer.lower())
        )
    moved, row = compare_and_set(session, t, proposal_id, org_id, guards, values)
    if row is None:
        raise NotFoundError(f"proposal {proposal_id} not found")
    if not moved:
        if (
            reviewer is not None
            and row.requested_by
            and row.requested_by.strip().casefold() == reviewer.casefold()
        ):
            raise PermissionDenied(f"{reviewer} requested proposal {row.id} and cannot review it")
        raise ConflictError(
            f"proposal {proposal_id} is {row.status.value}; only {source.value} can be {verb}"
        )
    return row


def submit_for_review(
    session: Session, org_id: int, proposal_id: int, actor: str, now: datetime | None = None
) -> PolicyProposal:
    actor = require_actor(actor)
    values = {
        "status": ProposalStatus.PENDING_REVIEW,
        "requested_by": func.coalesce(PolicyProposal.requested_by, actor),
        "submitted_at": as_utc(now),
    }
    return move(session, org_id, proposal_id, ProposalStatus.DRAFT, values, "submitted")


def approve_proposal(
    session: Session,
    org_id: int,
    proposal_id: int,
    actor: str,
    now: datetime | None = None,
    comment: str | None = None,
) -> PolicyProposal:
    actor = require_actor(actor)
    values: dict[str, Any] = {
        "status": ProposalStatus.APPROVED,
        "approved_by": actor,
        "approved_at": as_utc(now),
        "approval_comment": comment.strip() if comment and comment.strip() else None,
    }
    return move(
        session, org_id, proposal_id, ProposalStatus.PENDING_REVIEW, values, "approved", actor
    )


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
    values = {
        "status": ProposalStatus.REJECTED,
        "rejected_by": actor,
        "rejected_at": as_utc(now),
        "rejection_reason": reason.strip(),
    }
    return move(
        session, org_id, proposal_id, ProposalStatus.PENDING_REVIEW, values, "rejected", actor
    )
