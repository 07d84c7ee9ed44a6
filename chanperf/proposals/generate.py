"""From an insight draft with a proposal to a reviewable policy change with an experiment plan.

`generate_policy_proposal`, `calculate_expected_impact` and `generate_experiment_plan`
are pure functions of the draft, the policy set, the file text and the population
measured from the source tables (`PopulationStats`); storing and deduplicating
proposals is `chanperf.proposals.store`'s job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
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
from chanperf.experiments.planning import (
    FITS,
    NOT_TESTABLE,
    MetricChoice,
    choose,
    design_candidate,
    plan_rollout,
    verdict_of,
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
from chanperf.proposals.texts import SPENDING_LABELS, expected_impact_text, plan_text, risk_text

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


def _population_filter(proposal: ProposalSpec, plan: ParameterPlan) -> dict[str, Any]:
    out: dict[str, Any] = {"source": plan.source}
    affected = {"region": proposal.affected_region, "segment": proposal.affected_segment}
    for name in plan.filters:
        if affected.get(name) is not None:
            out[name] = affected[name]
    return out


def _metric_choices(proposal: ProposalSpec) -> list[MetricChoice]:
    """The primary metric, and its leading metric when history shows it sees enough events."""
    plan, impact, cfg = proposal.parameter_plan, proposal.expected_impact, proposal.config
    assert plan is not None and impact is not None
    change = float(impact["absolute_change"])
    primary = MetricChoice(
        name=plan.metric,
        label=plan.label,
        window_days=proposal.maturation_days,
        baseline=float(impact["baseline"]),
        expected_change=change,
        mde=max(cfg.mde_min_absolute, cfg.mde_fraction_of_expected * abs(change)),
        direction=plan.direction,
        leading=False,
    )
    choices = [primary]
    lead = proposal.population.leading if proposal.population else None
    if (
        plan.leading is not None
        and lead is not None
        and lead.capture is not None
        and lead.baseline is not None
        and lead.capture >= cfg.leading_min_capture
        and 0 < lead.baseline < 1
        and plan.leading.window_days < proposal.maturation_days
    ):
        lead_change = lead.capture * change
        choices.append(
            MetricChoice(
                name=plan.metric,
                label=plan.leading.label,
                window_days=plan.leading.window_days,
                baseline=lead.baseline,
                expected_change=lead_change,
                mde=max(cfg.mde_min_absolute, cfg.mde_fraction_of_expected * abs(lead_change)),
                direction=plan.direction,
                leading=True,
            )
        )
    return choices


def _leading_relation(proposal: ProposalSpec) -> dict[str, Any] | None:
    plan, pop, cfg = proposal.parameter_plan, proposal.population, proposal.config
    if plan is None or plan.leading is None:
        return None
    lead = pop.leading if pop else None
    return {
        "metric": plan.metric,
        "label": plan.leading.label,
        "window_days": plan.leading.window_days,
        "primary_window_days": proposal.maturation_days,
        "n": lead.n if lead else 0,
        "baseline": lead.baseline if lead else None,
        "primary_rate": lead.primary_rate if lead else None,
        "capture": lead.capture if lead else None,
        "correlation": lead.correlation if lead else None,
        "min_capture": cfg.leading_min_capture,
        "accepted": bool(
            lead and lead.capture is not None and lead.capture >= cfg.leading_min_capture
        ),
        "assumption": (
            "A mudança desloca os eventos de todos os prazos por igual: o efeito na métrica "
            "antecedente é a fração capturada vezes o efeito na principal."
        ),
    }


def _not_testable(reason: str, proposal: ProposalSpec) -> dict[str, Any]:
    cfg = proposal.config
    plan = {
        "verdict": NOT_TESTABLE,
        "verdict_reasons": [reason],
        "max_duration_weeks": cfg.max_duration_weeks,
        "expected_duration_days": None,
        "expected_duration_weeks": None,
        "design": None,
        "designs": [],
        "mde_over_time": [],
        "alternative": None,
    }
    plan["summary"] = plan_text(plan)
    return plan


def generate_experiment_plan(proposal: ProposalSpec) -> dict[str, Any] | None:
    """A two-arm design that fits `max_duration_weeks` when one exists (docs/experiments.md):
    arms, assignment, power, the detectable effect over time, duration, guardrails, stop;
    the verdict (FITS, LONGER_THAN_LIMIT, NOT_TESTABLE) and, when no test fits, a staged
    rollout sized the same way."""
    plan, impact, cfg = proposal.parameter_plan, proposal.expected_impact, proposal.config
    if plan is None:
        return _not_testable(
            "Sem plano de medição configurado para este parâmetro: não há métrica a testar.",
            proposal,
        )
    if impact is None:
        return _not_testable(
            "A evidência não traz as taxas das duas opções: não há efeito esperado a testar.",
            proposal,
        )
    pop = proposal.population
    volume = pop.weekly_volume if pop else None
    metrics = _metric_choices(proposal)
    primary = metrics[0]
    key = f"{proposal.address}:{proposal.fingerprint[:12]}"
    candidates: list[dict[str, Any]] = []
    if volume:
        shares = sorted({cfg.arms[-1][1], *cfg.treatment_shares})
        for metric in metrics:
            for share in shares:
                for sequential in (False, True) if cfg.sequential else (False,):
                    candidates.append(design_candidate(metric, share, sequential, volume, cfg))
    chosen = choose(candidates)
    verdict = verdict_of(chosen, cfg)
    (control, _c), (treatment, _t) = cfg.arms[0], cfg.arms[-1]
    t_share = chosen["treatment_share"] if chosen else cfg.arms[-1][1]
    c_share = 1 - t_share
    decision = chosen["metric"] if chosen else None
    alternative = None
    if verdict != FITS and pop is not None:
        options = [
            plan_rollout(m, pop.region_volumes, _regions(proposal, plan), cfg) for m in metrics
        ]
        reaching = [o for o in options if o.get("reaches_mde")]
        alternative = min(reaching, key=lambda o: o["duration_days"]) if reaching else options[0]
    out: dict[str, Any] = {
        "experiment_key": key,
        "unit": "account",
        "population": _population_filter(proposal, plan),
        "entry": "contas que entram na população (início do onboarding ou reativação) após a aplicação",
        "arms": [
            {
                "name": control,
                "share": c_share,
                "policy": "current",
                "value": proposal.current_value,
            },
            {
                "name": treatment,
                "share": t_share,
                "policy": "proposed",
                "value": proposal.proposed_value,
            },
        ],
        "assignment": {
            "algorithm": "sha256_first8_bigendian_over_2pow64",
            "input": f"{key}:<account_id>",
            "function": "chanperf.experiments.design.assign_arm",
        },
        "primary_metric": {
            "name": plan.metric,
            "direction": plan.direction,
            "baseline": primary.baseline,
        },
        "mde": primary.mde,
        "target_rate": _target(primary),
        "effect_size_h": abs(
            2 * math.asin(math.sqrt(_target(primary))) - 2 * math.asin(math.sqrt(primary.baseline))
        ),
        "alpha": cfg.alpha,
        "power": cfg.power,
        "sample_size_per_arm": chosen["sample_size_per_arm"] if chosen else None,
        "weekly_volume": volume,
        "enrollment_weeks": chosen["enrollment_weeks"] if chosen else None,
        "maturation_days": proposal.maturation_days,
        "decision_metric": decision,
        "expected_duration_weeks": chosen["duration_weeks"] if chosen else None,
        "expected_duration_days": chosen["duration_days"] if chosen else None,
        "verdict": verdict,
        "max_duration_weeks": cfg.max_duration_weeks,
        "design": chosen,
        "designs": [
            {
                k: c[k]
                for k in (
                    "name",
                    "kind",
                    "treatment_share",
                    "sample_size_per_arm",
                    "duration_weeks",
                    "duration_days",
                    "expected_duration_days",
                    "fits",
                )
            }
            | {
                "metric": c["metric"]["label"],
                "mde_at_limit": _mde_at(c["mde_over_time"], cfg.max_duration_weeks),
            }
            for c in candidates
        ],
        "mde_over_time": chosen["mde_over_time"] if chosen else [],
        "leading_metric": _leading_relation(proposal),
        "alternative": alternative,
        "guardrails": [{"metric": g.metric, "direction": g.direction} for g in plan.guardrails],
        "stopping_rule": _stopping_rule(cfg, chosen),
    }
    out["verdict_reasons"] = _reasons(proposal, metrics, chosen, volume)
    out["summary"] = plan_text(out)
    return out


def _reasons(
    proposal: ProposalSpec,
    metrics: list[MetricChoice],
    chosen: dict[str, Any] | None,
    volume: float | None,
) -> list[str]:
    """Why the plan is what it is, in pt-BR: the window, the leading metric, the volume."""
    cfg, primary = proposal.config, metrics[0]
    limit = cfg.max_duration_weeks
    out: list[str] = []
    if not volume:
        return ["Sem volume semanal observado na população: não há como dimensionar um teste."]
    if primary.window_days >= limit * 7:
        out.append(
            f"A janela de {primary.label} ({primary.window_days} dias) não cabe em {limit} "
            "semanas: nenhuma entrada amadurece a tempo."
        )
    relation = _leading_relation(proposal)
    if relation is not None and not relation["accepted"]:
        capture = relation["capture"]
        seen = ptbr.percent(capture) if capture is not None else "nada"
        out.append(
            f"{relation['label'].capitalize()} capta só {seen} das ocorrências de "
            f"{primary.label} no histórico (mínimo {ptbr.percent(cfg.leading_min_capture)}): "
            "não serve de métrica antecedente."
        )
    elif relation is not None:
        out.append(
            f"{relation['label'].capitalize()} capta {ptbr.percent(relation['capture'])} das "
            f"ocorrências de {primary.label} no histórico (correlação "
            f"{ptbr.br_number(relation['correlation'] or 0, 2)}): o efeito esperado nela é "
            "proporcionalmente menor."
        )
    out.append(f"Volume: {ptbr.number(round(volume, 1))} entradas por semana.")
    if chosen is not None and not chosen["fits"]:
        best = [
            (row["mde"], chosen["metric"]["label"])
            for row in chosen["mde_over_time"]
            if row["weeks"] == limit and row["mde"] is not None
        ]
        if best:
            out.append(
                f"Em {limit} semanas o desenho detecta {ptbr.points(best[0][0])} em "
                f"{best[0][1]}; o exigido é {ptbr.points(chosen['metric']['mde'])}."
            )
    return out


def _target(metric: MetricChoice) -> float:
    sign = 1.0 if metric.direction == "increase" else -1.0
    return min(max(metric.baseline + sign * metric.mde, 1e-6), 1 - 1e-6)


def _mde_at(table: list[dict[str, Any]], weeks: int) -> float | None:
    """The detectable effect at `weeks`: from the table, or None when it is not a horizon."""
    return next((row["mde"] for row in table if row["weeks"] == weeks), None)


def _regions(proposal: ProposalSpec, plan: ParameterPlan) -> list[str]:
    """The regions the change applies to (a region's own parameter), else none fixed."""
    if "region" in plan.filters and proposal.affected_region is not None:
        return [proposal.affected_region]
    return []


def _stopping_rule(cfg: ExperimentConfig, chosen: dict[str, Any] | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "interim_fraction": cfg.interim_fraction,
        "harm_alpha": cfg.harm_alpha,
        "srm_p_threshold": cfg.srm_p_threshold,
    }
    if chosen and chosen["kind"] == "group_sequential":
        rule["kind"] = "group_sequential"
        rule["spending"] = chosen["spending"]
        rule["looks"] = chosen["looks"]
        rule["description"] = (
            f"{len(chosen['looks'])} leituras em partes iguais da amostra, com limites de "
            f"Lan-DeMets ({SPENDING_LABELS.get(chosen['spending'], chosen['spending'])}): parar "
            "na primeira leitura em que |z| passar do limite (melhora ou piora); guardrail pior "
            f"com p < {cfg.harm_alpha:g} também para. Desbalanceamento dos braços (SRM, "
            f"qui-quadrado p < {cfg.srm_p_threshold:g}) invalida o resultado."
        )
    else:
        rule["kind"] = "fixed"
        rule["description"] = (
            f"Uma análise intermediária com {cfg.interim_fraction:.0%} da amostra: parar se a "
            f"métrica principal ou um guardrail piorar com p < {cfg.harm_alpha:g}. Sem parada "
            "antecipada por sucesso; leitura final na duração planejada. Desbalanceamento dos "
            f"braços (SRM, qui-quadrado p < {cfg.srm_p_threshold:g}) invalida o resultado."
        )
    return rule


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
