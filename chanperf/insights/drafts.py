"""Turn rule matches into typed insight drafts: pt-BR texts, affected fields, proposal.

The insight generator (a later stage) stores drafts, deduplicates them by
fingerprint and estimates impact; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chanperf.analysis.findings import Finding, evidence_of, to_fact
from chanperf.core.enums import InsightCategory, InsightType, Severity, SuggestedAction
from chanperf.rules.engine import Match
from chanperf.rules.load import ProposalTemplate, Rule
from chanperf.rules.templates import eval_expr, render_text, render_value


@dataclass(frozen=True)
class ProposalDraft:
    """The policy change a rule proposes: set `parameter` (a path inside `policy`) to `value`."""

    policy: str
    parameter: str
    value: Any
    current_value: Any
    template: ProposalTemplate

    @property
    def address(self) -> str:
        return f"{self.policy}.{self.parameter}"


@dataclass(frozen=True)
class InsightDraft:
    rule_id: str
    type: InsightType
    category: InsightCategory
    severity: Severity
    title: str
    observation: str
    recommendation: str
    suggested_action: SuggestedAction
    suggested_params: Mapping[str, Any]
    affected_region: str | None
    affected_segment: str | None
    affected_policy: str | None
    affected_sku: str | None
    evidence: Mapping[str, Any]
    proposal: ProposalDraft | None
    reraise_margin: float | None
    finding: Finding = field(repr=False)

    @property
    def fingerprint_inputs(self) -> tuple[str | None, ...]:
        """What makes two runs' insights "the same": rule, affected fields and the finding's cut.

        The cut (`filters`: metric, state, kit, strategy...) tells apart two findings of one
        rule that share their affected fields, e.g. two uncovered strategies or two drifting
        KPIs of the same region.
        """
        cut = ";".join(f"{k}={v}" for k, v in sorted(self.finding.filters.items()))
        return (
            self.rule_id,
            self.affected_region,
            self.affected_segment,
            self.affected_policy,
            self.affected_sku,
            cut,
        )


def build_insight_drafts(matches: Sequence[Match]) -> list[InsightDraft]:
    return [build_insight_draft(m) for m in matches]


def build_insight_draft(match: Match) -> InsightDraft:
    rule, policy_get = match.rule, match.policy_set.get
    values = to_fact(match.finding)

    def affected(key: str) -> str | None:
        template = rule.affected.get(key)
        value = render_value(template, values, policy_get) if template is not None else None
        return None if value is None else str(value)

    return InsightDraft(
        rule_id=rule.id,
        type=rule.type,
        category=rule.category,
        severity=match.severity,
        title=render_text(rule.title, values, policy_get),
        observation=render_text(rule.observation, values, policy_get),
        recommendation=render_text(rule.recommendation, values, policy_get),
        suggested_action=rule.suggested_action,
        suggested_params={
            k: render_value(v, values, policy_get) for k, v in rule.suggested_params.items()
        },
        affected_region=affected("region"),
        affected_segment=affected("segment"),
        affected_policy=affected("policy"),
        affected_sku=affected("sku"),
        evidence=_evidence(rule, match.finding),
        proposal=_proposal(rule.proposal, values, match),
        reraise_margin=rule.reraise_margin,
        finding=match.finding,
    )


def _evidence(rule: Rule, finding: Finding) -> dict[str, Any]:
    """The finding's evidence, plus the keys the rule names (`evidence_keys`)."""
    evidence = evidence_of(finding)
    values = to_fact(finding)
    for key, name in rule.evidence_keys.items():
        if values.get(name) is not None:
            evidence[key] = values[name]
    return evidence


def _proposal(
    template: ProposalTemplate | None, values: Mapping[str, Any], match: Match
) -> ProposalDraft | None:
    if template is None:
        return None
    policy_get = match.policy_set.get
    parameter = render_value(template.parameter, values, policy_get)
    if parameter is None:
        return None  # a placeholder of the path has no value in this finding
    if template.from_field is not None:
        value = values.get(template.from_field)
    elif template.expr is not None:
        try:
            value = eval_expr(template.expr, values, policy_get)
        except (KeyError, TypeError, ZeroDivisionError):
            return None  # a field the expression needs has no value
    else:
        value = template.value
    if value is None:
        return None
    current = policy_get(f"{template.policy}.{parameter}", None)
    return ProposalDraft(template.policy, str(parameter), value, current, template)
