"""Stored metrics as plain rows for the API: NaN and Decimal become None and float."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Integer, Table, select
from sqlalchemy.orm import Session

from chanperf.core.enums import Dimension, PeriodType
from chanperf.core.errors import NotFoundError, Problem, ValidationError
from chanperf.core.periods import as_date, period_last_day
from chanperf.metrics.store import MEASURES, get_metrics, get_trends
from chanperf.models.performance import PerformanceMetric

_TABLE = cast(Table, PerformanceMetric.__table__)
# Counts stay integers in JSON; rates, money and averages are numbers.
INTEGER_MEASURES = frozenset(m for m in MEASURES if isinstance(_TABLE.c[m].type, Integer))


def plain(value: Any) -> Any:
    """A JSON-friendly scalar: Decimal → float, NaN/NaT → None, numpy scalars unwrapped."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _measures(source: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in MEASURES:
        v = plain(source[m] if isinstance(source, dict) else getattr(source, m))
        out[m] = int(v) if v is not None and m in INTEGER_MEASURES else v
    return out


def latest_metrics(
    session: Session, org_id: int, period_type: PeriodType, as_of: date
) -> dict[str, Any]:
    """The last stored period starting on or before `as_of`, and the period before it."""
    rows = session.scalars(
        select(PerformanceMetric)
        .where(
            PerformanceMetric.org_id == org_id,
            PerformanceMetric.period_type == period_type,
            PerformanceMetric.period_date <= as_of,
        )
        .order_by(PerformanceMetric.period_date.desc())
        .limit(2)
    ).all()
    if not rows:
        raise NotFoundError(f"no {period_type.value} metrics stored on or before {as_of}")
    current = rows[0]
    previous = rows[1] if len(rows) > 1 else None

    def row(r: PerformanceMetric) -> dict[str, Any]:
        return {
            "period_type": period_type.value,
            "period_date": r.period_date,
            "period_end": period_last_day(r.period_date, period_type),
            **_measures(r),
        }

    return {"current": row(current), "previous": row(previous) if previous else None}


def metric_history(
    session: Session,
    org_id: int,
    period_type: PeriodType,
    start: date,
    end: date,
    dimension: Dimension | None = None,
    dimension_value: str | None = None,
) -> list[dict[str, Any]]:
    if start > end:
        raise ValidationError([Problem("from", f"{start} is after to={end}", field="from")])
    if dimension_value and dimension is None:
        raise ValidationError(
            [Problem("dimension_value", "needs a dimension", field="dimension_value")]
        )
    frame = get_metrics(session.connection(), org_id, period_type, start, end, dimension)
    out: list[dict[str, Any]] = []
    for rec in frame.to_dict("records"):
        if dimension_value is not None and rec.get("dimension_value") != dimension_value:
            continue
        day = as_date(rec["period_date"])
        item: dict[str, Any] = {
            "period_type": period_type.value,
            "period_date": day,
            "period_end": period_last_day(day, period_type),
            **_measures(rec),
        }
        if dimension is not None:
            item["dimension"] = rec["dimension"]
            item["dimension_value"] = rec["dimension_value"]
        out.append(item)
    return out


def metric_trend(
    session: Session,
    org_id: int,
    metric: str,
    days: int,
    end: date,
    period_type: PeriodType = PeriodType.DAILY,
) -> list[dict[str, Any]]:
    if metric not in MEASURES:
        raise NotFoundError(f"unknown metric {metric!r}")
    frame = get_trends(session.connection(), org_id, metric, days, end, period_type)
    return [
        {k: (as_date(v) if k == "period_date" else plain(v)) for k, v in rec.items()}
        for rec in frame.to_dict("records")
    ]


def default_window(period_type: PeriodType, end: date) -> date:
    """How far back a history goes when no `from` is given."""
    return (
        end
        - {
            PeriodType.DAILY: timedelta(days=29),
            PeriodType.WEEKLY: timedelta(weeks=11),
            PeriodType.MONTHLY: timedelta(days=365),
        }[period_type]
    )


__all__ = [
    "INTEGER_MEASURES",
    "MEASURES",
    "default_window",
    "latest_metrics",
    "metric_history",
    "metric_trend",
    "plain",
]
