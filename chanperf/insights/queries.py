"""Reads behind the insights endpoints, always scoped to one org (proposals: chanperf.proposals.store).

A row of another org is reported exactly like a missing row (NotFoundError), so
ids cannot be probed across orgs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from chanperf.core.enums import InsightCategory, InsightStatus, InsightType, Severity
from chanperf.core.errors import NotFoundError, Problem, ValidationError
from chanperf.models.performance import PerformanceInsight, PolicyProposal

SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}

# Severity is stored as text; sorting must follow its ladder, not the alphabet.
_severity_rank = case(
    {s.value: rank for s, rank in SEVERITY_RANK.items()}, value=PerformanceInsight.severity
)
SORT_COLUMNS: dict[str, Any] = {
    "severity": _severity_rank,
    "created_at": PerformanceInsight.created_at,
    "last_seen_at": PerformanceInsight.last_seen_at,
    "occurrences": PerformanceInsight.occurrences,
    "effect_size": PerformanceInsight.effect_size,
    "id": PerformanceInsight.id,
}
DEFAULT_SORT = "-severity,-id"


@dataclass(frozen=True)
class InsightFilter:
    types: Sequence[InsightType] = ()
    severities: Sequence[Severity] = ()
    statuses: Sequence[InsightStatus] = ()
    categories: Sequence[InsightCategory] = ()
    region: str | None = None
    segment: str | None = None
    period: tuple[date, date] | None = None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    extra: dict[str, Any] = field(default_factory=dict)


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(text: str) -> tuple[date, date]:
    """`2026-11-20` (a day), `2026-W47` (ISO week), `2026-11` (a month) or `FROM..TO`."""

    def bad(why: str) -> ValidationError:
        return ValidationError([Problem("period", why, field="period")])

    text = text.strip()
    try:
        if ".." in text:
            first, _, last = text.partition("..")
            start, end = date.fromisoformat(first), date.fromisoformat(last)
            if start > end:
                raise bad(f"{first} is after {last}")
            return start, end
        if m := _WEEK.match(text):
            start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return start, start + timedelta(days=6)
        if m := _MONTH.match(text):
            start = date(int(m[1]), int(m[2]), 1)
            following = (start + timedelta(days=32)).replace(day=1)
            return start, following - timedelta(days=1)
        day = date.fromisoformat(text)
        return day, day
    except ValueError:
        raise bad(
            f"not a period: {text!r} (YYYY-MM-DD, YYYY-Www, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD)"
        ) from None


def parse_sort(text: str | None) -> list[tuple[str, bool]]:
    """`-severity,created_at` → [("severity", descending), ("created_at", ascending)]."""
    keys: list[tuple[str, bool]] = []
    for part in (text or DEFAULT_SORT).split(","):
        part = part.strip()
        name = part.lstrip("+-")
        if name not in SORT_COLUMNS:
            known = ", ".join(sorted(SORT_COLUMNS))
            raise ValidationError(
                [Problem("sort", f"cannot sort by {name!r} (one of {known})", field="sort")]
            )
        keys.append((name, part.startswith("-")))
    if not any(name == "id" for name, _ in keys):
        keys.append(("id", True))  # a total order, so pages never overlap
    return keys


def _conditions(org_id: int, flt: InsightFilter) -> list[ColumnElement[bool]]:
    t = PerformanceInsight
    where: list[ColumnElement[bool]] = [t.org_id == org_id]
    if flt.types:
        where.append(t.insight_type.in_(list(flt.types)))
    if flt.severities:
        where.append(t.severity.in_(list(flt.severities)))
    if flt.statuses:
        where.append(t.status.in_(list(flt.statuses)))
    if flt.categories:
        where.append(t.category.in_(list(flt.categories)))
    # Names compare without case on both backends (MariaDB's collation already does;
    # SQLite's = does not): region=Norte finds NORTE.
    if flt.region:
        where.append(func.lower(t.affected_region) == flt.region.lower())
    if flt.segment:
        where.append(func.lower(t.affected_segment) == flt.segment.lower())
    if flt.period:
        start, end = flt.period
        where.append(t.analysis_period_start <= end)
        where.append(func.coalesce(t.analysis_period_end, t.analysis_period_start) >= start)
    return where


def list_insights(
    session: Session,
    org_id: int,
    flt: InsightFilter,
    sort: str | None = None,
    offset: int = 0,
    limit: int = 10,
) -> Page:
    order = [
        SORT_COLUMNS[name].desc() if desc else SORT_COLUMNS[name].asc()
        for name, desc in parse_sort(sort)
    ]
    where = _conditions(org_id, flt)
    total = session.scalar(select(func.count()).select_from(PerformanceInsight).where(*where))
    rows = session.scalars(
        select(PerformanceInsight).where(*where).order_by(*order).offset(offset).limit(limit)
    ).all()
    return Page(list(rows), int(total or 0))


def get_insight(session: Session, org_id: int, insight_id: int) -> PerformanceInsight:
    row = session.get(PerformanceInsight, insight_id)
    if row is None or row.org_id != org_id:
        raise NotFoundError(f"insight {insight_id} not found")
    return row


def proposals_of_insight(session: Session, org_id: int, insight_id: int) -> list[PolicyProposal]:
    return list(
        session.scalars(
            select(PolicyProposal)
            .where(PolicyProposal.org_id == org_id, PolicyProposal.insight_id == insight_id)
            .order_by(PolicyProposal.id)
        )
    )


__all__ = [
    "DEFAULT_SORT",
    "SORT_COLUMNS",
    "InsightFilter",
    "Page",
    "get_insight",
    "list_insights",
    "parse_period",
    "parse_sort",
    "proposals_of_insight",
]
