"""The onboarding and reactivation cohorts of an analysis run, and what their detectors share.

The cohorts are read by `chanperf.source.cohorts` over the run's lookback; the windows
come from the onboarding and reactivation policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from chanperf.analysis.context import AnalysisContext
from chanperf.source.cohorts import fetch_onboardings, fetch_reactivations
from chanperf.source.states import account_states_at

DAYS_PER_MONTH = 365.25 / 12


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


def reactivation_cohort(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """The lookback's resolved reactivations (`chanperf.source.cohorts.REACTIVATION_COLUMNS`),
    read once per run."""
    start, end = lookback_bounds(ctx)
    cohort = ctx.once(
        ("reactivation_cohort",),
        lambda: fetch_reactivations(conn, ctx.org_id, start, end, reincidence_window(ctx)),
    )
    return cohort.copy()


def states_at(conn: Connection, ctx: AnalysisContext, at: datetime) -> pd.DataFrame:
    """Each account's state at `at` (`chanperf.source.states.account_states_at`), read once
    per run and instant: the state and churn detectors ask for the same instants."""
    states = ctx.once(("states_at", at), lambda: account_states_at(conn, ctx.org_id, at))
    return states.copy()


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
