"""What a person does with an insight: the status workflow behind the insight actions.

    NEW --review--> REVIEWED --start--> IN_PROGRESS --implement--> IMPLEMENTED
     \\_______________\\_____________________\\__dismiss--> DISMISSED --reopen--> NEW
      \\_______________\\_____________________\\__snooze---> DISMISSED until snooze_until

Any action may carry a feedback label (was the insight right?); `label` records one on an
insight nobody labelled yet without moving it. A snoozed insight is DISMISSED with an
expiry: the next analysis after `snooze_until` that finds it again brings it back
(insights/store.py), and so does one before it whose effect grew past the rule's margin.

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
from chanperf.core.enums import FeedbackLabel, InsightStatus
from chanperf.core.errors import ConflictError, NotFoundError, Problem, ValidationError
from chanperf.core.transitions import compare_and_set
from chanperf.models.performance import PerformanceInsight

OPEN_STATUSES = (InsightStatus.NEW, InsightStatus.REVIEWED, InsightStatus.IN_PROGRESS)
LABELS = tuple(FeedbackLabel)


@dataclass(frozen=True)
class Action:
    """An insight action: the status it moves to (None: stays), from which statuses, and what
    it needs."""

    target: InsightStatus | None
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
    "snooze": Action(
        InsightStatus.DISMISSED,
        OPEN_STATUSES,
        "snooze_until",
        "NEW, REVIEWED or IN_PROGRESS → DISMISSED until snooze_until (a future moment; "
        "it comes back sooner if its effect grows past the rule's re-raise margin)",
    ),
    "label": Action(
        None,
        tuple(InsightStatus),
        "label",
        "any status, unchanged: records the label of an insight that has none",
    ),
}


def parse_label(value: FeedbackLabel | str | None) -> FeedbackLabel | None:
    """A label by its name (None stays None); an unknown one is a ValidationError on `label`."""
    if value is None or isinstance(value, FeedbackLabel):
        return value
    try:
        return FeedbackLabel(value)
    except ValueError:
        allowed = ", ".join(label.value for label in LABELS)
        raise ValidationError(
            [Problem("label", f"unknown label {value!r} (one of {allowed})", field="label")]
        ) from None


def _check_snooze(action: str, snooze_until: datetime | None, now: datetime) -> None:
    if snooze_until is None:
        if action == "snooze":
            raise ValidationError(
                [Problem("snooze_until", "snooze needs snooze_until", field="snooze_until")]
            )
        return
    if action != "snooze":
        raise ValidationError(
            [Problem("snooze_until", "only snooze takes snooze_until", field="snooze_until")]
        )
    if as_utc(snooze_until) <= now:
        raise ValidationError(
            [Problem("snooze_until", "snooze_until must be in the future", field="snooze_until")]
        )


def act_on_insight(
    session: Session,
    org_id: int,
    insight_id: int,
    action: str,
    actor: str,
    *,
    reason: str | None = None,
    implementation_notes: str | None = None,
    label: FeedbackLabel | str | None = None,
    snooze_until: datetime | None = None,
    now: datetime | None = None,
) -> PerformanceInsight:
    """Apply an action to an insight, recording who, when, why and (optionally) whether it was
    right; 409 if its status moved on (or, for `label`, someone labelled it first)."""
    spec = ACTIONS.get(action)
    if spec is None:
        allowed = ", ".join(ACTIONS)
        raise ValidationError(
            [Problem("action", f"unknown action {action!r} (one of {allowed})", field="action")]
        )
    now = as_utc(now)
    feedback = parse_label(label)
    _check_snooze(action, snooze_until, now)
    texts = {"reason": reason, "implementation_notes": implementation_notes}
    if spec.needs in texts and not (texts[spec.needs] or "").strip():
        raise ValidationError(
            [Problem(spec.needs, f"{action} needs {spec.needs}", field=spec.needs)]
        )
    if spec.needs == "label" and feedback is None:
        raise ValidationError([Problem("label", "label needs a label", field="label")])
    if not actor or not actor.strip():
        raise ValidationError([Problem("actor", "who is acting is required", field="actor")])
    who = actor.strip()
    values: dict[str, object] = {}
    if spec.target is not None:
        values.update(status=spec.target, reviewed_by=who, reviewed_at=now)
    if spec.needs == "reason" or (action == "snooze" and reason and reason.strip()):
        values["status_reason"] = (reason or "").strip()
    if spec.needs == "implementation_notes":
        values["implementation_notes"] = (implementation_notes or "").strip()
    if action in ("dismiss", "reopen", "snooze"):
        # a dismissal is for good, a reopened insight is awake: only snooze sets an end
        values["snooze_until"] = None if snooze_until is None else as_utc(snooze_until)
    if feedback is not None:
        values.update(label=feedback, labelled_by=who, labelled_at=now)
    t = PerformanceInsight
    guards = [t.status.in_(spec.sources)]
    if spec.target is None:
        guards.append(t.label.is_(None))  # the first label wins; a status action may change it
    moved, row = compare_and_set(session, t, insight_id, org_id, guards, values)
    if row is None:
        raise NotFoundError(f"insight {insight_id} not found")
    if not moved:
        if spec.target is None and row.label is not None:
            raise ConflictError(
                f"insight {insight_id} is already labelled {row.label.value}; "
                "a status action may change the label"
            )
        sources = ", ".join(s.value for s in spec.sources)
        raise ConflictError(
            f"insight {insight_id} is {row.status.value}; {action} needs it {sources}"
        )
    return row
