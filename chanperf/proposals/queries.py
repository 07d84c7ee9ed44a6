"""Reads of proposals, always scoped to one org: the CLI's list, the API's pages, one proposal."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from chanperf.core.enums import ProposalStatus
from chanperf.core.errors import (
    NotFoundError,
    Problem,
    ValidationError,
)
from chanperf.insights.queries import Page
from chanperf.models.performance import PolicyProposal


def _where(
    org_id: int, statuses: Sequence[ProposalStatus], policy_name: str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [PolicyProposal.org_id == org_id]
    if statuses:
        where.append(PolicyProposal.status.in_(list(statuses)))
    if policy_name:
        where.append(PolicyProposal.policy_name == policy_name)
    return where


def list_proposals(
    session: Session, org_id: int, status: ProposalStatus | str | None = None
) -> list[PolicyProposal]:
    """Every proposal of the org (of one status when given), newest first."""
    statuses: tuple[ProposalStatus, ...] = ()
    if status is not None:
        try:
            statuses = (ProposalStatus(status),)
        except ValueError:
            allowed = ", ".join(s.value for s in ProposalStatus)
            raise ValidationError(
                [Problem("status", f"unknown status {status!r} (one of {allowed})", field="status")]
            ) from None
    query = select(PolicyProposal).where(*_where(org_id, statuses, None))
    return list(session.scalars(query.order_by(PolicyProposal.id.desc())))


def page_proposals(
    session: Session,
    org_id: int,
    statuses: Sequence[ProposalStatus] = (ProposalStatus.PENDING_REVIEW,),
    policy_name: str | None = None,
    offset: int = 0,
    limit: int = 10,
) -> Page:
    """One page of proposals, newest first, with the total; an empty `statuses` means all."""
    where = _where(org_id, statuses, policy_name)
    total = session.scalar(select(func.count()).select_from(PolicyProposal).where(*where))
    rows = session.scalars(
        select(PolicyProposal)
        .where(*where)
        .order_by(PolicyProposal.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return Page(list(rows), int(total or 0))


def get_proposal(
    session: Session, org_id: int, proposal_id: int, *, for_update: bool = False
) -> PolicyProposal:
    query = select(PolicyProposal).where(
        PolicyProposal.id == proposal_id, PolicyProposal.org_id == org_id
    )
    if for_update:
        query = query.with_for_update()  # two approvers at once: the second waits, then sees 409
    row = session.scalars(query).first()
    if row is None:
        raise NotFoundError(f"proposal {proposal_id} not found")
    return row


def proposal_diff(session: Session, org_id: int, proposal_id: int) -> str:
    """The unified diff of the policy file (apply with `git apply` from the repository root)."""
    return get_proposal(session, org_id, proposal_id).policy_diff or ""
