"""Storing what the analysis proposes: one proposal per change, deduplicated by fingerprint.

The workflow (docs/proposals.md) is DRAFT -> PENDING_REVIEW -> APPROVED | REJECTED, and
APPROVED -> IMPLEMENTED; the analysis stores its proposals directly in PENDING_REVIEW.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from chanperf.analysis.context import AnalysisConfig, AnalysisContext
from chanperf.core.clock import as_utc
from chanperf.core.database import make_engine
from chanperf.core.enums import ProposalStatus
from chanperf.core.settings import PACKAGED_PACKS
from chanperf.experiments.design import ExperimentConfig, load_experiment_config, measure_population
from chanperf.insights.drafts import InsightDraft
from chanperf.insights.store import InsightSync, fingerprint
from chanperf.models.performance import PerformanceInsight, PolicyProposal
from chanperf.policies.load import PolicySet
from chanperf.proposals.generate import ProposalSpec, generate_policy_proposal
from chanperf.proposals.workflow import SYSTEM_ACTOR

OPEN_STATUSES = (ProposalStatus.DRAFT, ProposalStatus.PENDING_REVIEW, ProposalStatus.APPROVED)


def store_proposal(
    session: Session,
    spec: ProposalSpec,
    insight_id: int | None,
    now: datetime | None = None,
) -> tuple[PolicyProposal, bool]:
    """Insert, or update the open proposal with the same fingerprint; (row, created).

    What a reviewer may already have approved (patch, diff, base version, plan) is
    refreshed only while the proposal is not yet APPROVED; the evidence-driven
    parts (description, impact, risk, insight link) always are.
    """
    row = session.scalars(
        select(PolicyProposal)
        .where(
            PolicyProposal.org_id == spec.org_id,
            PolicyProposal.fingerprint == spec.fingerprint,
            PolicyProposal.status.in_(OPEN_STATUSES),
        )
        .order_by(PolicyProposal.id.desc())
        .limit(1)
    ).first()
    created = row is None
    if row is None:
        row = PolicyProposal(
            org_id=spec.org_id,
            fingerprint=spec.fingerprint,
            status=ProposalStatus.PENDING_REVIEW,
            requested_by=SYSTEM_ACTOR,
            submitted_at=as_utc(now),
        )
        session.add(row)
    row.insight_id = insight_id if insight_id is not None else row.insight_id
    row.title = spec.title
    row.description = spec.description
    row.expected_impact = spec.expected_impact_text
    row.impact_metrics = spec.impact_metrics
    row.risk_assessment = spec.risk_assessment
    if created or row.status != ProposalStatus.APPROVED:
        row.policy_name = spec.policy_name
        row.affected_policy = spec.address
        row.base_policy_version = spec.base_policy_version
        row.current_value = spec.current_value
        row.proposed_value = spec.proposed_value
        row.current_policy = spec.current_policy
        row.proposed_policy = spec.proposed_policy
        row.policy_patch = spec.policy_patch
        row.policy_diff = spec.policy_diff
        row.experiment_plan = spec.experiment_plan
        row.experiment_duration_days = spec.experiment_duration_days
    session.flush()
    return row, created


ProposalHook = Callable[[Session, int, list[InsightDraft], InsightSync, PolicySet], int]


def make_proposal_hook(
    rules_dir: Path | str | None = None,
    timezone: str = "America/Sao_Paulo",
    source_url: str | None = None,
) -> ProposalHook:
    """`analyze(..., proposal_hook=make_proposal_hook(settings.rules_dir, settings.timezone))`.

    `source_url`: a separate source database to measure experiment populations in
    (default: the session's own database).
    """

    def hook(
        session: Session,
        org_id: int,
        drafts: list[InsightDraft],
        sync: InsightSync,
        policies: PolicySet,
    ) -> int:
        if source_url is None:
            return create_proposals_for_run(
                session, org_id, drafts, sync, policies, rules_dir=rules_dir, timezone=timezone
            )
        engine = make_engine(source_url)
        try:
            with engine.connect() as source:
                return create_proposals_for_run(
                    session,
                    org_id,
                    drafts,
                    sync,
                    policies,
                    rules_dir=rules_dir,
                    timezone=timezone,
                    source=source,
                )
        finally:
            engine.dispose()

    return hook


def create_proposals_for_run(
    session: Session,
    org_id: int,
    drafts: Sequence[InsightDraft],
    sync: InsightSync,
    policies: PolicySet,
    *,
    rules_dir: Path | str | None = None,
    timezone: str = "America/Sao_Paulo",
    config: ExperimentConfig | None = None,
    source: Connection | None = None,
) -> int:
    """The analysis run's proposal hook: one proposal per change; returns how many are new.

    `source` reads the source tables (default: the session's connection).
    """
    if config is None:
        config = load_experiment_config(rules_dir or PACKAGED_PACKS / "rules")
    stored = set(sync.insight_ids)
    created = 0
    for draft in drafts:
        if draft.proposal is None:
            continue
        insight_id = _insight_id(session, org_id, draft, stored)
        plan = config.for_parameter(draft.proposal.address)
        population = None
        if plan is not None:
            finding = draft.finding
            lookback = (finding.period_end - finding.period_start).days + 1
            ctx = AnalysisContext(
                org_id,
                finding.period_end,
                policies,
                AnalysisConfig(lookback_days=lookback),
                timezone,
            )
            filters = {
                k: v
                for k, v in (("region", draft.affected_region), ("segment", draft.affected_segment))
                if v is not None and k in plan.filters
            }
            population = measure_population(
                source if source is not None else session.connection(),
                ctx,
                plan,
                filters,
                draft.proposal.current_value,
                draft.proposal.value,
                config.volume_weeks,
            )
        spec = generate_policy_proposal(
            draft, policies, org_id=org_id, config=config, population=population
        )
        if spec is None:
            continue
        _row, is_new = store_proposal(session, spec, insight_id)
        created += int(is_new)
    return created


def _insight_id(session: Session, org_id: int, draft: InsightDraft, stored: set[int]) -> int | None:
    key = fingerprint(org_id, draft)
    ids = session.scalars(
        select(PerformanceInsight.id)
        .where(PerformanceInsight.org_id == org_id, PerformanceInsight.fingerprint == key)
        .order_by(PerformanceInsight.id.desc())
    ).all()
    return next((i for i in ids if i in stored), None)
