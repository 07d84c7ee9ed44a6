"""Revenue measures of the order lines placed in each local day, by region and segment.

- orders_count, revenue_total, cost_total (cents), discount_pct_sum (hundredths of
  a point, so avg_discount_pct = discount_pct_sum / orders_count re-aggregates).
- revenue_new_accounts: lines placed in [created_at, created_at + 90 days) of their
  account. The account comes from the join that also gives region/segment (a
  primary-key lookup per line), so this costs no extra scan.
- revenue_reactivated: lines placed in [resolved_at, resolved_at + 90 days) of some
  WON reactivation of the account (resolved before the as-of). An EXISTS on the
  (org_id, account_id) index, so a line counts once however many wins cover it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, case, exists, func, select

from chanperf.collectors.common import Dialect, MetricWindows, Span, ints, run_by_day
from chanperf.enums import ReactivationStatus
from chanperf.models.source import ChannelAccount, ChannelOrder, ChannelReactivation
from chanperf.periods import DayRun

REVENUE_MEASURES = (
    "orders_count",
    "revenue_total",
    "cost_total",
    "discount_pct_sum",
    "revenue_new_accounts",
    "revenue_reactivated",
)
REVENUE_KEYS = ("day", "region", "segment")
_HUNDREDTHS = {
    "revenue_total": 100,
    "cost_total": 100,
    "discount_pct_sum": 100,
    "revenue_new_accounts": 100,
    "revenue_reactivated": 100,
}


def collect_revenue_metrics(conn: Connection, span: Span, windows: MetricWindows) -> pd.DataFrame:
    """One row per (day, region, segment) with REVENUE_MEASURES (int64; money in cents)."""
    o = ChannelOrder.__table__
    a = ChannelAccount.__table__
    r = ChannelReactivation.__table__
    sql = Dialect(conn.dialect.name)
    days = windows.revenue_attribution_days

    def build(bucket: Any, run: DayRun) -> Any:
        from_new = and_(
            a.c.created_at <= o.c.ordered_at, o.c.ordered_at < sql.add_days(a.c.created_at, days)
        )
        from_reactivated = exists().where(
            r.c.org_id == o.c.org_id,
            r.c.account_id == o.c.account_id,
            r.c.status == ReactivationStatus.WON.value,
            r.c.resolved_at < span.as_of,
            r.c.resolved_at <= o.c.ordered_at,
            o.c.ordered_at < sql.add_days(r.c.resolved_at, days),
        )
        day = bucket(o.c.ordered_at).label("day")
        return (
            select(
                day,
                a.c.region,
                a.c.segment,
                func.count().label("orders_count"),
                func.sum(o.c.revenue).label("revenue_total"),
                func.sum(o.c.cost).label("cost_total"),
                func.sum(o.c.discount_pct).label("discount_pct_sum"),
                func.sum(case((from_new, o.c.revenue), else_=0)).label("revenue_new_accounts"),
                func.sum(case((from_reactivated, o.c.revenue), else_=0)).label(
                    "revenue_reactivated"
                ),
            )
            .select_from(
                o.outerjoin(a, and_(a.c.account_id == o.c.account_id, a.c.org_id == o.c.org_id))
            )
            .where(o.c.org_id == span.org_id, o.c.ordered_at >= run.start, o.c.ordered_at < run.end)
            .group_by(day, a.c.region, a.c.segment)
        )

    frame = run_by_day(conn, span, build, [*REVENUE_KEYS, *REVENUE_MEASURES])
    return ints(frame, REVENUE_MEASURES, _HUNDREDTHS)


def collect_margin_trends(measures: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Margin by day (and `by`): (revenue - cost) / revenue, NaN on days without revenue.

    Columns: day, [by,] revenue_total, cost_total (cents), avg_margin, sorted by day.
    """
    keys = ["day", by] if by else ["day"]
    out = measures.groupby(keys)[["revenue_total", "cost_total"]].sum().reset_index()
    revenue = out["revenue_total"].astype("float64")
    out["avg_margin"] = (revenue - out["cost_total"]) / revenue.where(revenue != 0)
    return out.sort_values(keys).reset_index(drop=True)
