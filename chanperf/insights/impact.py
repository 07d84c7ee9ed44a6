"""Impact estimates: accounts affected and money at stake per month, with their assumptions.

Each finding kind turns its own numbers into an estimate; the one number it cannot
know — what an active account is worth per month — comes from `ImpactBasis`,
measured once per run from the orders (`impact_basis`). Assumptions are pt-BR
because the dashboard shows them next to the figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from chanperf.analysis.findings import Finding
from chanperf.core.ptbr import br_number
from chanperf.models.source import ChannelOrder

DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class ImpactBasis:
    revenue_per_account_month: float  # mean monthly revenue of an account that orders
    currency: str = "BRL"


@dataclass(frozen=True)
class ImpactEstimate:
    accounts_affected: int
    monthly_amount: float | None
    kind: str  # lost_revenue, extra_cost, margin_shortfall or none
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    currency: str = "BRL"

    def as_dict(self) -> dict[str, Any]:
        return {
            "accounts_affected": self.accounts_affected,
            "monthly_amount": None
            if self.monthly_amount is None
            else round(self.monthly_amount, 2),
            "currency": self.currency,
            "kind": self.kind,
            "assumptions": list(self.assumptions),
        }


def impact_basis(conn: Connection, org_id: int, end_utc: Any, days: int = 90) -> ImpactBasis:
    """Revenue per ordering account per month over the last `days` (one aggregate query)."""
    o = ChannelOrder.__table__.c
    start = end_utc - timedelta(days=days)
    row = conn.execute(
        select(
            func.coalesce(func.sum(o.revenue), 0), func.count(func.distinct(o.account_id))
        ).where(o.org_id == org_id, o.ordered_at >= start, o.ordered_at < end_utc)
    ).one()
    revenue, accounts = float(row[0] or 0), int(row[1] or 0)
    per_month = revenue / accounts / (days / DAYS_PER_MONTH) if accounts else 0.0
    return ImpactBasis(per_month)


def _months(f: Finding) -> float:
    return max((f.period_end - f.period_start).days + 1, 1) / DAYS_PER_MONTH


def _extra(f: Finding, key: str) -> float | None:
    value = f.extra.get(key)
    return float(value) if isinstance(value, int | float) else None


def _gain(
    f: Finding, basis: ImpactBasis, group_size: int | None, what: str
) -> tuple[int, float, list[str]]:
    """Accounts that an effect of `f.effect` on a monthly flow of `group_size / months` changes."""
    n = int(group_size or 0)
    effect = abs(float(f.effect or 0.0))
    per_month = n / _months(f) * effect
    money = per_month * basis.revenue_per_account_month
    notes = [
        f"{n} contas no período analisado ({br_number(_months(f), 1)} meses)",
        f"efeito de {br_number(effect * 100, 1)} p.p. sobre {what}",
        f"receita média de R$ {br_number(basis.revenue_per_account_month, 2)} por conta ativa por mês",
        "valor mensal acumula a cada mês em que a situação continua",
    ]
    return n, money, notes


def _rate_gap(f: Finding, basis: ImpactBasis, what: str, size: int | None = None) -> ImpactEstimate:
    n, money, notes = _gain(f, basis, size if size is not None else (f.n_b or f.n), what)
    return ImpactEstimate(n, money, "lost_revenue", tuple(notes), basis.currency)


def _onboarding_target(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    if getattr(f, "metric", None) != "median_activation_days":
        return _rate_gap(f, basis, "a taxa de ativação", f.n)
    # Days, not a rate: each activation arrives `gap` days late, so that share of a
    # month of its revenue is lost.
    n = int(f.n or 0)
    late_days = abs(float(getattr(f, "gap", None) or f.effect or 0.0))
    money = n / _months(f) * late_days / DAYS_PER_MONTH * basis.revenue_per_account_month
    notes = (
        f"{n} onboardings no período analisado ({br_number(_months(f), 1)} meses)",
        f"cada ativação chega {br_number(late_days, 0)} dias depois do máximo da política",
        f"receita média de R$ {br_number(basis.revenue_per_account_month, 2)} por conta ativa por mês",
    )
    return ImpactEstimate(n, money, "lost_revenue", notes, basis.currency)


def _discount(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    n, money, notes = _gain(f, basis, f.n_b, "a reincidência das reativações com desconto alto")
    cost = getattr(f, "cost_difference", None)
    if cost is not None:
        money += float(cost)
        notes.append(f"inclui R$ {br_number(float(cost), 2)}/mês de custo adicional de desconto")
    return ImpactEstimate(n, money, "lost_revenue", tuple(notes), basis.currency)


def _bottleneck(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    n = int(getattr(f, "accounts_affected", None) or f.n_b or 0)
    money = n * basis.revenue_per_account_month
    notes = (
        f"{n} contas afetadas",
        "cada conta presa deixa de gerar a receita média mensal de uma conta ativa",
    )
    return ImpactEstimate(n, money, "lost_revenue", notes, basis.currency)


def _churn(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    n = int(getattr(f, "at_risk_count", 0) or 0)
    revenue = getattr(f, "revenue_at_risk", None)
    if revenue is not None:
        return ImpactEstimate(
            n,
            float(revenue),
            "lost_revenue",
            (f"receita mensal das {n} contas em risco",),
            basis.currency,
        )
    notes = (f"{n} contas em risco", "receita média mensal por conta ativa")
    return ImpactEstimate(
        n, n * basis.revenue_per_account_month, "lost_revenue", notes, basis.currency
    )


def _exceptions(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    n = int(getattr(f, "exceptions", 0) or 0)
    cost = _extra(f, "granted_discount_value")
    if cost is None:
        return ImpactEstimate(
            n,
            None,
            "none",
            (f"{n} exceções no período", "valor concedido não informado"),
            basis.currency,
        )
    return ImpactEstimate(
        n,
        cost / _months(f),
        "extra_cost",
        (f"{n} exceções no período", "valor concedido nas exceções"),
        basis.currency,
    )


def _compliance(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    n = int(getattr(f, "over_cap_count", 0) or 0)
    excess = _extra(f, "excess_discount_cost")
    notes = [f"{n} reativações acima do teto de desconto"]
    if excess is None:
        return ImpactEstimate(
            n, None, "none", (*notes, "custo do excesso não informado"), basis.currency
        )
    notes.append("custo do desconto acima do teto")
    return ImpactEstimate(n, excess / _months(f), "extra_cost", tuple(notes), basis.currency)


# Drift KPIs that are shares of accounts: a change converts to accounts and revenue.
RATE_KPIS = frozenset({"activation_rate", "win_rate", "reincidence_rate"})


def _drift(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    metric = str(getattr(f, "metric", ""))
    if metric in RATE_KPIS:
        return _rate_gap(f, basis, "o indicador semanal", f.n_b)
    # NPS points and activation days do not convert to money without a model of their own.
    notes = (
        f"{int(f.n_b or 0)} casos nas semanas recentes",
        "variação sem conversão direta em receita",
    )
    return ImpactEstimate(int(f.n_b or 0), None, "none", notes, basis.currency)


def _misalignment(f: Finding, basis: ImpactBasis) -> ImpactEstimate:
    revenue = getattr(f, "revenue", None)
    margin, min_margin = getattr(f, "margin", None), getattr(f, "min_margin", None)
    if revenue is not None and margin is not None and min_margin is not None:
        shortfall = max(float(min_margin) - float(margin), 0.0) * float(revenue) / _months(f)
        notes = (
            f"receita de R$ {br_number(float(revenue), 2)} no período",
            f"margem {br_number(float(margin) * 100, 1)}% vs mínimo {br_number(float(min_margin) * 100, 1)}%",
        )
        return ImpactEstimate(int(f.n or 0), shortfall, "margin_shortfall", notes, basis.currency)
    return _rate_gap(f, basis, "a participação das regiões prioritárias", f.n)


ESTIMATORS: dict[str, Callable[[Finding, ImpactBasis], ImpactEstimate]] = {
    "kit_effectiveness": lambda f, b: _rate_gap(f, b, "a taxa de ativação", f.n_a),
    "region_failure": lambda f, b: _rate_gap(f, b, "a taxa de falha no onboarding"),
    "onboarding_target": _onboarding_target,
    "discount_reincidence": _discount,
    "strategy_effectiveness": lambda f, b: _rate_gap(
        f, b, "a taxa de sucesso da reativação", f.n_a
    ),
    "reincidence_above_max": lambda f, b: _rate_gap(f, b, "a reincidência", f.n),
    "state_bottleneck": _bottleneck,
    "churn_risk": _churn,
    "excessive_exceptions": _exceptions,
    "uncovered_activity": lambda f, b: _rate_gap(f, b, "o desempenho da atividade não coberta"),
    "discount_compliance_drift": _compliance,
    "misalignment": _misalignment,
    "metric_drift": _drift,
}


def estimate_impact(finding: Finding, basis: ImpactBasis) -> ImpactEstimate:
    estimator = ESTIMATORS.get(finding.kind)
    if estimator is None:
        return ImpactEstimate(int(finding.n or 0), None, "none", ("sem estimativa para este tipo",))
    return estimator(finding, basis)
