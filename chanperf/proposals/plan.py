"""The experiment plan of a policy proposal: the metric it is judged on, the designs tried
against the longest experiment the organisation accepts, the verdict and the alternative.

`generate_experiment_plan` is a pure function of the proposal (`ProposalSpec`); the
statistics are `chanperf.experiments`'s, the pt-BR text `chanperf.proposals.texts`'s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from chanperf.core import ptbr
from chanperf.experiments.design import (
    ExperimentConfig,
    ParameterPlan,
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
from chanperf.proposals.texts import SPENDING_LABELS, plan_text

if TYPE_CHECKING:
    from chanperf.proposals.generate import ProposalSpec


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
