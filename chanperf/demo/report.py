"""The analysis part of the demo report: weekly KPIs, insights and proposals, in pt-BR."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from chanperf.analysis.run import analyze
from chanperf.core.database import make_engine
from chanperf.core.enums import PeriodType, Severity
from chanperf.core.settings import Settings
from chanperf.insights.workflow import OPEN_STATUSES
from chanperf.metrics.store import get_metrics
from chanperf.models.performance import PerformanceInsight, PolicyProposal

Echo = Callable[[str], None]

SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}

# (column, label, kind) of the weekly KPIs the report compares week over week.
KPIS: tuple[tuple[str, str, str], ...] = (
    ("onboarding_rate", "Taxa de ativação (coorte maturada)", "pct"),
    ("reactivation_rate", "Taxa de sucesso da reativação", "pct"),
    ("reincidence_rate", "Reincidência em reativações", "pct"),
    ("nps_score", "NPS", "num"),
    ("total_revenue", "Receita (R$)", "money"),
    ("avg_margin", "Margem média", "pct"),
    ("onboarding_started", "Onboardings iniciados", "int"),
    ("reactivation_attempts", "Reativações iniciadas", "int"),
)


def _fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    number = float(value)
    if kind == "pct":  # the metrics store percentages
        return f"{number:.1f}%".replace(".", ",")
    if kind == "money":
        return f"{number:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    if kind == "int":
        return f"{int(number):,}".replace(",", ".")
    return f"{number:.1f}".replace(".", ",")


def report_analysis(settings: Settings, org_id: int, as_of: date, echo: Echo = print) -> None:
    summary = analyze(settings, org_id, as_of, churn_report=True)
    echo("")
    echo(
        f"Análise (execução {summary.run_id}, até {as_of:%d/%m/%Y}): {summary.findings} comparações "
        f"testadas, {summary.insights_created + summary.insights_reraised} insights novos, "
        f"{summary.insights_updated} atualizados, {summary.proposals_created} propostas"
    )
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            _print_kpis(conn, org_id, as_of, echo)
            insights = list(
                conn.execute(
                    select(PerformanceInsight.__table__).where(
                        PerformanceInsight.org_id == org_id,
                        PerformanceInsight.status.in_(OPEN_STATUSES),
                    )
                ).mappings()
            )
            proposals = list(
                conn.execute(
                    select(PolicyProposal.__table__)
                    .where(PolicyProposal.org_id == org_id)
                    .order_by(PolicyProposal.id)
                ).mappings()
            )
    finally:
        engine.dispose()
    _print_churn_model(summary.churn_model or {}, echo)
    _print_insights(insights, echo)
    _print_proposals(proposals, echo)


def _print_kpis(conn: Any, org_id: int, as_of: date, echo: Echo) -> None:
    last_monday = as_of - timedelta(days=as_of.weekday() + (0 if as_of.weekday() == 6 else 7))
    weeks = get_metrics(
        conn, org_id, PeriodType.WEEKLY, last_monday - timedelta(days=7), last_monday
    )
    echo("")
    if len(weeks) < 2:
        echo("Indicadores semanais: sem semanas completas suficientes")
        return
    prev, last = weeks.iloc[-2], weeks.iloc[-1]
    echo(
        f"Indicadores da semana {last['period_date']:%d/%m} (vs semana {prev['period_date']:%d/%m}):"
    )
    for column, label, kind in KPIS:
        echo(f"  {label:<38} {_fmt(last[column], kind):>14}   antes {_fmt(prev[column], kind):>12}")


def _print_churn_model(report: dict[str, Any], echo: Echo) -> None:
    if not report:
        return
    auc = report["auc_holdout"]
    echo("")
    echo(
        "Modelo de risco de churn (recência, frequência, tendência de receita): AUC "
        f"{'n/d' if auc is None else f'{auc:.2f}'.replace('.', ',')} no período retido "
        f"({report['n_holdout']} contas, {report['positives_holdout']} pararam ou saíram em "
        f"{report['horizon_days']} dias); contas em risco: chanperf churn"
    )


def _print_insights(rows: list[Any], echo: Echo) -> None:
    echo("")
    echo(f"Insights abertos: {len(rows)}")
    rows.sort(key=lambda r: (SEVERITY_ORDER.get(Severity(r["severity"]), 9), r["id"]))
    for r in rows:
        where = ", ".join(
            v
            for v in (
                r["affected_region"],
                r["affected_segment"],
                r["affected_policy"],
                r["affected_sku"],
            )
            if v
        )
        echo("")
        echo(f"  [{r['severity']}] {r['insight_type']} · {r['category']} · {where or 'canal'}")
        echo(f"  {r['title']}")
        echo(f"    Observação: {r['observation']}")
        echo(f"    Recomendação: {r['recommendation']} ({r['suggested_action']})")
        impact = r["impact_estimate"] or {}
        if impact.get("monthly_amount") is not None:
            echo(
                f"    Impacto estimado: {impact.get('accounts_affected')} contas, "
                f"R$ {_fmt(impact['monthly_amount'], 'money')}/mês"
            )


def _print_proposals(rows: list[Any], echo: Echo) -> None:
    echo("")
    echo(f"Propostas de mudança de política: {len(rows)}")
    for r in rows:
        plan = r["experiment_plan"] or {}
        echo("")
        echo(f"  #{r['id']} [{r['status']}] {r['title']}")
        echo(
            f"    {r['affected_policy']}: {r['current_value']!r} → {r['proposed_value']!r} "
            f"(versão base {r['base_policy_version']})"
        )
        if r["expected_impact"]:
            echo(f"    Impacto esperado: {r['expected_impact']}")
        if r["risk_assessment"]:
            echo(f"    {r['risk_assessment']}")
        if plan.get("design"):
            echo(
                f"    Experimento [{plan.get('verdict')}]: {plan.get('sample_size_per_arm', '?')} "
                f"contas por braço, ~{plan.get('expected_duration_weeks', '?')} semanas "
                f"({r['experiment_duration_days']} dias; limite {plan.get('max_duration_weeks')} "
                "semanas)"
            )
        elif plan:
            echo(f"    Experimento [{plan.get('verdict')}]")
        if plan.get("summary"):
            echo(f"    Plano: {plan['summary']}")
        if r["policy_diff"]:
            for line in str(r["policy_diff"]).splitlines():
                echo(f"    {line}")
