"""Helpers of the state/policy/drift/churn detectors: finding fields from a test, frames from SQL.

Findings say "b against a" (b = the group the finding is about, a = the reference),
while `chanperf.core.stats.compare_proportions` says "A against B"; `two_proportions`
is the one place that maps one to the other, so the sign of `effect` is b − a
everywhere.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sqlalchemy import Connection, and_, func, select
from sqlalchemy.sql import Select

from chanperf.analysis.context import AnalysisContext
from chanperf.core.periods import local_day_of
from chanperf.core.stats import compare_proportions, compare_to_target
from chanperf.models.source import ChannelAccount, ChannelStateTransition

Fields = dict[str, Any]


def num(value: Any) -> float | None:
    """A plain float for a finding (NaN and None become None)."""
    if value is None:
        return None
    out = float(value)
    return None if math.isnan(out) or math.isinf(out) else out


def relative(effect: float | None, base: float | None) -> float | None:
    if effect is None or base is None or base == 0:
        return None
    return effect / base


def two_proportions(x_b: int, n_b: int, x_a: int, n_a: int) -> Fields:
    """Finding fields of rate b (x_b/n_b) against reference rate a: effect = b − a with its CI."""
    cmp = compare_proportions(int(x_b), int(n_b), int(x_a), int(n_a))  # stats' A is our b
    return {
        "n": int(n_a + n_b),
        "n_a": int(n_a),
        "n_b": int(n_b),
        "rate_a": cmp.rate_b,
        "rate_b": cmp.rate_a,
        "effect": cmp.diff,
        "relative_effect": relative(cmp.diff, cmp.rate_b),
        "ci_low": cmp.ci_low,
        "ci_high": cmp.ci_high,
        "p_value": cmp.p_value,
    }


def rate_vs_value(x: int, n: int, value: float, alternative: str) -> Fields:
    """Finding fields of a rate against a policy value: effect = rate − value, exact binomial p."""
    cmp = compare_to_target(int(x), int(n), float(value), alternative)
    effect = cmp.rate - cmp.target
    return {
        "n": int(n),
        "n_b": int(n),
        "rate_b": cmp.rate,
        "effect": effect,
        "relative_effect": relative(effect, cmp.target),
        "ci_low": cmp.ci_low - cmp.target,
        "ci_high": cmp.ci_high - cmp.target,
        "p_value": cmp.p_value,
        "policy_value": float(value),
    }


def median_interval(values: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95 % interval of the median from binomial order statistics."""
    xs = np.sort(np.asarray(values, dtype=float))
    n = len(xs)
    if n == 0:
        return math.nan, math.nan
    k = int(sps.binom.ppf(0.025, n, 0.5))  # ranks k+1 .. n-k (1-based) cover the median
    low = xs[max(k - 1, 0)] if k > 0 else xs[0]
    high = xs[min(n - k, n - 1)]
    return float(low), float(high)


def frame(conn: Connection, stmt: Select[Any]) -> pd.DataFrame:
    """Rows of a Core select as a DataFrame with the select's column labels."""
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def floats(series: pd.Series) -> pd.Series:
    """DECIMAL columns come back as Decimal on MariaDB and float on SQLite."""
    return pd.Series(
        [float(v) if v is not None else math.nan for v in series], index=series.index, dtype=float
    )


def times(series: pd.Series) -> pd.Series:
    """Naive UTC datetimes (strings on some SQLite paths) as datetime64."""
    return (
        pd.to_datetime(series, format="mixed") if len(series) else series.astype("datetime64[ns]")
    )


def days_between(start: pd.Series, end: datetime) -> pd.Series:
    """Days (fractional) from each timestamp of `start` to the instant `end`."""
    return (pd.Timestamp(end) - times(start)).dt.total_seconds() / 86400.0


def week_span(ctx: AnalysisContext, mondays: list[date]) -> tuple[datetime, datetime]:
    """Naive-UTC bounds [first Monday, day after the last week) of a run of ISO weeks."""
    return ctx.utc(mondays[0]), ctx.utc(mondays[-1] + timedelta(days=7))


def local_day(ctx: AnalysisContext, at: datetime) -> date:
    """The org's local calendar day of a naive-UTC instant."""
    return local_day_of(at, ctx.tz)


def base(ctx: AnalysisContext, filters: dict[str, str] | None = None) -> Fields:
    """Fields every finding of the lookback period shares."""
    return {
        "org_id": ctx.org_id,
        "period_start": ctx.period_start,
        "period_end": ctx.as_of,
        "filters": dict(filters or {}),
    }


def account_states_at(conn: Connection, org_id: int, at: datetime) -> pd.DataFrame:
    """Each account's state at instant `at`: its latest transition before `at`.

    Columns account_id, region, segment, state, entered_at. Accounts without a
    transition before `at` are left out (they did not exist yet). The max per
    account is aggregated in SQL on the (org_id, account_id) index.
    """
    t = ChannelStateTransition.__table__
    a = ChannelAccount.__table__
    last = (
        select(t.c.account_id, func.max(t.c.transitioned_at).label("last_at"))
        .where(t.c.org_id == org_id, t.c.transitioned_at < at)
        .group_by(t.c.account_id)
        .subquery()
    )
    stmt = (
        select(
            a.c.account_id,
            a.c.region,
            a.c.segment,
            t.c.to_state.label("state"),
            t.c.transitioned_at.label("entered_at"),
            t.c.id,
        )
        .select_from(
            last.join(
                t,
                and_(
                    t.c.org_id == org_id,
                    t.c.account_id == last.c.account_id,
                    t.c.transitioned_at == last.c.last_at,
                ),
            ).join(a, and_(a.c.org_id == org_id, a.c.account_id == last.c.account_id))
        )
        .order_by(a.c.account_id, t.c.id)
    )
    states = frame(conn, stmt)
    # Two transitions at the same instant: the later id is the later record.
    states = states.drop_duplicates("account_id", keep="last").drop(columns="id")
    states["entered_at"] = times(states["entered_at"])
    return states.reset_index(drop=True)
