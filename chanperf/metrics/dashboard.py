"""Everything the Performance page shows, in one read: KPI cards, new insights, trends,
pending proposals.

The week shown is the last complete ISO week on or before `as_of` (a week still running
has a day or two of data, and its cohorts have not matured), and the answer says which;
a cohort rate's card (onboarding) shows the last week whose cohort has matured, and its
own week says which.
Labels are pt-BR because people read them; keys and enums stay English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chanperf.core import ptbr
from chanperf.core.clock import utc_now
from chanperf.core.enums import InsightStatus, PeriodType, ProposalStatus, Severity
from chanperf.core.periods import iso_week
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
    label: str  # the card's title, as the page draws it
    column: str  # the metrics column it reads
    higher_is_better: bool = True
    growth: bool = False  # the week's change of the column, in %, rather than its value
    # A cohort rate: the card shows the latest week whose cohort has had its whole window.
    window_part: int | None = None  # which number of collected_windows is its window


KPIS = (
    Kpi("onboarding_rate", "Onboarding", "onboarding_rate", window_part=0),
    Kpi("reactivation_rate", "Reativação", "reactivation_rate"),
    Kpi("revenue_growth", "Crescimento", "total_revenue", growth=True),
)
# (column, its denominator): a day whose denominator is 0 while it had activity is a
# cohort too young to measure ("censored"), not a rate of zero.
TREND_SERIES = (
    ("onboarding_rate", "onboarding_matured"),
    ("reactivation_rate", "reactivation_resolved"),
)
ACTIVITY = {"onboarding_rate": "onboarding_started", "reactivation_rate": "reactivation_attempts"}
SEVERITY_LABELS = {
    Severity.CRITICAL: "Crítica",
    Severity.HIGH: "Alta",
    Severity.MEDIUM: "Média",
    Severity.LOW: "Baixa",
}
TREND_LABELS = {"up": "Em alta", "down": "Em queda", "flat": "Estável", None: "Sem dados"}


def shown_week(as_of: date) -> date:
    """Monday of the last complete ISO week on or before `as_of`."""
    sunday = as_of - timedelta(days=(as_of.weekday() + 1) % 7)
    return sunday - timedelta(days=6)


def week_label(monday: date) -> str:
    year, week = iso_week(monday)
    sunday = monday + timedelta(days=6)
    return f"Semana {week:02d}/{year} ({monday:%d/%m}–{sunday:%d/%m})"


def _weekly(session: Session, org_id: int, monday: date, column: str) -> float | None:
    value = session.scalar(
        select(getattr(PerformanceMetric, column)).where(
            PerformanceMetric.org_id == org_id,
            PerformanceMetric.period_type == PeriodType.WEEKLY,
            PerformanceMetric.period_date == monday,
        )
    )
    result: float | None = plain(value)
    return result


def _growth(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round((now / before - 1) * 100, 2)


def _signed(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    sign = "+" if value > 0 else ""
    return f"{sign}{ptbr.br_number(value, 1).removesuffix(',0')}{unit}"


def matured_week(session: Session, org_id: int, as_of: date, kpi: Kpi) -> date:
    """The week a card shows: the last complete one, or for a cohort rate the last whose
    every day's cohort had its whole window by `as_of` (the activation window of 30 days
    leaves the last complete week's cohort unmeasured: a card of "—"). The window is the
    one the stored rows were measured with (collected_windows, "activation/reincidence/
    attribution" days)."""
    week = shown_week(as_of)
    if kpi.window_part is None:
        return week
    windows = session.scalar(
        select(PerformanceMetric.collected_windows)
        .where(
            PerformanceMetric.org_id == org_id,
            PerformanceMetric.period_type == PeriodType.WEEKLY,
            PerformanceMetric.period_date <= week,
            PerformanceMetric.collected_windows.is_not(None),
        )
        .order_by(PerformanceMetric.period_date.desc())
        .limit(1)
    )
    if windows is None:
        return week
    days = int(str(windows).split("/")[kpi.window_part])
    return shown_week(as_of - timedelta(days=days))


def kpi_card(session: Session, org_id: int, week: date, kpi: Kpi) -> dict[str, Any]:
    """One card: the week's value against the week before."""
    last = week - timedelta(days=7)
    if kpi.growth:
        values = [
            _weekly(session, org_id, week - timedelta(days=7 * i), kpi.column) for i in range(3)
        ]
        value, previous = _growth(values[0], values[1]), _growth(values[1], values[2])
        trend = (
            None
            if value is None
            else "flat"
            if abs(value) < FLAT_EPSILON
            else "up"
            if value > 0
            else "down"
        )
        display = _signed(value, "%")
    else:
        value, previous = (
            _weekly(session, org_id, week, kpi.column),
            _weekly(session, org_id, last, kpi.column),
        )
        delta = None if value is None or previous is None else value - previous
        trend = (
            None
            if delta is None
            else "flat"
            if abs(delta) < FLAT_EPSILON
            else "up"
            if delta > 0
            else "down"
        )
        display = "—" if value is None else f"{ptbr.br_number(value, 0)}%"
    delta = None if value is None or previous is None else round(value - previous, 2)
    improved = None if trend in (None, "flat") else (trend == "up") == kpi.higher_is_better
    return {
        "key": kpi.key,
        "label": kpi.label,
        "value": value,
        "display": display,
        "unit": "%",
        "previous": previous,
        "delta": delta,
        "trend": trend,
        "trend_label": TREND_LABELS[trend],
        "improved": improved,
        "comparison_label": "vs sem." if not kpi.growth else "receita vs semana anterior",
        "week": week,
        "week_label": week_label(week),
        "previous_week": last,
        "previous_week_label": week_label(last),
    }


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


def _point(day: date, row: Any, column: str, denominator: str) -> dict[str, Any]:
    if row is None:
        return {"date": day, "value": None, "state": "missing"}
    value = plain(getattr(row, column))
    if value is not None:
        return {"date": day, "value": value, "state": "ok"}
    # No rate: a cohort that started but has not matured yet, or a day with nothing.
    active = (getattr(row, ACTIVITY[column]) or 0) > 0 and not getattr(row, denominator)
    return {"date": day, "value": None, "state": "censored" if active else "empty"}


def trend_series(session: Session, org_id: int, end: date) -> dict[str, Any]:
    """Daily onboarding and reactivation rates of the TREND_DAYS days ending at `end`."""
    start = end - timedelta(days=TREND_DAYS - 1)
    stored = {
        row.period_date: row
        for row in session.scalars(
            select(PerformanceMetric).where(
                PerformanceMetric.org_id == org_id,
                PerformanceMetric.period_type == PeriodType.DAILY,
                PerformanceMetric.period_date.between(start, end),
            )
        )
    }
    days = [start + timedelta(days=i) for i in range(TREND_DAYS)]
    return {
        "label": f"Taxa de ativação vs reativação (últimos {TREND_DAYS} dias)",
        "start": start,
        "end": end,
        "unit": "%",
        "series": [
            {
                "key": column,
                "label": ptbr.label(column).capitalize(),
                # Every day is present: no row, a day without activity and a cohort too
                # young to measure are each said (state), never drawn as zero.
                "points": [_point(d, stored.get(d), column, denominator) for d in days],
            }
            for column, denominator in TREND_SERIES
        ],
    }


def pending_proposals(session: Session, org_id: int) -> dict[str, Any]:
    page = page_proposals(session, org_id, (ProposalStatus.PENDING_REVIEW,), limit=PENDING_SHOWN)
    return {
        "label": "Propostas pendentes",
        "total": page.total,
        "items": [
            {
                "id": p.id,
                "title": p.title,
                "policy_name": p.policy_name,
                "affected_policy": p.affected_policy,
                "current_value": p.current_value,
                "proposed_value": p.proposed_value,
                "expected_impact": p.expected_impact,
                "experiment_duration_days": p.experiment_duration_days,
                "experiment_verdict": (p.experiment_plan or {}).get("verdict"),
                "insight_id": p.insight_id,
                "created_at": p.created_at,
            }
            for p in page.items
        ],
    }


def build_dashboard(session: Session, org_id: int, as_of: date) -> dict[str, Any]:
    week = shown_week(as_of)
    return {
        "org_id": org_id,
        "as_of": as_of,
        "generated_at": utc_now().replace(tzinfo=UTC),
        "title": "Performance do Canal",
        "week": week,
        "week_label": week_label(week),
        "kpis": [
            kpi_card(session, org_id, matured_week(session, org_id, as_of, kpi), kpi)
            for kpi in KPIS
        ],
        "new_insights": new_insights_by_severity(session, org_id),
        "trends": trend_series(session, org_id, as_of),
        "pending_proposals": pending_proposals(session, org_id),
    }
