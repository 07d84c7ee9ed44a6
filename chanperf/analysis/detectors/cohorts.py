"""The onboarding and reactivation cohorts of an analysis run, and what their detectors share.

The cohorts are read by `chanperf.source.cohorts` over the run's lookback; the windows
come from the onboarding and reactivation policies.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, case, distinct, func, select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.comparisons import week_span
from chanperf.models.source import ChannelAccount, ChannelOrder
from chanperf.source.cohorts import fetch_onboardings, fetch_reactivations
from chanperf.source.frames import frame
from chanperf.source.indexes import by_time
from chanperf.source.states import account_states_at, states_at_instants

DAYS_PER_MONTH = 365.25 / 12
# The churn model's order features (docs/detection.md, "Churn risk"): the last order within
# RECENCY_CAP_DAYS, orders and revenue over the last WINDOW_DAYS and the WINDOW_DAYS before.
RECENCY_CAP_DAYS = 365
WINDOW_DAYS = 90


def activation_window(ctx: AnalysisContext) -> int:
    return int(ctx.policies.get("onboarding.activation_window_days"))


def reincidence_window(ctx: AnalysisContext) -> int:
    return int(ctx.policies.get("reactivation.reincidence_window_days", 90))


def lookback_bounds(ctx: AnalysisContext) -> tuple[datetime, datetime]:
    """Naive UTC [start, end) of the lookback's local days."""
    return ctx.utc(ctx.period_start), ctx.end_utc


def wins_span(ctx: AnalysisContext) -> dict[str, str]:
    """Local days over which the matured wins of the reincidence rates were resolved."""
    window = timedelta(days=reincidence_window(ctx))
    return {
        "wins_resolved_from": (ctx.period_start - window).isoformat(),
        "wins_resolved_to": (ctx.as_of - window).isoformat(),
    }


def onboarding_cohort(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """The lookback's onboarding cohort (`chanperf.source.cohorts.ONBOARDING_COLUMNS`),
    read once per run; each caller gets its own copy to add columns to."""
    start, end = lookback_bounds(ctx)
    cohort = ctx.once(
        ("onboarding_cohort",),
        lambda: fetch_onboardings(conn, ctx.org_id, start, end, activation_window(ctx)),
    )
    return cohort.copy()


def onboarding_history(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """Onboardings started over the last `history_weeks` weeks (the change-point scans'
    history), with a `week` column (Monday of the local start day); read once per run."""
    start = ctx.utc(ctx.as_of - timedelta(days=7 * ctx.config.history_weeks))
    cohort = ctx.once(
        ("onboarding_history",),
        lambda: _with_week(
            ctx, fetch_onboardings(conn, ctx.org_id, start, ctx.end_utc, activation_window(ctx))
        ),
    )
    return cohort.copy()


def _with_week(ctx: AnalysisContext, cohort: pd.DataFrame) -> pd.DataFrame:
    if cohort.empty:
        return cohort.assign(week=pd.Series(dtype=object))
    local = pd.to_datetime(cohort["started_at"]).dt.tz_localize("UTC").dt.tz_convert(ctx.tz)
    days = local.dt.tz_localize(None).dt.normalize()
    cohort["week"] = [d.date() for d in days - pd.to_timedelta(days.dt.day_of_week, unit="D")]
    return cohort


def reactivation_cohort(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """The lookback's resolved reactivations (`chanperf.source.cohorts.REACTIVATION_COLUMNS`),
    read once per run."""
    start, end = lookback_bounds(ctx)
    cohort = ctx.once(
        ("reactivation_cohort",),
        lambda: fetch_reactivations(conn, ctx.org_id, start, end, reincidence_window(ctx)),
    )
    return cohort.copy()


def accounts(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """Every account's account_id, region, segment and health_score, read once per run."""
    a = ChannelAccount.__table__
    query = select(a.c.account_id, a.c.region, a.c.segment, a.c.health_score).where(
        a.c.org_id == ctx.org_id
    )
    return ctx.once(("accounts",), lambda: frame(conn, query))


def churn_instants(ctx: AnalysisContext) -> tuple[datetime, datetime, datetime]:
    """The churn model's snapshots: training (T0), held back (T1) and now, a horizon apart."""
    horizon = timedelta(days=ctx.config.churn_horizon_days)
    return ctx.end_utc - 2 * horizon, ctx.end_utc - horizon, ctx.end_utc


def history_mondays(ctx: AnalysisContext, lag: int = 0) -> list[date]:
    """Mondays of the `history_weeks` weeks a change-point scan reads, oldest first: they end
    at the last full ISO week before as_of, moved back `lag` weeks (cohorts that mature)."""
    _baseline, recent = ctx.weeks()
    last = recent[-1] - timedelta(days=7 * lag)
    return [last - timedelta(days=7 * i) for i in range(ctx.config.history_weeks - 1, -1, -1)]


def state_instants(ctx: AnalysisContext) -> set[datetime]:
    """The instants a run asks account states at: the churn snapshots and the start of the
    first history week (the transition-rate scan's exposure)."""
    return {*churn_instants(ctx), week_span(ctx, history_mondays(ctx))[0]}


def states_at(conn: Connection, ctx: AnalysisContext, at: datetime) -> pd.DataFrame:
    """Each account's state at `at` (as `chanperf.source.states.account_states_at` gives it).

    The first call reads the states at every instant of `state_instants` (and `at`) in one
    pass over the transitions; the run's other calls take theirs from it.
    """
    states = ctx.once(("states_at", at), lambda: _states(conn, ctx, at))
    return states.copy()


def states_read(ctx: AnalysisContext) -> tuple[Hashable, Callable[[Connection], Any]]:
    """The key and the read of the states at every instant of `state_instants`."""
    wanted = tuple(sorted(state_instants(ctx)))
    return ("states_at_instants", wanted), lambda c: states_at_instants(c, ctx.org_id, wanted)


def _states(conn: Connection, ctx: AnalysisContext, at: datetime) -> pd.DataFrame:
    key, read = states_read(ctx)
    if at not in state_instants(ctx):
        return account_states_at(conn, ctx.org_id, at)
    states: dict[datetime, pd.DataFrame] = ctx.once(key, lambda: read(conn))
    return states[at]


def values_of(frame: pd.DataFrame, column: str) -> list[str]:
    """Distinct non-null codes of a column, sorted (names come from the data only)."""
    return sorted(str(v) for v in frame[column].dropna().unique())


def counts(frame: pd.DataFrame, flag: str) -> tuple[int, int]:
    """(members with `flag`, members) of a frame."""
    return int(frame[flag].sum()), len(frame)


def scalar_extra(values: Mapping[str, Any]) -> dict[str, Any]:
    """Extra evidence without missing values, numbers as plain floats/ints (JSON-ready)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or (isinstance(value, float) and value != value):
            continue
        if isinstance(value, bool | int | str):
            out[key] = value
        else:
            out[key] = float(value)
    return out


def account_orders(
    conn: Connection,
    org_id: int,
    at_times: tuple[datetime, ...],
    lookback: tuple[datetime, datetime] | None = None,
) -> pd.DataFrame:
    """Per account with an order line in the range read, in one pass over the order lines:

    - for each instant i of `at_times`, the churn model's order features: last_order_i
      (latest line in the RECENCY_CAP_DAYS before it), orders_90d_i (distinct order times
      in the WINDOW_DAYS before), revenue_90d_i and revenue_prior_90d_i (the WINDOW_DAYS
      before those);
    - with `lookback` [start, end): revenue, cost and lines of the lines in it (the strategy
      margins).
    """
    o = ChannelOrder.__table__
    t = o.c.ordered_at
    columns: list[Any] = [o.c.account_id]
    for i, at in enumerate(at_times):
        recent = at - timedelta(days=WINDOW_DAYS)
        prior = at - timedelta(days=2 * WINDOW_DAYS)
        capped = at - timedelta(days=RECENCY_CAP_DAYS)
        in_recent = and_(t >= recent, t < at)
        columns += [
            func.max(case((and_(t >= capped, t < at), t))).label(f"last_order_{i}"),
            func.count(distinct(case((in_recent, t)))).label(f"orders_90d_{i}"),
            func.sum(case((in_recent, o.c.revenue), else_=0)).label(f"revenue_90d_{i}"),
            func.sum(case((and_(t >= prior, t < recent), o.c.revenue), else_=0)).label(
                f"revenue_prior_90d_{i}"
            ),
        ]
    first = min(at_times) - timedelta(days=RECENCY_CAP_DAYS)
    last = max(at_times)
    if lookback is not None:
        inside = and_(t >= lookback[0], t < lookback[1])
        columns += [
            func.sum(case((inside, o.c.revenue), else_=0)).label("revenue"),
            func.sum(case((inside, o.c.cost), else_=0)).label("cost"),
            func.count(case((inside, 1))).label("lines"),
        ]
        first, last = min(first, lookback[0]), max(last, lookback[1])
    query = (
        select(*columns).where(o.c.org_id == org_id, t >= first, t < last).group_by(o.c.account_id)
    )
    return frame(conn, by_time(conn, query, o, t))


def account_orders_read(ctx: AnalysisContext) -> tuple[Hashable, Callable[[Connection], Any]]:
    """The key and the read of the run's `account_orders`: the churn snapshots and the
    lookback, the one pass over the order lines the churn and margin detectors share."""
    at_times = churn_instants(ctx)
    lookback = lookback_bounds(ctx)
    return ("account_orders", at_times, lookback), lambda c: account_orders(
        c, ctx.org_id, at_times, lookback
    )
