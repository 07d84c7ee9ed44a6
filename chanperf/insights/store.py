"""From insight drafts (rules fired on findings) to stored insights.

A fingerprint (rule + affected region/segment/policy/sku) makes a later run
update the open insight instead of adding a twin; a DISMISSED insight is raised
again (as a new insight) only when its effect grows past the rule's re-raise margin.
A snoozed one (DISMISSED with `snooze_until`) wakes up, the same insight back to NEW,
when a run after its snooze finds it again, or one before it finds its effect grown
past the margin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanperf.analysis.context import AnalysisConfig
from chanperf.core.clock import as_utc
from chanperf.core.enums import InsightStatus
from chanperf.core.transitions import compare_and_set
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
    suppressed: int  # dismissed (or still snoozed) and not grown past the margin

    @property
    def insight_ids(self) -> tuple[int, ...]:
        return self.created + self.updated + self.reraised


def _effect(draft: InsightDraft) -> float | None:
    effect = draft.finding.effect
    return None if effect is None else abs(float(effect))


def _grew_past_margin(quiet: PerformanceInsight, draft: InsightDraft, growth: float) -> bool:
    """Whether the effect grew past the re-raise margin since the insight went quiet.

    A rule's `reraise_margin` is in its effect's own units (0.05 = 5 p.p. of a rate, 2 =
    two days, 5 = five NPS points): |effect| must exceed the stored one plus the margin.
    A rule without one uses the analysis config's `reraise_growth`, a share (one number
    cannot carry every effect's unit): |effect| must exceed the stored one × (1 + share).
    """
    new, old = _effect(draft), quiet.effect_size
    if new is None or old is None:
        return False
    if draft.reraise_margin is not None:
        return new > abs(float(old)) + draft.reraise_margin
    return new > abs(float(old)) * (1.0 + growth)


def _wake(session: Session, row: PerformanceInsight) -> bool:
    """A snoozed insight back to NEW, unless a person moved it meanwhile (compare-and-set)."""
    t = PerformanceInsight
    moved, _ = compare_and_set(
        session,
        t,
        row.id,
        row.org_id,
        [t.status == InsightStatus.DISMISSED, t.snooze_until == row.snooze_until],
        {"status": InsightStatus.NEW, "snooze_until": None},
    )
    return moved


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


def _refill(
    session: Session,
    row: PerformanceInsight,
    draft: InsightDraft,
    basis: ImpactBasis,
    run_id: int | None,
    now: datetime,
) -> None:
    if row.analysis_period_end != draft.finding.period_end:
        row.occurrences += 1  # a re-run of the same as-of is not a new occurrence
    _fill(row, draft, basis, run_id, now)
    session.flush()


def generate_insights(
    session: Session,
    org_id: int,
    drafts: Sequence[InsightDraft],
    basis: ImpactBasis,
    run_id: int | None = None,
    now: datetime | None = None,
    reraise_growth: float | None = None,
) -> InsightSync:
    """Store drafts: update the open insight with the same fingerprint, else add one.

    The caller owns the transaction. Two drafts with one fingerprint in a run (the
    same rule firing twice on one affected set) keep the larger effect. `now` decides
    whether a snooze is over; `reraise_growth` is the margin of rules that name none
    (default: the analysis config's default).
    """
    # whole seconds: MariaDB DATETIME keeps none, and both backends must store the same value
    now = as_utc(now)
    growth = AnalysisConfig().reraise_growth if reraise_growth is None else reraise_growth
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
            _refill(session, latest, draft, basis, run_id, now)
            updated.append(latest.id)
            continue
        if latest is not None and latest.status == InsightStatus.DISMISSED:
            grew = _grew_past_margin(latest, draft, growth)
            if latest.snooze_until is not None:
                if (latest.snooze_until <= now or grew) and _wake(session, latest):
                    _refill(session, latest, draft, basis, run_id, now)
                    reraised.append(latest.id)
                else:
                    suppressed += 1
                continue
            if not grew:
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
