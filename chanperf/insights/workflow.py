"""What a person does with an insight: the status workflow behind the insight actions.

    NEW --review--> REVIEWED --start--> IN_PROGRESS --implement--> IMPLEMENTED
     \\_______________\\_____________________\\__dismiss--> DISMISSED --reopen--> NEW

Each action is one compare-and-set: a single UPDATE that names the statuses it may
move from, so two people acting at once get one winner and one conflict, on SQLite
and MariaDB alike, with no read between the check and the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from chanperf.core.clock import as_utc
from chanperf.core.enums import InsightStatus
from chanperf.core.errors import ConflictError, NotFoundError, Problem, ValidationError
from chanperf.core.transitions import compare_and_set
from chanperf.models.performance import PerformanceInsight

OPEN_STATUSES = (InsightStatus.NEW, InsightStatus.REVIEWED, InsightStatus.IN_PROGRESS)


@dataclass(frozen=True)
class Action:
    """An insight action: the status it moves to, from which statuses, and what it needs."""

    target: InsightStatus
    sources: tuple[InsightStatus, ...]
    needs: str | None = None  # a text field the action requires (non-blank)
    description: str = ""


ACTIONS: Mapping[str, Action] = {
    "review": Action(InsightStatus.REVIEWED, (InsightStatus.NEW,), None, "NEW → REVIEWED"),
    "start": Action(
        InsightStatus.IN_PROGRESS, (InsightStatus.REVIEWED,), None, "REVIEWED → IN_PROGRESS"
    ),
    "implement": Action(
        InsightStatus.IMPLEMENTED,
        (InsightStatus.IN_PROGRESS,),
        "implementation_notes",
        "IN_PROGRESS → IMPLEMENTED (needs implementation_notes)",
    ),
    "dismiss": Action(
        InsightStatus.DISMISSED,
        OPEN_STATUSES,
        "reason",
        "NEW, REVIEWED or IN_PROGRESS → DISMISSED (needs a reason)",
    ),
    "reopen": Action(InsightStatus.NEW, (InsightStatus.DISMISSED,), None, "DISMISSED → NEW"),
}


def act_on_insight(
    session: Session,
    org_id: int,
    insight_id: int,
    action: str,
    actor: str,
    *,
    reason: str | None = None,
    implementation_notes: str | None = None,
    now: datetime | None = None,
) -> PerformanceInsight:
    """Apply an action to an insight, recording who, when and why; 409 if its status moved on."""
    spec = ACTIONS.get(action)
    if spec is None:
        allowed = ", ".join(ACTIONS)
        raise ValidationError(
            [Problem("action", f"unknown action {action!r} (one of {allowed})", field="action")]
        )
    texts = {"reason": reason, "implementation_notes": implementation_notes}
    if spec.needs is not None and not (texts[spec.needs] or "").strip():
        raise ValidationError(
            [Problem(spec.needs, f"{action} needs {spec.needs}", field=spec.needs)]
        )
    if not actor or not actor.strip():
        raise ValidationError([Problem("actor", "who is acting is required", field="actor")])
    values: dict[str, object] = {
        "status": spec.target,
        "reviewed_by": actor.strip(),
        "reviewed_at": as_utc(now),
    }
    if spec.needs == "reason":
        values["status_reason"] = (reason or "").strip()
    if spec.needs == "implementation_notes":
        values["implementation_notes"] = (implementation_notes or "").strip()
    t = PerformanceInsight
    moved, row = compare_and_set(
        session, t, insight_id, org_id, [t.status.in_(spec.sources)], values
    )
    if row is None:
        raise NotFoundError(f"insight {insight_id} not found")
    if not moved:
        sources = ", ".join(s.value for s in spec.sources)
        raise ConflictError(
            f"insight {insight_id} is {row.status.value}; {action} needs it {sources}"
        )
    return row
