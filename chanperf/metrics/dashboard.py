"""Everything the dashboard shows, in one read: KPI cards, new insights, trends, pending proposals.

Labels are pt-BR because people read them; keys and enums stay English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chanperf.core.clock import utc_now
from chanperf.core.enums import InsightStatus, PeriodType, ProposalStatus, Severity
from chanperf.core.periods import iso_week, period_first_day
from chanperf.metrics.queries import plain
from chanperf.models.performance import PerformanceInsight, PerformanceMetric
from chanperf.proposals.queries import page_proposals

PENDING_SHOWN = 5
TREND_DAYS = 30
# A change smaller than this (in percentage points) is shown as stable, not as a movement.
FLAT_EPSILON = 0.05


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    higher_is_better: bool


KPIS = (
    Kpi("onboarding_rate", "Taxa de ativação", True),
    Kpi("reactivation_rate", "Taxa de sucesso em reativação", True),
    Kpi("reincidence_rate", "Reincidência", False),
)
TREND_SERIES = (KPIS[0], Kpi("reactivation_rate", "Taxa de reativação", True))
SEVERITY_LABELS = {
    Severity.CRITICAL: "Crítica",
    Severity.HIGH: "Alta",
    Severity.MEDIUM: "Média",
    Severity.LOW: "Baixa",
}
TREND_LABELS = {"up": "Em alta", "down": "Em queda", "flat": "Estável", None: "Sem dados"}


def _week_label(monday: date) -> str:
    year, week = iso_week(monday)
    sunday = monday + timedelta(days=6)
    return f"Semana {week:02d}/{year} ({monday:%d/%m}–{sunday:%d/%m})"


def _weekly_value(session: Session, org_id: int, monday: date, key: str) -> float | None:
    value = session.scalar(
        select(getattr(PerformanceMetric, key)).where(
            PerformanceMetric.org_id == org_id,
            PerformanceMetric.period_type == PeriodType.WEEKLY,
            PerformanceMetric.period_date == monday,
        )
    )
    result: float | None = plain(value)
    return result


def kpi_cards(session: Session, org_id: int, as_of: date) -> list[dict[str, Any]]:
    """This week (the ISO week holding `as_of`, to date) against the whole week before."""
    this_week = period_first_day(as_of, PeriodType.WEEKLY)
    last_week = this_week - timedelta(days=7)
    cards = []
    for kpi in KPIS:
        value = _weekly_value(session, org_id, this_week, kpi.key)
        previous = _weekly_value(session, org_id, last_week, kpi.key)
        delta = None if value is None or previous is None else round(value - previous, 6)
        trend = (
            None
            if delta is None
            else "flat"
            if abs(delta) < FLAT_EPSILON
            else ("up" if delta > 0 else "down")
        )
        improved = None if trend in (None, "flat") else (trend == "up") == kpi.higher_is_better
        cards.append(
            {
                "key": kpi.key,
                "label": kpi.label,
                "value": value,
                "previous": previous,
                "delta": delta,
                "delta_pct": None if delta is None or not previous else round(delta / previous, 6),
                "trend": trend,
                "trend_label": TREND_LABELS[trend],
                "improved": improved,
                "week": this_week,
                "week_label": _week_label(this_week),
                "previous_week": last_week,
                "previous_week_label": _week_label(last_week),
            }
        )
    return cards


def new_insights_by_severity(session: Session, org_id: int) -> dict[str, Any]:
    counts = dict(
        session.execute(
            select(PerformanceInsight.severity, func.count())
            .where(
                PerformanceInsight.org_id == org_id,
                PerformanceInsight.status == InsightStatus.NEW,
            )
            .group_by(PerformanceInsight.severity)
        ).all()
    )
    by_severity = [
        {"severity": s.value, "label": label, "count": int(counts.get(s, 0))}
        for s, label in SEVERITY_LABELS.items()
    ]
    return {
        "label": "Novos insights",
        "total": sum(item["count"] for item in by_severity),
        "by_severity": by_severity,
    }


def trend_series(session: Session, org_id: int, as_of: date) -> dict[str, Any]:
    start = as_of - timedelta(days=TREND_DAYS - 1)
    cols = [getattr(PerformanceMetric, s.key) for s in TREND_SERIES]
    stored = {
        row[0]: row[1:]
        for row in session.execute(
            select(PerformanceMetric.period_date, *cols).where(
                PerformanceMetric.org_id == org_id,
                PerformanceMetric.period_type == PeriodType.DAILY,
                PerformanceMetric.period_date.between(start, as_of),
            )
        )
    }
    days = [start + timedelta(days=i) for i in range(TREND_DAYS)]
    return {
        "label": f"Tendência dos últimos {TREND_DAYS} dias",
        "start": start,
        "end": as_of,
        "series": [
            {
                "key": s.key,
                "label": s.label,
                # Every day is present; a day with no stored row (or no cohort) is null.
                "points": [
                    {"date": d, "value": plain(stored[d][i]) if d in stored else None} for d in days
                ],
            }
            for i, s in enumerate(TREND_SERIES)
        ],
    }


def pending_proposals(session: Session, org_id: int) -> dict[str, Any]:
    page = page_proposals(session, org_id, (ProposalStatus.PENDING_REVIEW,), limit=PENDING_SHOWN)
    return {
        "label": "Propostas pendentes de aprovação",
        "total": page.total,
        "items": [
            {
                "id": p.id,
                "title": p.title,
                "policy_name": p.policy_name,
                "insight_id": p.insight_id,
                "created_at": p.created_at,
            }
            for p in page.items
        ],
    }


def build_dashboard(session: Session, org_id: int, as_of: date) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "as_of": as_of,
        "generated_at": utc_now().replace(tzinfo=UTC),
        "title": "Desempenho do canal",
        "kpis": kpi_cards(session, org_id, as_of),
        "new_insights": new_insights_by_severity(session, org_id),
        "trends": trend_series(session, org_id, as_of),
        "pending_proposals": pending_proposals(session, org_id),
    }


__all__ = ["KPIS", "build_dashboard", "kpi_cards", "new_insights_by_severity", "trend_series"]
