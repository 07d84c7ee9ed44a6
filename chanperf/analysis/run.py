"""One analysis run: collect what is missing, run every detector, apply the rules, store insights.

Everything a run writes (policy versions, insights, proposals, the run record)
is written in one transaction: a failure leaves the previous state, and the
failure itself is recorded in a separate, later transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from chanperf.analysis.context import AnalysisContext, analysis_context, load_packs
from chanperf.analysis.detect import run_detectors
from chanperf.analysis.detectors.drift import first_week_needed
from chanperf.core.clock import utc_now, yesterday
from chanperf.core.database import make_engine, session_factory
from chanperf.core.enums import RunStatus
from chanperf.core.settings import Settings
from chanperf.insights.drafts import build_insight_drafts
from chanperf.insights.impact import impact_basis
from chanperf.insights.store import generate_insights
from chanperf.metrics.collect import collect, windows_from
from chanperf.models.runs import AnalysisRun
from chanperf.policies.load import PolicySet
from chanperf.policies.versions import record_versions
from chanperf.proposals.store import ProposalHook, make_proposal_hook
from chanperf.rules.engine import evaluate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisSummary:
    run_id: int
    org_id: int
    as_of: date
    status: RunStatus
    findings: int
    insights_created: int
    insights_updated: int
    insights_reraised: int
    insights_suppressed: int
    proposals_created: int
    by_rule: dict[str, int] = field(default_factory=dict)


def analyze(
    settings: Settings,
    org_id: int = 1,
    as_of: date | None = None,
    *,
    collect_first: bool = True,
    policies: PolicySet | None = None,
    with_proposals: bool = True,
    proposal_hook: ProposalHook | None = None,
    run_key: str | None = None,
    job_id: str | None = None,
) -> AnalysisSummary:
    as_of = as_of or yesterday(settings.tz)
    loaded_policies, rules = load_packs(settings)
    policies = policies or loaded_policies
    ctx = analysis_context(settings, org_id, as_of, policies)
    if collect_first:
        _collect_missing(settings, ctx)
    # The weekly job stores insights only; proposals come from the monthly run and the CLI.
    if with_proposals and proposal_hook is None:
        proposal_hook = make_proposal_hook(
            settings.rules_dir,
            settings.timezone,
            source_url=settings.source_url
            if settings.source_url != settings.database_url
            else None,
        )

    engine = make_engine(settings.database_url)
    # A separate (read-only) source database: the detectors read the source tables there and
    # chanperf's metrics in the main one.
    separate = settings.source_url != settings.database_url
    source_engine = make_engine(settings.source_url) if separate else None
    factory = session_factory(engine)
    started = utc_now()
    try:
        with ExitStack() as stack, factory.begin() as session:
            source = stack.enter_context(source_engine.connect()) if source_engine else None
            run = AnalysisRun(
                org_id=org_id,
                kind="ANALYZE",
                run_key=run_key,
                job_id=job_id,
                as_of=as_of,
                period_start=ctx.period_start,
                period_end=as_of,
                started_at=started,
                status=RunStatus.RUNNING,
            )
            session.add(run)
            session.flush()
            record_versions(session, policies, org_id)
            conn = session.connection()
            findings = run_detectors(source or conn, ctx, metrics_conn=conn)
            drafts = build_insight_drafts(evaluate(rules, policies, findings))
            basis = impact_basis(source or conn, org_id, ctx.end_utc)
            sync = generate_insights(session, org_id, drafts, basis, run_id=run.id, now=started)
            proposals = (
                proposal_hook(session, org_id, drafts, sync, policies)
                if with_proposals and proposal_hook is not None
                else 0
            )
            run.status = RunStatus.SUCCEEDED
            run.finished_at = utc_now()
            run.findings_count = len(findings)
            run.insights_created = len(sync.created) + len(sync.reraised)
            run.insights_updated = len(sync.updated)
            run.proposals_created = proposals
            summary = AnalysisSummary(
                run.id,
                org_id,
                as_of,
                RunStatus.SUCCEEDED,
                len(findings),
                len(sync.created),
                len(sync.updated),
                len(sync.reraised),
                sync.suppressed,
                proposals,
                dict(Counter(d.rule_id for d in drafts)),
            )
    except Exception as exc:
        _record_failure(factory, org_id, as_of, ctx, started, job_id, exc)
        raise
    finally:
        engine.dispose()
        if source_engine is not None:
            source_engine.dispose()
    log.info(
        "analysis %s for org %s as of %s: %d findings, %d new, %d updated insights",
        summary.run_id,
        org_id,
        as_of,
        summary.findings,
        summary.insights_created,
        summary.insights_updated,
    )
    return summary


def _record_failure(
    factory: Callable[[], Session],
    org_id: int,
    as_of: date,
    ctx: AnalysisContext,
    started: datetime,
    job_id: str | None,
    exc: Exception,
) -> None:
    try:
        with factory() as session, session.begin():
            session.add(
                AnalysisRun(
                    org_id=org_id,
                    kind="ANALYZE",
                    job_id=job_id,
                    as_of=as_of,
                    period_start=ctx.period_start,
                    period_end=as_of,
                    started_at=started,
                    finished_at=utc_now(),
                    status=RunStatus.FAILED,
                    error=f"{type(exc).__name__}: {exc}"[:10000],
                )
            )
    except Exception:  # the database itself may be what failed
        log.exception("could not record the failed analysis run")


def _collect_missing(settings: Settings, ctx: AnalysisContext) -> None:
    """Metrics the drift detectors read: every KPI's baseline and recent weeks (cohort KPIs
    shifted back by their maturation window), with their days and months."""

    start = min(first_week_needed(ctx), ctx.period_start)
    # Observed at the end of as_of, so the metrics censor exactly what the detectors censor.
    collect(
        settings,
        ctx.org_id,
        start,
        ctx.as_of,
        as_of=ctx.end_utc,
        windows=windows_from(ctx.policies),
    )
