"""Onboarding measures: the cohort of onboardings started in each local day.

Every measure is about the cohort (onboardings whose `started_at` falls in the
day), observed at the span's as-of:

- onboarding_started: the cohort's size.
- onboarding_completed / onboarding_failed: cohort members COMPLETED / FAILED
  before the as-of (so `activation_seconds_sum / onboarding_completed` is the
  average activation time of the cohort, and sums over days stay exact).
- onboarding_matured: cohort members with started_at + activation window <= as-of.
  The others are censored: they may still activate, so they are in no denominator.
- onboarding_activated_in_window: matured members completed within the window.
- activation_seconds_sum: completed_at - started_at of completed members, seconds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, case, func, select

from chanperf.core.enums import OnboardingStatus
from chanperf.core.periods import DayRun
from chanperf.metrics.common import (
    Dialect,
    MetricWindows,
    Span,
    flag,
    ints,
    on_time_index,
    run_by_day,
)
from chanperf.models.source import ChannelAccount, ChannelOnboarding

ONBOARDING_MEASURES = (
    "onboarding_started",
    "onboarding_completed",
    "onboarding_failed",
    "onboarding_matured",
    "onboarding_activated_in_window",
    "activation_seconds_sum",
)
ONBOARDING_KEYS = ("day", "region", "segment", "kit")


def collect_onboarding_metrics(
    conn: Connection, span: Span, windows: MetricWindows
) -> pd.DataFrame:
    """One row per (day, region, segment, kit) with ONBOARDING_MEASURES (int64).

    region/segment are NULL for onboardings of an account missing from
    channel_accounts: they count in totals and in the kit cut only.
    """
    o = ChannelOnboarding.__table__
    a = ChannelAccount.__table__
    sql = Dialect(conn.dialect.name)
    window = windows.activation_window_days
    matured_before = span.as_of - timedelta(days=window)

    def build(bucket: Any, run: DayRun) -> Any:
        completed = and_(
            o.c.status == OnboardingStatus.COMPLETED.value, o.c.completed_at < span.as_of
        )
        failed = and_(o.c.status == OnboardingStatus.FAILED.value, o.c.failed_at < span.as_of)
        matured = o.c.started_at <= matured_before
        in_window = o.c.completed_at <= sql.add_days(o.c.started_at, window)
        day = bucket(o.c.started_at).label("day")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                o.c.kit,
                func.count().label("onboarding_started"),
                flag(completed).label("onboarding_completed"),
                flag(failed).label("onboarding_failed"),
                flag(matured).label("onboarding_matured"),
                flag(and_(matured, completed, in_window)).label("onboarding_activated_in_window"),
                func.sum(
                    case(
                        (completed, sql.seconds_between(o.c.started_at, o.c.completed_at)), else_=0
                    )
                ).label("activation_seconds_sum"),
            )
            .select_from(
                o.outerjoin(a, and_(a.c.account_id == o.c.account_id, a.c.org_id == o.c.org_id))
            )
            .where(
                o.c.org_id == span.org_id,
                o.c.started_at >= run.start,
                o.c.started_at < run.end,
            )
            .group_by(day, a.c.region, a.c.segment, o.c.kit)
        )
        return on_time_index(query, o, o.c.started_at)

    frame = run_by_day(conn, span, build, [*ONBOARDING_KEYS, *ONBOARDING_MEASURES])
    return ints(frame, ONBOARDING_MEASURES)
