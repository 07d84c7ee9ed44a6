"""From insight drafts (rules fired on findings) to stored insights.

A fingerprint (rule + affected region/segment/policy/sku) makes a later run
update the open insight instead of adding a twin; a DISMISSED insight is raised
again only when its effect grows past the rule's re-raise margin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanperf.core.clock import as_utc
from chanperf.core.enums import InsightStatus
from chanperf.insights.drafts import InsightDraft
from chanperf.insights.impact import ImpactBasis, estimate_impact
from chanperf.insights.workflow import OPEN_STATUSES
from chanperf.models.performance import PerformanceInsight


def fingerprint(org_id: int, draft: InsightDraft) -> str:
    """Stable identity of "the same problem" across runs: org, rule and affected fields."""
    parts = [str(org_id), *(p or "" for p in draft.fingerprint_inputs)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class InsightSync:
    created: tuple[int, ...]
    updated: tuple[int, ...]
    reraised: tuple[int, ...]
    suppressed: int  # dismissed and not grown past the margin

    @property
    def insight_ids(self) -> tuple[int, ...]:
        return self.created + self.updated + self.reraised


def _effect(draft: InsightDraft) -> float | None:
    effect = draft.finding.effect
    return None if effect is None else abs(float(effect))


def _grew_past_margin(dismissed: PerformanceInsight, draft: InsightDraft) -> bool:
    new, old = _effect(draft), dismissed.effect_size
    if new is None or old is None:
        return False
    margin = draft.reraise_margin if draft.reraise_margin is not None else 0.0
    return new > abs(float(old)) * (1.0 + margin)


def _fill(
    row: PerformanceInsight,
    draft: InsightDraft,
    basis: ImpactBasis,
    run_id: int | None,
    now: datetime,
) -> None:
    row.insight_type, row.severity = draft.type, draft.severity
    row.category = draft.category.value
    row.title = draft.title[:255]
    row.observation = draft.observation
    row.recommendation = draft.recommendation
    row.evidence = dict(draft.evidence)
    row.suggested_action = draft.suggested_action
    row.suggested_params = dict(draft.suggested_params) or None
    row.affected_region = draft.affected_region
    row.affected_segment = draft.affected_segment
    row.affected_policy = draft.affected_policy
    row.affected_sku = draft.affected_sku
    row.impact_estimate = estimate_impact(draft.finding, basis).as_dict()
    row.analysis_period_start = draft.finding.period_start
    row.analysis_period_end = draft.finding.period_end
    row.rule_id = draft.rule_id
    row.detector = draft.finding.kind
    effect = _effect(draft)
    row.effect_size = None if effect is None else Decimal(f"{effect:.6f}")
    row.last_seen_at = now
    row.analysis_run_id = run_id


def generate_insights(
    session: Session,
    org_id: int,
    drafts: Sequence[InsightDraft],
    basis: ImpactBasis,
    run_id: int | None = None,
    now: datetime | None = None,
) -> InsightSync:
    """Store drafts: update the open insight with the same fingerprint, else add one.

    The caller owns the transaction. Two drafts with one fingerprint in a run (the
    same rule firing twice on one affected set) keep the larger effect.
    """
    # whole seconds: MariaDB DATETIME keeps none, and both backends must store the same value
    now = as_utc(now)
    best: dict[str, InsightDraft] = {}
    for draft in drafts:
        key = fingerprint(org_id, draft)
        if key not in best or (_effect(draft) or 0) > (_effect(best[key]) or 0):
            best[key] = draft
    created: list[int] = []
    updated: list[int] = []
    reraised: list[int] = []
    suppressed = 0
    for key, draft in best.items():
        latest = session.scalars(
            select(PerformanceInsight)
            .where(PerformanceInsight.org_id == org_id, PerformanceInsight.fingerprint == key)
            .order_by(PerformanceInsight.id.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.status in OPEN_STATUSES:
            if latest.analysis_period_end != draft.finding.period_end:
                latest.occurrences += 1  # a re-run of the same as-of is not a new occurrence
            _fill(latest, draft, basis, run_id, now)
            session.flush()
            updated.append(latest.id)
            continue
        if (
            latest is not None
            and latest.status == InsightStatus.DISMISSED
            and not _grew_past_margin(latest, draft)
        ):
            suppressed += 1
            continue
        row = PerformanceInsight(
            org_id=org_id,
            fingerprint=key,
            status=InsightStatus.NEW,
            occurrences=1,
            first_seen_at=now,
        )
        _fill(row, draft, basis, run_id, now)
        session.add(row)
        session.flush()
        (reraised if latest is not None else created).append(row.id)
    return InsightSync(tuple(created), tuple(updated), tuple(reraised), suppressed)
