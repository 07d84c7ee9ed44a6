"""From an insight draft with a proposal to a reviewable policy change with an experiment plan.

`generate_policy_proposal` and `calculate_expected_impact` are pure functions of the
draft, the policy set, the file text and the population measured from the source tables
(`PopulationStats`); the experiment plan is `chanperf.proposals.plan`'s, storing and
deduplicating proposals `chanperf.proposals.store`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chanperf.core import ptbr
from chanperf.core.enums import SuggestedAction
from chanperf.core.settings import PACKAGED_PACKS
from chanperf.experiments.design import (
    ExperimentConfig,
    ParameterPlan,
    PopulationStats,
    load_experiment_config,
)
from chanperf.insights.drafts import InsightDraft
from chanperf.policies.files import (
    apply_to_text,
    make_patch,
    read_policy_text,
    repo_path,
    unified_diff,
)
from chanperf.policies.load import PolicySet
from chanperf.proposals.plan import generate_experiment_plan
from chanperf.proposals.texts import expected_impact_text, risk_text

PROPOSAL_ACTIONS = frozenset(
    {
        SuggestedAction.CHANGE_POLICY,
        SuggestedAction.ADJUST_PARAMETER,
        SuggestedAction.RUN_EXPERIMENT,
    }
)


def proposal_fingerprint(org_id: int, policy: str, parameter: str, value: Any) -> str:
    """One open proposal per change: org, policy, parameter path and proposed value."""
    parts = [str(org_id), policy, parameter, json.dumps(value, sort_keys=True)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ProposalSpec:
    """Everything a PolicyProposal row holds, before it is stored."""

    org_id: int
    rule_id: str
    suggested_action: SuggestedAction
    policy_name: str
    parameter_path: str
    title: str
    description: str
    base_policy_version: int
    current_value: Any
    proposed_value: Any
    current_policy: dict[str, Any]
    proposed_policy: dict[str, Any]
    policy_patch: list[dict[str, Any]]
    policy_diff: str
    evidence: Mapping[str, Any]
    affected_region: str | None
    affected_segment: str | None
    fingerprint: str
    config: ExperimentConfig
    parameter_plan: ParameterPlan | None
    population: PopulationStats | None = None
    maturation_days: int = 0
    expected_impact: dict[str, Any] | None = None
    experiment_plan: dict[str, Any] | None = None
    risk: dict[str, Any] | None = None

    @property
    def address(self) -> str:
        return f"{self.policy_name}.{self.parameter_path}"

    @property
    def impact_metrics(self) -> dict[str, Any] | None:
        """The numbers behind the texts: the expected impact, the money, the risk."""
        if self.expected_impact is None and self.risk is None:
            return None
        return {**(self.expected_impact or {}), "risk": self.risk}

    @property
    def expected_impact_text(self) -> str | None:
        return expected_impact_text(self.impact_metrics)

    @property
    def risk_assessment(self) -> str | None:
        return risk_text(self.risk)

    @property
    def experiment_duration_days(self) -> int | None:
        days = (self.experiment_plan or {}).get("expected_duration_days")
        return None if days is None else int(days)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _like(value: Any, current: Any) -> Any:
    """A whole float (rule expressions compute 5.0) written as the integer the file holds."""
    if isinstance(current, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def generate_policy_proposal(
    draft: InsightDraft,
    policy_set: PolicySet,
    *,
    org_id: int = 1,
    config: ExperimentConfig | None = None,
    population: PopulationStats | None = None,
    rules_dir: Path | str | None = None,
) -> ProposalSpec | None:
    """The proposal of one insight draft, or None when it proposes nothing (or no change).

    The diff is computed against the policy file as it is now (`Policy.source_path`),
    changes only the lines of the values that change, and names the file relative to
    the policy repository's root (`files.repo_path`), so `git apply` works there.
    """
    proposal = draft.proposal
    if proposal is None or draft.suggested_action not in PROPOSAL_ACTIONS:
        return None
    value = _like(proposal.value, proposal.current_value)
    if value == proposal.current_value or proposal.policy not in policy_set.policies:
        return None
    if config is None:
        config = load_experiment_config(rules_dir or PACKAGED_PACKS / "rules")
    policy = policy_set.policies[proposal.policy]
    document = json.loads(json.dumps(policy.document))
    patch = make_patch(document, proposal.parameter, value)
    source = Path(policy.source_path)
    old_text = read_policy_text(source)
    new_text, proposed_doc = apply_to_text(old_text, patch, policy.version + 1)
    relpath = repo_path(source)
    plan = config.for_parameter(proposal.address)
    maturation = policy_set.get(plan.maturation, 0) if plan and plan.maturation else 0
    spec = ProposalSpec(
        org_id=org_id,
        rule_id=draft.rule_id,
        suggested_action=draft.suggested_action,
        policy_name=policy.name,
        parameter_path=proposal.parameter,
        title=(f"Alterar {proposal.address} de {_fmt(proposal.current_value)} para {_fmt(value)}")[
            :255
        ],
        description=f"{draft.title}\n\n{draft.observation}\n\n{draft.recommendation}",
        base_policy_version=policy.version,
        current_value=proposal.current_value,
        proposed_value=value,
        current_policy=document,
        proposed_policy=proposed_doc,
        policy_patch=patch,
        policy_diff=unified_diff(old_text, new_text, relpath),
        evidence=dict(draft.evidence),
        affected_region=draft.affected_region,
        affected_segment=draft.affected_segment,
        fingerprint=proposal_fingerprint(org_id, policy.name, proposal.parameter, value),
        config=config,
        parameter_plan=plan,
        population=population,
        maturation_days=int(maturation),
    )
    spec = dataclasses.replace(spec, expected_impact=calculate_expected_impact(spec))
    spec = dataclasses.replace(spec, experiment_plan=generate_experiment_plan(spec))
    return dataclasses.replace(spec, risk=assess_risk(spec))


def calculate_expected_impact(proposal: ProposalSpec) -> dict[str, Any] | None:
    """The primary metric now and under the proposal, with the numbers behind it.

    control/treatment rates are what the current and the proposed choice produced
    where each was applied (the finding's groups). Only `affected_share` of the
    population is touched by the change, so the expected population rate is
    baseline + affected_share x (treatment - control).
    """
    plan = proposal.parameter_plan
    if plan is None:
        return None
    ev = proposal.evidence
    control, treatment = _num(ev.get(plan.control_rate)), _num(ev.get(plan.treatment_rate))
    if control is None or treatment is None:
        return None
    pop = proposal.population
    baseline = pop.baseline if pop and pop.baseline is not None else control
    share = pop.affected_share if pop and pop.affected_share is not None else 1.0
    expected = min(max(baseline + share * (treatment - control), 0.0), 1.0)
    money = None
    if plan.money is not None and _num(ev.get(plan.money.field)) is not None:
        money = {
            "amount": _num(ev.get(plan.money.field)),
            "label": plan.money.label,
            "direction": plan.money.direction,
            "per": "month",
            "field": plan.money.field,
        }
    return {
        "metric": plan.metric,
        "metric_label": plan.label,
        "money": money,
        "direction": plan.direction,
        "baseline": baseline,
        "expected": expected,
        "absolute_change": expected - baseline,
        "relative_change": None if baseline == 0 else (expected - baseline) / baseline,
        "control_rate": control,
        "treatment_rate": treatment,
        "affected_share": share,
        "population_n": pop.n if pop else None,
        "weekly_volume": pop.weekly_volume if pop else None,
        "finding": {
            k: ev.get(k)
            for k in ("n_a", "n_b", "effect", "ci_low", "ci_high", "p_value", "p_value_adj")
            if ev.get(k) is not None
        },
        "assumptions": [
            "Taxas de controle e tratamento observadas onde cada opção foi aplicada (dados observacionais).",
            f"Apenas {ptbr.percent(share)} da população é afetada pela mudança; o restante mantém a taxa atual.",
        ],
    }


def assess_risk(proposal: ProposalSpec) -> dict[str, Any]:
    """Risk level from the share of the population touched, with the reviewer's notes (pt-BR)."""
    plan, cfg, impact = proposal.parameter_plan, proposal.config, proposal.expected_impact
    share = impact["affected_share"] if impact else None
    notes = list(plan.risks) if plan else ["Sem plano de medição configurado para este parâmetro."]
    notes.append("Reversível: aplicar a versão anterior da política desfaz a mudança.")
    if share is None:
        level = "MEDIUM"
    elif share >= cfg.risk_high_share:
        level = "HIGH"
    elif share >= cfg.risk_medium_share:
        level = "MEDIUM"
    else:
        level = "LOW"
    return {
        "level": level,
        "affected_share": share,
        "guardrails": [g.metric for g in plan.guardrails] if plan else [],
        "notes": notes,
    }
