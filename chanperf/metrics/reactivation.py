"""Reactivation measures, by local day, region, segment and strategy.

Two families, each bounded by its own indexed time column:

- by `started_at`: reactivation_attempts and reactivation_cost (cost of the
  attempts started in the day, discount included, in cents);
- by `resolved_at` (before the as-of): reactivation_won, reactivation_lost,
  reactivation_resolved; reactivation_matured = WON with
  resolved_at + reincidence window <= as-of (younger wins are censored); and
  reincidences = matured wins whose account has a transition to STALLED or
  CHURNED in (resolved_at, resolved_at + window]. The reincidence test is a
  correlated EXISTS on the (org_id, account_id) index of the transitions: it
  only looks forward within the window of each win, never at the history.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, exists, func, select

from chanperf.core.enums import RELAPSE_STATES, ReactivationStatus
from chanperf.core.periods import DayRun
from chanperf.metrics.common import (
    Dialect,
    MetricWindows,
    Span,
    flag,
    ints,
    on_time_index,
    run_by_day,
    unindexed,
)
from chanperf.models.source import ChannelAccount, ChannelReactivation, ChannelStateTransition

STARTED_MEASURES = ("reactivation_attempts", "reactivation_cost")
RESOLVED_MEASURES = (
    "reactivation_won",
    "reactivation_lost",
    "reactivation_resolved",
    "reactivation_matured",
    "reincidences",
)
REACTIVATION_MEASURES = STARTED_MEASURES + RESOLVED_MEASURES
REACTIVATION_KEYS = ("day", "region", "segment", "strategy")


def collect_reactivation_metrics(
    conn: Connection, span: Span, windows: MetricWindows
) -> pd.DataFrame:
    """One row per (day, region, segment, strategy) with REACTIVATION_MEASURES (int64, cost in cents)."""
    r = ChannelReactivation.__table__
    a = ChannelAccount.__table__
    t = ChannelStateTransition.__table__
    sql = Dialect(conn.dialect.name)
    window = windows.reincidence_window_days
    joined = r.outerjoin(a, and_(a.c.account_id == r.c.account_id, a.c.org_id == r.c.org_id))

    def started(bucket: Any, run: DayRun) -> Any:
        day = bucket(r.c.started_at).label("day")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                r.c.strategy,
                func.count().label("reactivation_attempts"),
                func.sum(r.c.cost).label("reactivation_cost"),
            )
            .select_from(joined)
            .where(r.c.org_id == span.org_id, r.c.started_at >= run.start, r.c.started_at < run.end)
            .group_by(day, a.c.region, a.c.segment, r.c.strategy)
        )
        return on_time_index(query, r, r.c.started_at)

    def resolved(bucket: Any, run: DayRun) -> Any:
        won = r.c.status == ReactivationStatus.WON.value
        matured = and_(won, r.c.resolved_at <= span.as_of - timedelta(days=window))
        moved_at = unindexed(t.c.transitioned_at)  # SQLite: the account's index, not time's
        relapsed = exists().where(
            t.c.org_id == r.c.org_id,
            t.c.account_id == r.c.account_id,
            t.c.to_state.in_(RELAPSE_STATES),
            moved_at > r.c.resolved_at,
            moved_at <= sql.add_days(r.c.resolved_at, window),
        )
        day = bucket(r.c.resolved_at).label("day")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                r.c.strategy,
                flag(won).label("reactivation_won"),
                flag(r.c.status == ReactivationStatus.LOST.value).label("reactivation_lost"),
                func.count().label("reactivation_resolved"),
                flag(matured).label("reactivation_matured"),
                flag(and_(matured, relapsed)).label("reincidences"),
            )
            .select_from(joined)
            .where(
                r.c.org_id == span.org_id,
                r.c.resolved_at >= run.start,
                r.c.resolved_at < run.end,
                r.c.status.in_((ReactivationStatus.WON.value, ReactivationStatus.LOST.value)),
            )
            .group_by(day, a.c.region, a.c.segment, r.c.strategy)
        )
        return on_time_index(query, r, r.c.resolved_at)

    keys = list(REACTIVATION_KEYS)
    first = ints(
        run_by_day(conn, span, started, [*keys, *STARTED_MEASURES]),
        STARTED_MEASURES,
        {"reactivation_cost": 100},
    )
    second = ints(run_by_day(conn, span, resolved, [*keys, *RESOLVED_MEASURES]), RESOLVED_MEASURES)
    # Outer merge on keys that may be NULL: pandas matches NaN with NaN here, as wanted.
    merged = first.merge(second, on=keys, how="outer")
    return ints(merged, REACTIVATION_MEASURES)
