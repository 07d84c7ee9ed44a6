"""How a leading metric relates to the primary one, measured on the channel's history.

The leading metric is the primary metric read after a shorter window: a relapse within
30 days for the 90-day reincidence, an activation within 14 days for the 30-day one.
On the entries old enough for the primary window, `capture` is the share of the primary
metric's events the leading window already saw, and `correlation` the phi coefficient
of the two 0/1 outcomes (scipy's Pearson on binary data). A change that moves the
primary rate by d moves the leading rate by about capture x d when it shifts the events
of every delay alike; the plan states that assumption next to the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats as sps
from sqlalchemy import Connection, and_, select

from chanperf.core.enums import OnboardingStatus, ReactivationStatus
from chanperf.experiments.relapses import relapse_times
from chanperf.models.source import (
    ChannelAccount,
    ChannelOnboarding,
    ChannelReactivation,
)


@dataclass(frozen=True)
class LeadingStats:
    window_days: int
    n: int  # entries old enough for the primary window
    baseline: float | None  # leading rate over them
    primary_rate: float | None
    capture: float | None  # leading events / primary events
    correlation: float | None  # phi of the two outcomes


def _population(query: Any, a: Any, filters: Mapping[str, str]) -> Any:
    for name in ("region", "segment"):
        if filters.get(name) is not None:
            query = query.where(a.c[name] == filters[name])
    return query


def _delays(
    conn: Connection,
    org_id: int,
    metric: str,
    start: datetime,
    matured_until: datetime,
    filters: Mapping[str, str],
) -> list[float | None]:
    """Per entry: days from entry to the metric's event (None: no event yet)."""
    a = ChannelAccount.__table__
    if metric == "activation_rate":
        o = ChannelOnboarding.__table__
        query = _population(
            select(o.c.started_at, o.c.status, o.c.completed_at)
            .select_from(
                o.join(a, and_(a.c.account_id == o.c.account_id, a.c.org_id == o.c.org_id))
            )
            .where(o.c.org_id == org_id, o.c.started_at >= start, o.c.started_at < matured_until),
            a,
            filters,
        )
        fetched: list[Any] = list(conn.execute(query))
        return [
            (done - started).total_seconds() / 86400
            if status == OnboardingStatus.COMPLETED.value and done is not None
            else None
            for started, status, done in fetched
        ]
    r = ChannelReactivation.__table__
    query = _population(
        select(r.c.account_id, r.c.resolved_at)
        .select_from(r.join(a, and_(a.c.account_id == r.c.account_id, a.c.org_id == r.c.org_id)))
        .where(
            r.c.org_id == org_id,
            r.c.status == ReactivationStatus.WON.value,
            r.c.resolved_at >= start,
            r.c.resolved_at < matured_until,
        ),
        a,
        filters,
    )
    found: list[Any] = list(conn.execute(query))
    won: list[tuple[int, datetime]] = [(int(acc), at) for acc, at in found]
    relapses = relapse_times(conn, org_id, sorted({acc for acc, _ in won}))
    out: list[float | None] = []
    for acc, resolved in won:
        after = [at for at in relapses.get(acc, []) if at > resolved]
        out.append(None if not after else (min(after) - resolved).total_seconds() / 86400)
    return out


def measure_leading(
    conn: Connection,
    org_id: int,
    metric: str,
    start: datetime,
    end: datetime,
    primary_window_days: int,
    leading_window_days: int,
    filters: Mapping[str, str],
) -> LeadingStats | None:
    """The leading metric's relation to the primary one over entries in [start, end - window)."""
    if metric not in ("activation_rate", "reincidence_rate"):
        return None
    matured_until = end - timedelta(days=primary_window_days)
    delays = _delays(conn, org_id, metric, start, matured_until, filters)
    if not delays:
        return LeadingStats(leading_window_days, 0, None, None, None, None)
    primary = np.array([d is not None and d <= primary_window_days for d in delays], dtype=float)
    lead = np.array([d is not None and d <= leading_window_days for d in delays], dtype=float)
    capture = float(lead.sum() / primary.sum()) if primary.sum() else None
    correlation = None
    if 0 < lead.sum() < len(lead) and 0 < primary.sum() < len(primary):
        correlation = float(sps.pearsonr(lead, primary).statistic)
    return LeadingStats(
        leading_window_days,
        len(delays),
        float(lead.mean()),
        float(primary.mean()),
        capture,
        correlation,
    )
