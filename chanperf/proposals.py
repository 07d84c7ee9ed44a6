"""Policy proposals as a service: store (deduplicated), review, approve or reject, apply.

Workflow (docs/proposals.md): DRAFT -> PENDING_REVIEW -> APPROVED | REJECTED, and
APPROVED -> IMPLEMENTED by `apply_proposal`. Analysis creates proposals directly in
PENDING_REVIEW, requested by SYSTEM_ACTOR: there is nothing left for a person to draft.
Every function takes the caller's session and flushes; the caller commits.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chanperf.analyzers.context import AnalysisConfig, AnalysisContext
from chanperf.database import make_engine
from chanperf.enums import ProposalStatus
from chanperf.errors import ConflictError, NotFoundError, PermissionDenied, Problem, ValidationError
from chanperf.experiments import ExperimentConfig, load_experiment_config, measure_population
from chanperf.insight_drafts import InsightDraft
from chanperf.insight_generator import InsightSync, fingerprint
from chanperf.insight_queries import Page
from chanperf.models import PerformanceInsight, PolicyProposal
from chanperf.models.runs import PolicyVersion
from chanperf.policies import PolicySet, load_policies, record_versions
from chanperf.policy_files import apply_to_text, atomic_write, load_text
from chanperf.proposal_generator import ProposalSpec, generate_policy_proposal

SYSTEM_ACTOR = "chanperf-analysis"
OPEN_STATUSES = (ProposalStatus.DRAFT, ProposalStatus.PENDING_REVIEW, ProposalStatus.APPROVED)
_MISSING = object()


def _now(now: datetime | None) -> datetime:
    # whole seconds: MariaDB DATETIME keeps none, and both backends must store the same value
    return (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)


def _actor(actor: str | None, name: str = "actor") -> str:
    if actor is None or not actor.strip():
        raise ValidationError([Problem(name, "who is acting is required", field=name)])
    return actor.strip()


# ---- reading -------------------------------------------------------------------------


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


# ---- workflow ------------------------------------------------------------------------


def submit_for_review(
    session: Session, org_id: int, proposal_id: int, actor: str, now: datetime | None = None
) -> PolicyProposal:
    actor = _actor(actor)
    row = get_proposal(session, org_id, proposal_id, for_update=True)
    if row.status != ProposalStatus.DRAFT:
        raise ConflictError(
            f"proposal {proposal_id} is {row.status.value}; only a DRAFT is submitted"
        )
    row.status = ProposalStatus.PENDING_REVIEW
    row.requested_by = row.requested_by or actor
    row.submitted_at = _now(now)
    session.flush()
    return row


def _decidable(row: PolicyProposal, actor: str, verb: str) -> None:
    if row.status != ProposalStatus.PENDING_REVIEW:
        raise ConflictError(
            f"proposal {row.id} is {row.status.value}; only PENDING_REVIEW can be {verb}"
        )
    if row.requested_by and row.requested_by.strip().casefold() == actor.casefold():
        raise PermissionDenied(f"{actor} requested proposal {row.id} and cannot review it")


def approve_proposal(
    session: Session, org_id: int, proposal_id: int, actor: str, now: datetime | None = None
) -> PolicyProposal:
    actor = _actor(actor)
    row = get_proposal(session, org_id, proposal_id, for_update=True)
    _decidable(row, actor, "approved")
    row.status = ProposalStatus.APPROVED
    row.approved_by = actor
    row.approved_at = _now(now)
    session.flush()
    return row


def reject_proposal(
    session: Session,
    org_id: int,
    proposal_id: int,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> PolicyProposal:
    actor = _actor(actor)
    if reason is None or not reason.strip():
        raise ValidationError([Problem("reason", "a rejection needs a reason", field="reason")])
    row = get_proposal(session, org_id, proposal_id, for_update=True)
    _decidable(row, actor, "rejected")
    row.status = ProposalStatus.REJECTED
    row.rejected_by = actor
    row.rejected_at = _now(now)
    row.rejection_reason = reason.strip()
    session.flush()
    return row


def _value_at(document: dict[str, Any], parameter: str) -> Any:
    node: Any = document.get("params", {})
    for part in parameter.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def apply_proposal(
    session: Session,
    org_id: int,
    proposal_id: int,
    policies_dir: Path | str,
    actor: str | None = None,
    now: datetime | None = None,
) -> PolicyVersion:
    """Write the approved change into `<policies_dir>/<policy>.yaml` with version + 1.

    Refused (ConflictError, nothing written) unless APPROVED, and when the file no
    longer holds the value the proposal was based on. A file that moved on to a
    new version with the target value untouched is patched on top of that version.
    The database rows are flushed before the file is renamed into place, so a
    refused flush leaves the file alone.
    """
    actor = _actor(actor or SYSTEM_ACTOR)
    row = get_proposal(session, org_id, proposal_id, for_update=True)
    if row.status != ProposalStatus.APPROVED:
        raise ConflictError(
            f"proposal {proposal_id} is {row.status.value}; only APPROVED is applied"
        )
    folder = Path(policies_dir)
    path = folder / f"{row.policy_name}.yaml"
    if not path.is_file():
        raise NotFoundError(f"policy file not found: {path}")
    old_bytes = path.read_bytes()
    old_text = old_bytes.decode("utf-8")
    current = _plain_document(old_text)
    on_file = _value_at(current, row.parameter_path or "")
    expected = None if row.current_value is None else row.current_value
    if (on_file is _MISSING and expected is not None) or (
        on_file is not _MISSING and on_file != expected
    ):
        raise ConflictError(
            f"{path}: {row.policy_name}.{row.parameter_path} is {on_file if on_file is not _MISSING else 'absent'} "
            f"(version {current.get('version')}), the proposal was based on {expected!r} "
            f"(version {row.base_policy_version}): rebase the proposal"
        )
    new_version = int(current["version"]) + 1
    new_text, _ = apply_to_text(old_text, list(row.policy_patch or []), new_version)
    new_policy = _validated(folder, path.name, new_text)
    when = _now(now)
    try:
        with session.begin_nested():
            base = load_policies(folder).policies[row.policy_name]
            record_versions(session, PolicySet({base.name: base}), org_id)
            version = PolicyVersion(
                org_id=org_id,
                policy_name=row.policy_name,
                version=new_version,
                document=new_policy.document,
                content_hash=new_policy.content_hash,
                source_path=str(path),
                applied_at=when,
                applied_by=actor,
                proposal_id=row.id,
            )
            session.add(version)
            row.status = ProposalStatus.IMPLEMENTED
            row.implemented_at = when
            row.implemented_by = actor
            session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"version {new_version} of {row.policy_name} is already recorded: {exc.orig}"
        ) from None
    if path.read_bytes() != old_bytes:  # someone wrote the file while we were working
        raise ConflictError(f"{path} changed while the proposal was being applied")
    atomic_write(path, new_text.encode("utf-8"))
    return version


def _plain_document(text: str) -> dict[str, Any]:
    from chanperf.policy_files import _plain

    doc = _plain(load_text(text))
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
        raise ConflictError("the policy file has no integer version")
    return doc


def _validated(folder: Path, name: str, text: str) -> Any:
    """The new file validated as the loader would (schema, name), from a scratch copy."""
    with tempfile.TemporaryDirectory() as scratch:
        for other in folder.glob("*.y*ml"):
            shutil.copy2(other, Path(scratch) / other.name)
        (Path(scratch) / name).write_text(text, encoding="utf-8")
        return load_policies(scratch).policies[Path(name).stem]


# ---- storing what the analysis proposes ----------------------------------------------


def store_proposal(
    session: Session,
    spec: ProposalSpec,
    insight_id: int | None,
    now: datetime | None = None,
) -> tuple[PolicyProposal, bool]:
    """Insert, or update the open proposal with the same fingerprint; (row, created).

    What a reviewer may already have approved (patch, diff, base version, plan) is
    refreshed only while the proposal is not yet APPROVED; the evidence-driven
    parts (rationale, impact, risk, insight link) always are.
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
            submitted_at=_now(now),
        )
        session.add(row)
    row.insight_id = insight_id if insight_id is not None else row.insight_id
    row.title = spec.title
    row.rationale = spec.rationale
    row.expected_impact = spec.expected_impact
    row.risk_assessment = spec.risk_assessment
    if created or row.status != ProposalStatus.APPROVED:
        row.policy_name = spec.policy_name
        row.parameter_path = spec.parameter_path
        row.base_policy_version = spec.base_policy_version
        row.current_value = spec.current_value
        row.proposed_value = spec.proposed_value
        row.current_policy = spec.current_policy
        row.proposed_policy = spec.proposed_policy
        row.policy_patch = spec.policy_patch
        row.policy_diff = spec.policy_diff
        row.experiment_plan = spec.experiment_plan
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
        from chanperf.settings import REPO_ROOT

        config = load_experiment_config(rules_dir or REPO_ROOT / "rules")
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
