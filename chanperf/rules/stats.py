"""How each rule does in production: how often it fires, how often people said it was right.

Per rule of the loaded pack: matches all time and in the window (the `days` days ending
at `as_of`, by the as-of of the run that fired), the last run it fired in, the insights
labelled and by which label, and precision = TRUE_POSITIVE / labelled with its Wilson
interval. EXPECTED and NOT_ACTIONABLE count against precision: an insight is there to be
acted on, and the label counts say which way a rule misses. Two lists point a rule author
at rules to fix: rules that did not fire in the window, and rules that read a finding field
no detector has set in any finding of that kind this organisation's runs have seen
(`channel_finding_fields_seen`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from statsmodels.stats.proportion import proportion_confint

from chanperf.core.enums import FeedbackLabel, RunStatus
from chanperf.models.firings import FindingFieldsSeen, RuleFiring
from chanperf.models.performance import PerformanceInsight
from chanperf.models.runs import AnalysisRun
from chanperf.rules.load import AllOf, AnyOf, Compare, Condition, Exists, Ref, Rule
from chanperf.rules.templates import DERIVED, expr_names, placeholders

# Fields a derived placeholder reads (templates.DERIVED).
DERIVED_READS = {"scope": ("region", "segment")}


@dataclass(frozen=True)
class RuleStats:
    rule_id: str
    finding_kind: str
    fired: int  # findings matched, all time
    fired_recent: int  # ... by runs whose as-of lies in the window
    last_fired: date | None  # as-of of the last run it fired in
    last_fired_at: datetime | None  # when that run ran (UTC)
    labelled: int
    labels: dict[str, int]  # every label, 0 when unused
    precision: float | None  # TRUE_POSITIVE / labelled; None when nothing is labelled
    precision_low: float | None  # Wilson interval at `confidence`
    precision_high: float | None
    finding_kind_seen: bool  # some run produced a finding of this kind
    unproduced_fields: tuple[str, ...]  # fields it reads that no such finding ever had


@dataclass(frozen=True)
class RulesReport:
    org_id: int
    as_of: date
    days: int
    window_start: date
    runs_in_window: int  # successful analysis runs whose as-of lies in the window
    confidence: float
    rules: tuple[RuleStats, ...]
    never_fired: tuple[str, ...]  # rules of the pack without a firing in the window
    reads_unproduced: tuple[str, ...]  # rules reading a field no finding of the kind had
    not_in_pack: tuple[str, ...]  # rule ids fired or labelled that the pack no longer has


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def _condition_fields(cond: Condition) -> Iterator[str]:
    if isinstance(cond, AllOf | AnyOf):
        for item in cond.items:
            yield from _condition_fields(item)
    elif isinstance(cond, Exists):
        yield cond.field
    elif isinstance(cond, Compare):
        yield cond.field
        if isinstance(cond.value, Ref) and cond.value.source == "field":
            yield cond.value.name


def _template_fields(template: object) -> Iterator[str]:
    if not isinstance(template, str):
        return
    for name, _spec in placeholders(template):
        if name in DERIVED:
            yield from DERIVED_READS.get(name, ())
        elif not name.startswith("policy."):
            yield name


def fields_read(rule: Rule) -> frozenset[str]:
    """Every finding field the rule reads: conditions, severity ladder, texts, affected
    fields, suggested params, evidence keys and the proposal."""
    names: set[str] = set(_condition_fields(rule.when))
    for step in rule.severity_ladder:
        names.update(_condition_fields(step.when))
    templates: list[object] = [rule.title, rule.observation, rule.recommendation]
    templates += [*rule.affected.values(), *rule.suggested_params.values()]
    if rule.proposal is not None:
        templates.append(rule.proposal.parameter)
        if rule.proposal.from_field:
            names.add(rule.proposal.from_field)
        if rule.proposal.expr:
            names.update(n for n in expr_names(rule.proposal.expr) if not n.startswith("policy."))
    for template in templates:
        names.update(_template_fields(template))
    names.update(rule.evidence_keys.values())
    return frozenset(names)


def _fields_produced(session: Session, org_id: int) -> dict[str, set[str]]:
    """Per finding kind seen in this org's runs: the fields some finding of it had set."""
    produced: dict[str, set[str]] = {}
    rows = session.execute(
        select(FindingFieldsSeen.finding_kind, FindingFieldsSeen.fields_set).where(
            FindingFieldsSeen.org_id == org_id
        )
    )
    for kind, counts in rows:
        seen = produced.setdefault(str(kind), set())
        seen.update(name for name, n in cast(dict[str, int], counts or {}).items() if n)
    return produced


def rule_stats(
    session: Session,
    org_id: int,
    rules: Sequence[Rule],
    as_of: date,
    days: int = 90,
    confidence: float = 0.95,
) -> RulesReport:
    """The report for the rules of a pack, from this org's recorded firings and labels."""
    start = as_of - timedelta(days=days - 1)
    f = RuleFiring
    all_time = {
        r.rule_id: (int(r.fired), r.last_as_of, r.last_at)
        for r in session.execute(
            select(
                f.rule_id,
                func.sum(f.matches).label("fired"),
                func.max(f.as_of).label("last_as_of"),
                func.max(f.fired_at).label("last_at"),
            )
            .where(f.org_id == org_id)
            .group_by(f.rule_id)
        )
    }
    recent = dict(
        session.execute(
            select(f.rule_id, func.sum(f.matches))
            .where(f.org_id == org_id, f.as_of >= start, f.as_of <= as_of)
            .group_by(f.rule_id)
        ).all()
    )
    i = PerformanceInsight
    labels: dict[str, dict[str, int]] = {}
    for rule_id, label, count in session.execute(
        select(i.rule_id, i.label, func.count())
        .where(i.org_id == org_id, i.label.is_not(None), i.rule_id.is_not(None))
        .group_by(i.rule_id, i.label)
    ):
        labels.setdefault(str(rule_id), {})[FeedbackLabel(str(label)).value] = int(count)
    runs = session.scalar(
        select(func.count())
        .select_from(AnalysisRun)
        .where(
            AnalysisRun.org_id == org_id,
            AnalysisRun.status == RunStatus.SUCCEEDED,
            AnalysisRun.as_of >= start,
            AnalysisRun.as_of <= as_of,
        )
    )
    produced = _fields_produced(session, org_id)
    stats = tuple(
        _one(rule, all_time, recent, labels, produced, confidence)
        for rule in sorted(rules, key=lambda r: r.id)
    )
    pack = {r.id for r in rules}
    return RulesReport(
        org_id=org_id,
        as_of=as_of,
        days=days,
        window_start=start,
        runs_in_window=int(runs or 0),
        confidence=confidence,
        rules=stats,
        never_fired=tuple(s.rule_id for s in stats if not s.fired_recent),
        reads_unproduced=tuple(s.rule_id for s in stats if s.unproduced_fields),
        not_in_pack=tuple(sorted((set(all_time) | set(labels)) - pack)),
    )


def _one(
    rule: Rule,
    all_time: dict[str, tuple[int, date, datetime]],
    recent: dict[str, int],
    labels: dict[str, dict[str, int]],
    produced: dict[str, set[str]],
    confidence: float,
) -> RuleStats:
    fired, last_as_of, last_at = all_time.get(rule.id, (0, None, None))
    by_label = {label.value: labels.get(rule.id, {}).get(label.value, 0) for label in FeedbackLabel}
    labelled = sum(by_label.values())
    tp = by_label[FeedbackLabel.TRUE_POSITIVE.value]
    low, high = wilson(tp, labelled, confidence) if labelled else (None, None)
    seen = produced.get(rule.finding)
    unproduced = () if seen is None else tuple(sorted(fields_read(rule) - seen - {"kind"}))
    return RuleStats(
        rule_id=rule.id,
        finding_kind=rule.finding,
        fired=fired,
        fired_recent=int(recent.get(rule.id) or 0),
        last_fired=last_as_of,
        last_fired_at=last_at,
        labelled=labelled,
        labels=by_label,
        precision=tp / labelled if labelled else None,
        precision_low=low,
        precision_high=high,
        finding_kind_seen=seen is not None,
        unproduced_fields=unproduced,
    )


def report_as_dict(report: RulesReport) -> dict[str, Any]:
    """The report as GET /rules and `rules stats --json` give it (dates stay dates)."""
    return {
        "as_of": report.as_of,
        "days": report.days,
        "window_start": report.window_start,
        "runs_in_window": report.runs_in_window,
        "confidence": report.confidence,
        "rules": [
            {
                "rule_id": s.rule_id,
                "finding_kind": s.finding_kind,
                "fired": {"all_time": s.fired, "window": s.fired_recent},
                "last_fired": s.last_fired,
                "last_fired_at": s.last_fired_at,
                "labelled": s.labelled,
                "labels": dict(s.labels),
                "precision": {
                    "value": s.precision,
                    "low": s.precision_low,
                    "high": s.precision_high,
                },
                "finding_kind_seen": s.finding_kind_seen,
                "unproduced_fields": list(s.unproduced_fields),
            }
            for s in report.rules
        ],
        "never_fired": list(report.never_fired),
        "reads_unproduced": list(report.reads_unproduced),
        "not_in_pack": list(report.not_in_pack),
    }
