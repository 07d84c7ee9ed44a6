"""The pt-BR texts of a proposal, written from its numbers (`impact_metrics`).

`expected_impact` reads like "-20% reincidência, -R$ 5k custo/mês": the relative change
of the primary metric the change expects, then the money it saves or brings a month
when the parameter's plan names where that figure comes from. `risk_assessment` says
the risk level, the share of the population touched, the guardrails and the notes.
"""

from __future__ import annotations

from collections.abc import Mapping
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
