"""Who may move an insight where: the status workflow of the insight actions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from chanperf.core.clock import as_utc
from chanperf.core.enums import InsightStatus
from chanperf.core.errors import ConflictError, NotFoundError, Problem, ValidationError
from chanperf.models.performance import PerformanceInsight

# Who may move an insight where. DISMISSED and IMPLEMENTED are final for people;
# only a grown effect (re-raise) brings a dismissed finding back, as a new insight.
ALLOWED_TRANSITIONS: Mapping[InsightStatus, frozenset[InsightStatus]] = {
    InsightStatus.NEW: frozenset(
        {InsightStatus.REVIEWED, InsightStatus.ACCEPTED, InsightStatus.DISMISSED}
    ),
    InsightStatus.REVIEWED: frozenset({InsightStatus.ACCEPTED, InsightStatus.DISMISSED}),
    InsightStatus.ACCEPTED: frozenset({InsightStatus.IMPLEMENTED, InsightStatus.DISMISSED}),
    InsightStatus.DISMISSED: frozenset(),
    InsightStatus.IMPLEMENTED: frozenset(),
}


def update_insight_status(
    session: Session,
    org_id: int,
    insight_id: int,
    status: InsightStatus | str,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> PerformanceInsight:
    """Move an insight along ALLOWED_TRANSITIONS, recording who, when and why."""
    try:
        target = InsightStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in InsightStatus)
        raise ValidationError(
            [Problem("status", f"unknown status {status!r} (one of {allowed})", field="status")]
        ) from None
    row = session.get(PerformanceInsight, insight_id)
    if row is None or row.org_id != org_id:
        raise NotFoundError(f"insight {insight_id} not found")
    if target not in ALLOWED_TRANSITIONS[row.status]:
        raise ConflictError(
            f"insight {insight_id} is {row.status.value}; cannot become {target.value}"
        )
    row.status = target
    row.reviewed_by = actor
    row.reviewed_at = as_utc(now)
    if reason is not None:
        row.status_reason = reason
    session.flush()
    return row
