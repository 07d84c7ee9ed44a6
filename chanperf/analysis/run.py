"""One analysis run: collect what is missing, run every detector, apply the rules, group
the insights of one cause (insights/grouping.py), store them.

Everything a run writes (policy versions, insights, proposals, the run record)
is written in one transaction: a failure leaves the previous state, and the
failure itself is recorded in a separate, later transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chanperf.analysis.context import AnalysisContext, analysis_context, load_packs
from chanperf.analysis.detect import run_detectors
from chanperf.analysis.detectors.churn import churn_model_report
from chanperf.analysis.detectors.drift import first_week_needed
from chanperf.analysis.findings import Finding
from chanperf.core.clock import utc_now, yesterday
from chanperf.core.database import make_engine, session_factory
from chanperf.core.enums import RunStatus
from chanperf.core.errors import public_error
from chanperf.core.settings import Settings
from chanperf.insights.drafts import InsightDraft, build_insight_drafts
from chanperf.insights.grouping import group_drafts, load_grouping_config
from chanperf.insights.impact import impact_basis
from chanperf.insights.store import InsightSync, generate_insights
from chanperf.metrics.collect import collect, windows_from
from chanperf.models.runs import AnalysisRun
from chanperf.policies.load import PolicySet
from chanperf.policies.versions import record_versions
from chanperf.proposals.store import ProposalHook, make_proposal_hook
from chanperf.rules.engine import evaluate
from chanperf.rules.firings import record_firings

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
    # The churn model the run fitted (features, AUCs), when asked with churn_report.
    churn_model: dict[str, Any] | None = None


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
    churn_report: bool = False,
) -> AnalysisSummary:
    """Analyse an organisation as of a day (default yesterday) and store what the rules find.

    Loads the policy and rule packs, collects the metrics the detectors read (unless
    `collect_first` is off), then in one transaction: opens the run record, records the
    policy versions, runs the detectors, evaluates the rules, stores the insights and,
    with `with_proposals`, the proposals, and closes the run. A failure rolls all of it
    back and is recorded as a FAILED run afterwards.

    `policies` replaces the loaded policy set (a replay under a proposed policy);
    `proposal_hook` replaces the default proposal store; `run_key` and `job_id` tie the
    run to the job that started it; `churn_report` adds the churn model the run fitted to
    the summary (the demo prints it) without fitting it again.
    """
    as_of = as_of or yesterday(settings.tz)
    loaded_policies, rules = load_packs(settings)
    policies = policies or loaded_policies
    ctx = analysis_context(settings, org_id, as_of, policies)
    grouping = load_grouping_config(settings.rules_dir)
    if collect_first:
        _collect_missing(settings, ctx)
    # The weekly job stores insights only; proposals come from the monthly run and the CLI.
    hook = (proposal_hook or _proposal_store(settings)) if with_proposals else None
    with _databases(settings) as (sessions, source_engine):
        started = utc_now()
        try:
            with ExitStack() as stack, sessions.begin() as session:
                run = _open_run(session, ctx, run_key, job_id, started)
                record_versions(session, policies, org_id)
                metrics = session.connection()
                source = stack.enter_context(source_engine.connect()) if source_engine else metrics
                findings = run_detectors(source, ctx, metrics_conn=metrics)
                drafts = group_drafts(
                    build_insight_drafts(evaluate(rules, policies, findings)), findings, grouping
                )
                basis = impact_basis(source, org_id, ctx.end_utc)
                sync = generate_insights(
                    session,
                    org_id,
                    drafts,
                    basis,
                    run_id=run.id,
                    now=started,
                    reraise_growth=ctx.config.reraise_growth,
                )
                record_firings(
                    session, run, findings, ((d.rule_id, d.finding.kind) for d in drafts)
                )
                proposals = hook(session, org_id, drafts, sync, policies) if hook else 0
                summary = _close_run(run, findings, drafts, sync, proposals)
                if churn_report:
                    summary = replace(summary, churn_model=churn_model_report(source, ctx))
        except Exception as exc:
            _record_failure(sessions, ctx, started, job_id, exc)
            raise
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


@contextmanager
def _databases(settings: Settings) -> Iterator[tuple[sessionmaker[Session], Engine | None]]:
    """Sessions on the main database, and an engine on a separate (read-only) source
    database when one is configured: the detectors read the source tables there and
    chanperf's metrics in the main one."""
    engine = make_engine(settings.database_url)
    separate = settings.source_url != settings.database_url
    source_engine = make_engine(settings.source_url) if separate else None
    try:
        yield session_factory(engine), source_engine
    finally:
        engine.dispose()
        if source_engine is not None:
            source_engine.dispose()


def _proposal_store(settings: Settings) -> ProposalHook:
    separate = settings.source_url != settings.database_url
    return make_proposal_hook(
        settings.rules_dir, settings.timezone, source_url=settings.source_url if separate else None
    )


def _open_run(
    session: Session,
    ctx: AnalysisContext,
    run_key: str | None,
    job_id: str | None,
    started: datetime,
) -> AnalysisRun:
    run = AnalysisRun(
        org_id=ctx.org_id,
        kind="ANALYZE",
        run_key=run_key,
        job_id=job_id,
        as_of=ctx.as_of,
        period_start=ctx.period_start,
        period_end=ctx.as_of,
        started_at=started,
        status=RunStatus.RUNNING,
    )
    session.add(run)
    session.flush()
    return run


def _close_run(
    run: AnalysisRun,
    findings: Sequence[Finding],
    drafts: Sequence[InsightDraft],
    sync: InsightSync,
    proposals: int,
) -> AnalysisSummary:
    run.status = RunStatus.SUCCEEDED
    run.finished_at = utc_now()
    run.findings_count = len(findings)
    run.insights_created = len(sync.created) + len(sync.reraised)
    run.insights_updated = len(sync.updated)
    run.proposals_created = proposals
    return AnalysisSummary(
        run.id,
        run.org_id,
        run.as_of,
        RunStatus.SUCCEEDED,
        len(findings),
        len(sync.created),
        len(sync.updated),
        len(sync.reraised),
        sync.suppressed,
        proposals,
        dict(Counter(d.rule_id for d in drafts)),
    )


def _record_failure(
    factory: Callable[[], Session],
    ctx: AnalysisContext,
    started: datetime,
    job_id: str | None,
    exc: Exception,
) -> None:
    try:
        with factory() as session, session.begin():
            session.add(
                AnalysisRun(
                    org_id=ctx.org_id,
                    kind="ANALYZE",
                    job_id=job_id,
                    as_of=ctx.as_of,
                    period_start=ctx.period_start,
                    period_end=ctx.as_of,
                    started_at=started,
                    finished_at=utc_now(),
                    status=RunStatus.FAILED,
                    error=public_error(exc),
                )
            )
    except Exception:  # the database itself may be what failed
        log.exception("could not record the failed analysis run")


def _collect_missing(settings: Settings, ctx: AnalysisContext) -> None:
    """Metrics the drift detectors read: every KPI's baseline and recent weeks (cohort KPIs
    shifted back by their maturation window), with their days and months; periods stored
    final (or at this very as-of) are not read again."""

    start = min(first_week_needed(ctx), ctx.period_start)
    # Observed at the end of as_of, so the metrics censor exactly what the detectors censor.
    done = collect(
        settings,
        ctx.org_id,
        start,
        ctx.as_of,
        as_of=ctx.end_utc,
        windows=windows_from(ctx.policies),
        only_missing=True,
    )
    log.info("collected %d days, %d stored final", len(done.days), done.reused_days)
