"""Revenue measures of the order lines placed in each local day, by region and segment.

- orders_count, total_revenue, cost_total (cents), discount_pct_sum (hundredths of
  a point, so avg_discount_pct = discount_pct_sum / orders_count re-aggregates).
- revenue_from_new: lines placed in [created_at, created_at + 90 days) of their
  account. The account comes from the join that also gives its region and segment
  (a lookup per line, or `account_cuts` for a long span), so this costs no extra scan.
- revenue_from_reactivated: lines placed in [resolved_at, resolved_at + 90 days) of some
  WON reactivation of the account (resolved before the as-of), a line once however
  many wins cover it. Read from the wins' side (few rows), not probed per line.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, case, exists, func, select

from chanperf.core.enums import ReactivationStatus
from chanperf.core.periods import DayRun
from chanperf.metrics.common import (
    Dialect,
    MetricWindows,
    Span,
    account_cuts,
    ints,
    long_span,
    on_time_index,
    run_by_cut,
    run_by_day,
    run_id_bounds,
    unindexed,
)
from chanperf.models.source import ChannelAccount, ChannelOrder, ChannelReactivation

REVENUE_MEASURES = (
    "orders_count",
    "total_revenue",
    "cost_total",
    "discount_pct_sum",
    "revenue_from_new",
    "revenue_from_reactivated",
)
REVENUE_KEYS = ("day", "region", "segment")
_LINE_MEASURES = [m for m in REVENUE_MEASURES if m != "revenue_from_reactivated"]
_HUNDREDTHS = {
    "total_revenue": 100,
    "cost_total": 100,
    "discount_pct_sum": 100,
    "revenue_from_new": 100,
    "revenue_from_reactivated": 100,
}


def collect_line_revenue(conn: Connection, span: Span, windows: MetricWindows) -> pd.DataFrame:
    """The order lines of each run joined to their account: every measure but the reactivated.

    Columns: REVENUE_KEYS and REVENUE_MEASURES without revenue_from_reactivated. A span of
    CUT_MIN_DAYS or more (a backfill) joins the lines to `account_cuts` instead of
    looking each line's account up, grouping by (day, cut) and naming the cuts
    afterwards: it reads every account of the org once per query, which pays when
    the lines outnumber the accounts, and would make a short collect's cost grow
    with the accounts kept.
    """
    o = ChannelOrder.__table__
    sql = Dialect(conn.dialect.name)
    days = windows.revenue_attribution_days
    by_cut = long_span(conn, span)
    a = ChannelAccount.__table__
    m: Any
    if by_cut:
        # The end of the account's 90 days, once per account instead of once per line.
        new_until = sql.add_days(a.c.created_at, days).label("new_until")
        m = account_cuts(span.org_id, a.c.created_at, new_until)
        joined = o.outerjoin(m, m.c.account_id == o.c.account_id)
        cut_keys = [m.c.cut]
        until = m.c.new_until
    else:
        m = a.alias("account")
        joined = o.outerjoin(m, and_(m.c.account_id == o.c.account_id, m.c.org_id == o.c.org_id))
        cut_keys = [m.c.region, m.c.segment]
        until = sql.add_days(m.c.created_at, days)

    def build(bucket: Any, run: DayRun) -> Any:
        from_new = and_(m.c.created_at <= o.c.ordered_at, o.c.ordered_at < until)
        day = bucket(o.c.ordered_at).label("day")
        query = (
            select(
                day,
                *cut_keys,
                func.count().label("orders_count"),
                func.sum(o.c.revenue).label("total_revenue"),
                func.sum(o.c.cost).label("cost_total"),
                func.sum(o.c.discount_pct).label("discount_pct_sum"),
                func.sum(case((from_new, o.c.revenue), else_=0)).label("revenue_from_new"),
            )
            .select_from(joined)
            .where(o.c.org_id == span.org_id, o.c.ordered_at >= run.start, o.c.ordered_at < run.end)
            .group_by(day, *cut_keys)
        )
        return on_time_index(query, o, o.c.ordered_at)

    lines = run_by_cut(conn, span, build, _LINE_MEASURES, by_cut)
    return ints(lines, _LINE_MEASURES, _HUNDREDTHS)


def collect_reactivated_revenue(
    conn: Connection, span: Span, windows: MetricWindows
) -> pd.DataFrame:
    """revenue_from_reactivated per (day, region, segment), driven from the small side.

    The WON reactivations whose 90 days reach into the run, each joined to its
    account's lines of the run on the (org_id, account_id) index, a line kept once
    (DISTINCT id) however many wins cover it. For a short span the lines are also
    bounded by the run's ids (`run_id_bounds`), tested in that index, so a win's
    account's older lines are not fetched; a long span's bounds would be the whole
    history, and asking them would cost a pass over the orders' time index.
    """
    o = ChannelOrder.__table__
    a = ChannelAccount.__table__
    r = ChannelReactivation.__table__
    sql = Dialect(conn.dialect.name)
    days = windows.revenue_attribution_days
    bounded = not long_span(conn, span)

    def reactivated(bucket: Any, run: DayRun) -> Any:
        won = (
            select(o.c.id, o.c.org_id, o.c.account_id, o.c.ordered_at, o.c.revenue)
            .distinct()
            .select_from(
                r.join(
                    o,
                    and_(
                        o.c.org_id == r.c.org_id,
                        o.c.account_id == r.c.account_id,
                        r.c.resolved_at <= o.c.ordered_at,
                        o.c.ordered_at < sql.add_days(r.c.resolved_at, days),
                    ),
                )
            )
            .where(
                r.c.org_id == span.org_id,
                r.c.status == ReactivationStatus.WON.value,
                r.c.resolved_at < span.as_of,
                r.c.resolved_at > run.start - timedelta(days=days),
                r.c.resolved_at < run.end,
                o.c.ordered_at >= run.start,
                o.c.ordered_at < run.end,
            )
        )
        ids = run_id_bounds(o, o.c.ordered_at) if bounded else None
        if ids is not None:
            won = won.where(o.c.id.between(*ids))
        won = on_time_index(won, r, r.c.resolved_at, run_range=False)
        lines = won.subquery("won_lines")
        day = bucket(lines.c.ordered_at).label("day")
        return (
            select(day, a.c.region, a.c.segment, func.sum(lines.c.revenue))
            .select_from(
                lines.outerjoin(
                    a, and_(a.c.account_id == lines.c.account_id, a.c.org_id == lines.c.org_id)
                )
            )
            .group_by(day, a.c.region, a.c.segment)
        )

    def covered(bucket: Any, run: DayRun) -> Any:
        # SQLite plans the join above line by line against every win of the period (its
        # planner takes the resolved_at range before the account): a product of the two.
        # Here each line of the run asks its own account's wins on the (org_id,
        # account_id) index (resolved_at kept off the index choice): one pass over the
        # run's lines.
        resolved = unindexed(r.c.resolved_at)
        win = exists().where(
            r.c.org_id == o.c.org_id,
            r.c.account_id == o.c.account_id,
            r.c.status == ReactivationStatus.WON.value,
            resolved <= o.c.ordered_at,
            resolved < span.as_of,
            o.c.ordered_at < sql.add_days(r.c.resolved_at, days),
        )
        day = bucket(o.c.ordered_at).label("day")
        return (
            select(day, a.c.region, a.c.segment, func.sum(o.c.revenue))
            .select_from(
                o.outerjoin(a, and_(a.c.account_id == o.c.account_id, a.c.org_id == o.c.org_id))
            )
            .where(
                o.c.org_id == span.org_id,
                o.c.ordered_at >= run.start,
                o.c.ordered_at < run.end,
                win,
            )
            .group_by(day, a.c.region, a.c.segment)
        )

    build = covered if conn.dialect.name == "sqlite" else reactivated
    frame = run_by_day(conn, span, build, [*REVENUE_KEYS, "revenue_from_reactivated"])
    return ints(frame, ["revenue_from_reactivated"], _HUNDREDTHS)


def join_revenue(lines: pd.DataFrame, won: pd.DataFrame) -> pd.DataFrame:
    """The two revenue frames as one (REVENUE_KEYS and REVENUE_MEASURES).

    Every reactivated line is also a line of the run: a left merge keeps the keys of
    the lines (pandas matches NaN keys, the lines of accounts missing from
    channel_accounts). A line's region/segment comes from the same account row in
    both reads, so the frames share their keys.
    """
    keys = list(REVENUE_KEYS)
    merged = lines.merge(won, on=keys, how="left")
    return ints(merged, REVENUE_MEASURES)[[*keys, *REVENUE_MEASURES]]
