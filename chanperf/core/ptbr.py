"""pt-BR formatting: the numbers, percentages, money and dates channel users read.

Decimal comma and thousands dot ("1.234,5"), "R$ 15.000", "45%", "33 p.p.", "1,7x",
dates as dd/mm/yyyy; LABELS names the codes findings and metrics carry.
"""

from __future__ import annotations

import math
from typing import Any


def br_number(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def number(value: Any) -> str:
    if isinstance(value, list | tuple):  # a policy list, e.g. priority regions
        return ", ".join(number(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return br_number(value, 0)
    return br_number(value, 2).rstrip("0").rstrip(",")


def percent(value: Any) -> str:
    pct = float(value) * 100
    return (
        br_number(pct, 0) if math.isclose(pct, round(pct), abs_tol=0.05) else br_number(pct, 1)
    ) + "%"


def points(value: Any) -> str:
    """A difference of two rates in percentage points: 0.33 -> "33 p.p."."""
    return percent(value).removesuffix("%") + " p.p."


def money(value: Any) -> str:
    return "R$ " + br_number(float(value), 0 if float(value).is_integer() else 2)


def times(value: Any) -> str:
    text = br_number(float(value), 1)
    return text.removesuffix(",0") + "x"


def p_value(value: Any) -> str:
    return "< 0,001" if float(value) < 0.001 else br_number(float(value), 3)


def date_br(value: Any) -> str:
    year, month, day = str(value)[:10].split("-")
    return f"{day}/{month}/{year}"


# pt-BR names of the codes findings carry (dimensions, metrics, states); unknown codes pass through.
LABELS = {
    "region": "região",
    "segment": "segmento",
    "kit": "kit",
    "strategy": "estratégia",
    "activation_rate": "taxa de ativação",
    "onboarding_rate": "taxa de ativação",
    "median_activation_days": "mediana de dias até a ativação",
    "avg_activation_days": "média de dias até a ativação",
    "win_rate": "taxa de sucesso da reativação",
    "reactivation_rate": "taxa de sucesso da reativação",
    "reincidence_rate": "reincidência",
    "failure_rate": "taxa de falha do onboarding",
    "detractor_rate": "detratores no NPS",
    "nps": "NPS",
    "nps_score": "NPS",
    "margin": "margem",
    "priority_share": "participação das regiões prioritárias",
    "time_in_state": "tempo no estado",
    "transition_rate": "taxa de transição",
    "worse": "piora",
    "better": "melhora",
}


def label(value: Any) -> str:
    """The pt-BR name of a code (unknown codes pass through)."""
    return LABELS.get(str(value), str(value))
