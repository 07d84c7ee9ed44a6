"""Onboarding and reactivation cohorts: one row per member with the flags detectors count.

A cohort is fetched once per detector as one row per member (at most tens of
thousands of rows over a lookback) with the flags the detectors count. Window
arithmetic ("completed within 30 days of started_at") is done here in Python on
fetched timestamps, so the SQL stays the same on SQLite and MariaDB.

Definitions (the source contract, docs/source-data.md):
- onboarding cohort: onboardings whose `started_at` falls in the lookback
  ([start, end), the lookback's local days). *Matured*: started at least
  `activation_window_days` before the end of the analysed data; the others are
  censored and in no rate. *Activated*: COMPLETED within the window of
  `started_at`. *Failed*: status FAILED with `failed_at` before the end.
  *Activation days*: completed_at − started_at, for members completed before the end.
- reactivation cohort: WON/LOST reactivations resolved from `reincidence_window_days`
  before the lookback to the end. *In lookback*: resolved in the lookback (win rates
  count these). *Matured*: WON and resolved at least the window before the end,
  i.e. wins whose reincidence window closed inside the lookback (reincidence rates
  count these: as many days of wins as the lookback, all fully observed; resolving
  in the lookback itself would leave only lookback − window days of matured wins).
  *Relapsed*: matured, and the account has a transition to STALLED or CHURNED in
  (resolved_at, resolved_at + window].
Nothing at or after the end of the analysed data (`end`) is seen.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, select

from chanperf.core.enums import RELAPSE_STATES, OnboardingStatus, ReactivationStatus
from chanperf.core.periods import DAY_SECONDS
from chanperf.models.source import (
    ChannelAccount,
    ChannelOnboarding,
    ChannelReactivation,
    ChannelStateTransition,
)
from chanperf.source.indexes import by_time

ONBOARDING_COLUMNS = (
    "kit",
    "region",
    "segment",
    "started_at",
    "matured",
    "activated",
    "failed",
    "days",
)
REACTIVATION_COLUMNS = (
    "strategy",
    "in_lookback",
    "region",
    "segment",
    "discount_pct",
    "cost",
    "resolved_at",
    "won",
    "matured",
    "relapsed",
)


def fetch_onboardings(
    conn: Connection, org_id: int, start: datetime, end: datetime, activation_window_days: int
) -> pd.DataFrame:
    """Onboardings started in [start, end), one row per onboarding (ONBOARDING_COLUMNS).

    `region`/`segment` are None for an account missing from channel_accounts: such
    onboardings count in the channel totals only. `days` is NaN unless completed.
    """
    o = ChannelOnboarding.__table__
    a = ChannelAccount.__table__
    window = timedelta(days=activation_window_days)
    matured_until = end - window
    query = (
        select(
            o.c.kit,
            a.c.region,
            a.c.segment,
            o.c.started_at,
            o.c.status,
            o.c.completed_at,
            o.c.failed_at,
        )
        .select_from(
            o.outerjoin(a, and_(a.c.account_id == o.c.account_id, a.c.org_id == o.c.org_id))
        )
        .where(o.c.org_id == org_id, o.c.started_at >= start, o.c.started_at < end)
    )
    fetched: list[Any] = list(conn.execute(by_time(conn, query, o, o.c.started_at)))
    rows: list[tuple[Any, ...]] = []
    for kit, region, segment, started, status, completed_at, failed_at in fetched:
        completed = (
            status == OnboardingStatus.COMPLETED.value
            and completed_at is not None
            and completed_at < end
        )
        days = (completed_at - started).total_seconds() / DAY_SECONDS if completed else float("nan")
        rows.append(
            (
                kit,
                region,
                segment,
                started,
                started <= matured_until,
                completed and completed_at <= started + window,
                status == OnboardingStatus.FAILED.value
                and failed_at is not None
                and failed_at < end,
                days,
            )
        )
    return _frame(rows, ONBOARDING_COLUMNS, ("matured", "activated", "failed"))


def fetch_reactivations(
    conn: Connection, org_id: int, start: datetime, end: datetime, reincidence_window_days: int
) -> pd.DataFrame:
    """Resolved reactivations (WON/LOST) of [start, end) and of the window before it,
    one row each (REACTIVATION_COLUMNS)."""
    r = ChannelReactivation.__table__
    a = ChannelAccount.__table__
    t = ChannelStateTransition.__table__
    window = timedelta(days=reincidence_window_days)
    matured_until = end - window
    first = start - window
    resolved = (
        r.c.org_id == org_id,
        r.c.resolved_at >= first,
        r.c.resolved_at < end,
        r.c.status.in_((ReactivationStatus.WON.value, ReactivationStatus.LOST.value)),
    )
    query = (
        select(
            r.c.account_id,
            r.c.strategy,
            a.c.region,
            a.c.segment,
            r.c.discount_pct,
            r.c.cost,
            r.c.resolved_at,
            r.c.status,
        )
        .select_from(
            r.outerjoin(a, and_(a.c.account_id == r.c.account_id, a.c.org_id == r.c.org_id))
        )
        .where(*resolved)
    )
    fetched: list[Any] = list(conn.execute(by_time(conn, query, r, r.c.resolved_at)))
    # Relapse transitions of the cohort's won accounts; only (first, end) can fall in a window.
    won_accounts = select(r.c.account_id).where(
        *resolved, r.c.status == ReactivationStatus.WON.value
    )
    transitions: list[Any] = list(
        conn.execute(
            by_time(
                conn,
                select(t.c.account_id, t.c.transitioned_at).where(
                    t.c.org_id == org_id,
                    t.c.to_state.in_(RELAPSE_STATES),
                    t.c.transitioned_at > first,
                    t.c.transitioned_at < end,
                    t.c.account_id.in_(won_accounts),
                ),
                t,
                t.c.transitioned_at,
            )
        )
    )
    relapses: dict[int, list[datetime]] = {}
    for account_id, at in transitions:
        relapses.setdefault(int(account_id), []).append(at)
    rows: list[tuple[Any, ...]] = []
    for account_id, strategy, region, segment, discount, cost, resolved_at, status in fetched:
        won = status == ReactivationStatus.WON.value
        matured = won and resolved_at <= matured_until
        relapsed = matured and any(
            resolved_at < at <= resolved_at + window for at in relapses.get(int(account_id), ())
        )
        rows.append(
            (
                strategy,
                resolved_at >= start,
                region,
                segment,
                float(discount or 0),
                float(cost or 0),
                resolved_at,
                won,
                matured,
                relapsed,
            )
        )
    return _frame(rows, REACTIVATION_COLUMNS, ("in_lookback", "won", "matured", "relapsed"))


def _frame(
    rows: list[tuple[Any, ...]], columns: tuple[str, ...], flags: tuple[str, ...]
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for flag in flags:
        frame[flag] = frame[flag].astype(bool)
    return frame
