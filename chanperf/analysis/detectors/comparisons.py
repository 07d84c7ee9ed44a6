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

import pandas as pd

from chanperf.analysis.context import AnalysisContext
from chanperf.core.periods import DAY_SECONDS, local_day_of
from chanperf.core.stats import compare_proportions, compare_to_target
from chanperf.source.frames import times

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


def days_between(start: pd.Series, end: datetime) -> pd.Series:
    """Days (fractional) from each timestamp of `start` to the instant `end`."""
    return (pd.Timestamp(end) - times(start)).dt.total_seconds() / DAY_SECONDS


def week_span(ctx: AnalysisContext, mondays: list[date]) -> tuple[datetime, datetime]:
    """Naive-UTC bounds [first Monday, day after the last week) of a run of ISO weeks."""
    return ctx.utc(mondays[0]), ctx.utc(mondays[-1] + timedelta(days=7))


def local_day(ctx: AnalysisContext, at: datetime) -> date:
    """The org's local calendar day of a naive-UTC instant."""
    return local_day_of(at, ctx.tz)
