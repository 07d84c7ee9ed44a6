"""The pt-BR texts of a proposal, written from its numbers (`impact_metrics`).

`expected_impact` reads like "-20% reincidência, -R$ 5k custo/mês": the relative change
of the primary metric the change expects, then the money it saves or brings a month
when the parameter's plan names where that figure comes from. `risk_assessment` says
the risk level, the share of the population touched, the guardrails and the notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chanperf.core import ptbr

RISK_LEVELS = {"LOW": "baixo", "MEDIUM": "médio", "HIGH": "alto"}


def signed_percent(value: float) -> str:
    """A relative change as "+35%" or "-20%" (whole percents; one decimal under 10 %)."""
    pct = value * 100
    places = 0 if abs(pct) >= 10 or float(round(pct)) == round(pct, 1) else 1
    return ("+" if pct >= 0 else "-") + ptbr.br_number(abs(pct), places) + "%"


def short_money(amount: float) -> str:
    """Reais as a reviewer reads them at a glance: "R$ 800", "R$ 5,2k", "R$ 15k", "R$ 1,3 mi"."""
    value = abs(amount)
    if value >= 1_000_000:
        text = ptbr.br_number(value / 1_000_000, 1).removesuffix(",0") + " mi"
    elif value >= 1_000:
        text = ptbr.br_number(value / 1_000, 1).removesuffix(",0") + "k"
    else:
        text = ptbr.br_number(value, 0)
    return f"R$ {text}"


def expected_impact_text(impact: Mapping[str, Any] | None) -> str | None:
    """The expected-impact sentence of a proposal's `impact_metrics`; None without numbers."""
    if not impact:
        return None
    parts = []
    relative = impact.get("relative_change")
    if relative is not None:
        parts.append(
            f"{signed_percent(float(relative))} {impact.get('metric_label') or ''}".strip()
        )
    money = impact.get("money")
    if money and money.get("amount") is not None:
        amount = float(money["amount"])
        sign = "-" if money.get("direction") == "decrease" else "+"
        parts.append(f"{sign}{short_money(amount)} {money.get('label', '')}/mês".replace(" /", "/"))
    return ", ".join(parts) or None


def risk_text(risk: Mapping[str, Any] | None) -> str | None:
    """The risk note of a proposal's `impact_metrics["risk"]`."""
    if not risk:
        return None
    level = RISK_LEVELS.get(str(risk.get("level")), str(risk.get("level")).lower())
    share = risk.get("affected_share")
    head = f"Risco {level}"
    if share is not None:
        head += f": a mudança alcança {ptbr.percent(share)} da população"
    sentences = [head + "."]
    guardrails = risk.get("guardrails") or []
    if guardrails:
        names = ", ".join(ptbr.label(g) for g in guardrails)
        sentences.append(f"Guardrails: {names}.")
    sentences.extend(str(note) for note in risk.get("notes") or [])
    return " ".join(sentences)


SPENDING_LABELS = {"obrien_fleming": "tipo O'Brien-Fleming", "pocock": "tipo Pocock"}
VERDICT_LABELS = {
    "FITS": "cabe no limite",
    "LONGER_THAN_LIMIT": "mais longo que o limite",
    "NOT_TESTABLE": "não testável",
}


def _weeks(days: float) -> str:
    return f"{ptbr.br_number(days / 7, 0)} semanas"


def mde_table_text(table: Sequence[Mapping[str, Any]]) -> str:
    """ "4 sem: —; 8 sem: 20 p.p.; ..." — what each horizon detects (— : nothing matured yet)."""
    return "; ".join(
        f"{row['weeks']} sem: {ptbr.points(row['mde']) if row.get('mde') is not None else '—'}"
        for row in table
    )


def _design_text(design: Mapping[str, Any]) -> str:
    metric = design["metric"]
    share = ptbr.percent(design["treatment_share"])
    kind = (
        f"teste sequencial ({len(design['looks'])} leituras, "
        f"{SPENDING_LABELS.get(design['spending'], design['spending'])})"
        if design["kind"] == "group_sequential"
        else "teste A/B de amostra fixa"
    )
    return (
        f"{kind} em {metric['label']}, {share} no tratamento, "
        f"{design['sample_size_per_arm']} contas no controle"
    )


def _rollout_text(alt: Mapping[str, Any]) -> str:
    if not alt.get("possible"):
        return f"Implantação escalonada indisponível: {alt.get('reason')}"
    regions = ", ".join(alt["treated_regions"])
    others = ", ".join(alt["untouched_regions"])
    head = (
        f"Alternativa: implantar só em {regions} e medir {alt['metric']['label']} por "
        f"diferença-em-diferenças pré-registrada contra {others} (referência: as "
        f"{alt['pre_weeks']} semanas anteriores)"
    )
    if alt.get("reaches_mde"):
        return f"{head}; detecta {ptbr.points(alt['mde'])} em {alt['duration_weeks']} semanas."
    return f"{head}; {mde_table_text(alt['mde_over_time'])}. {alt.get('reason')}"


def _one_stop(text: str) -> str:
    """Sentences ending in "p.p." get no second full stop."""
    return text.replace("p.p..", "p.p.")


def plan_text(plan: Mapping[str, Any] | None) -> str | None:
    """The plan in one paragraph: the verdict, the design, why, and what it detects over time."""
    if not plan:
        return None
    return _one_stop(_plan_text(plan))


def _plan_text(plan: Mapping[str, Any]) -> str:
    verdict = plan.get("verdict")
    limit = plan.get("max_duration_weeks")
    design = plan.get("design")
    reasons = " ".join(plan.get("verdict_reasons") or [])
    if design is None:
        return f"Não testável: {reasons or 'sem dados para dimensionar.'}"
    metric = design["metric"]
    parts: list[str] = []
    if verdict == "FITS":
        parts.append(
            f"Cabe no limite de {limit} semanas: {_design_text(design)}; no máximo "
            f"{design['duration_weeks']} semanas."
        )
        if design["kind"] == "group_sequential":
            parts.append(
                "Com o efeito esperado, termina em cerca de "
                f"{_weeks(design['expected_duration_days'])}."
            )
    else:
        head = "Não testável" if verdict == "NOT_TESTABLE" else f"Não cabe em {limit} semanas"
        parts.append(
            f"{head}: o desenho mais curto ({_design_text(design)}) levaria "
            f"{design['duration_weeks']} semanas para detectar {ptbr.points(metric['mde'])}."
        )
        if reasons:
            parts.append(reasons)
    parts.append(
        f"Efeito detectável em {metric['label']} por duração: "
        f"{mde_table_text(design['mde_over_time'])}."
    )
    if plan.get("alternative") and verdict != "FITS":
        parts.append(_rollout_text(plan["alternative"]))
    return " ".join(parts)


def _pp(value: Any) -> str:
    return "—" if value is None else ptbr.points(value)


def plan_lines(plan: Mapping[str, Any], duration_days: int | None) -> list[str]:
    """The plan as a reviewer reads it in a terminal (pt-BR), one fact a line."""
    if not plan:
        return ["Sem plano de experimento."]
    verdict = str(plan.get("verdict"))
    lines = [
        f"Veredito: {verdict} ({VERDICT_LABELS.get(verdict, verdict)}); limite "
        f"{plan.get('max_duration_weeks')} semanas; duração {duration_days} dias",
    ]
    lines.extend(f"  - {_one_stop(reason)}" for reason in plan.get("verdict_reasons") or [])
    design = plan.get("design")
    if design:
        lines.append(f"Desenho: {design['name']} — {_design_text(design)}")
        lines.append(
            f"  entradas por {design['enrollment_weeks']} semanas, leitura final no dia "
            f"{design['duration_days']}; esperado com o efeito previsto: dia "
            f"{round(design['expected_duration_days'])}"
        )
        lines.append(f"Efeito detectável ({design['metric']['label']}):")
        for row in design["mde_over_time"]:
            mark = " ✓" if row["detects_required"] else ""
            lines.append(f"  {row['weeks']:>3} semanas: {_pp(row['mde'])}{mark}")
        lines.append(f"  exigido: {_pp(design['metric']['mde'])}")
        for look in design.get("looks") or []:
            lines.append(
                f"  leitura {look['look']}: dia {look['day']}, "
                f"{ptbr.percent(look['information_fraction'])} da amostra, |z| ≥ "
                f"{ptbr.br_number(look['boundary_z'], 3)}"
            )
    others = plan.get("designs") or []
    if others:
        lines.append("Desenhos avaliados:")
        for d in others:
            fits = "cabe" if d["fits"] else "não cabe"
            lines.append(
                f"  {d['name']:<24} {d['metric']:<24} {d['duration_weeks']:>4} semanas  "
                f"{fits}; em {plan.get('max_duration_weeks')} semanas detecta "
                f"{_pp(d['mde_at_limit'])}"
            )
    alt = plan.get("alternative")
    if alt:
        lines.append(_one_stop(_rollout_text(alt)))
    return lines
