"""Which stored periods an analysis may reuse instead of reading the source again.

A totals row records the as-of it was observed at and the policy windows it was
measured with. Every measure of a period counts events inside the period, or in a
cohort's window after it (activation after an onboarding start, reincidence after a
win), so once the last of those windows has closed the row is final: any later
observation gives the same numbers. A stored period is therefore reused when its
windows are the run's and either it was observed at exactly the run's as-of, or it
was observed after it matured and the run's as-of is after that too.

Rows whose source changed in the past after they were observed (a late load, a
correction) are read again with `chanperf collect --from ... --to ...`, which always
reads the source.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from chanperf.core.enums import PeriodType
from chanperf.core.periods import ONE_DAY, Period, local_midnight_utc, periods_touching
from chanperf.metrics.common import MetricWindows
from chanperf.models.performance import PerformanceMetric

METRICS: Table = PerformanceMetric.__table__  # type: ignore[assignment]


def windows_key(windows: MetricWindows) -> str:
    """The windows as stored in `collected_windows`: activation/reincidence/attribution days."""
    return (
        f"{windows.activation_window_days}/{windows.reincidence_window_days}"
        f"/{windows.revenue_attribution_days}"
    )


def matures_at(period: Period, tz: tzinfo, windows: MetricWindows) -> datetime:
    """The first as-of (naive UTC) at which no later observation can change the period's row."""
    longest = max(windows.activation_window_days, windows.reincidence_window_days)
    after = period.last_day + ONE_DAY
    # The later of the two readings, so a clock change inside the window cannot cut it short.
    return max(
        local_midnight_utc(after, tz) + timedelta(days=longest),
        local_midnight_utc(after + timedelta(days=longest), tz),
    )


def reusable(
    observed_at: datetime | None,
    collected_windows: str | None,
    period: Period,
    as_of: datetime,
    tz: tzinfo,
    windows: MetricWindows,
) -> bool:
    """Whether a stored row (its observed_at and collected_windows) is what `as_of` would give."""
    if observed_at is None or collected_windows != windows_key(windows):
        return False
    if observed_at == as_of:
        return True
    mature = matures_at(period, tz, windows)
    return observed_at >= mature and as_of >= mature


def days_to_collect(
    conn: Connection | Session,
    org_id: int,
    days: Iterable[date],
    as_of: datetime,
    tz: tzinfo,
    windows: MetricWindows,
) -> list[date]:
    """The `days` whose day, ISO week or month has no stored row `as_of` may reuse.

    A batch recomputes the whole week and month of each day it collects, so a day is
    kept when any of its three periods is missing or stale.
    """
    wanted = sorted(set(days))
    if not wanted:
        return []
    stored = {
        (PeriodType(row.period_type), row.period_date): (row.observed_at, row.collected_windows)
        for row in conn.execute(
            select(
                METRICS.c.period_type,
                METRICS.c.period_date,
                METRICS.c.observed_at,
                METRICS.c.collected_windows,
            ).where(
                METRICS.c.org_id == org_id,
                METRICS.c.period_date.between(wanted[0] - timedelta(days=31), wanted[-1]),
            )
        )
    }
    stale: set[tuple[PeriodType, date]] = set()
    for period_type in PeriodType:
        for period in periods_touching(wanted, period_type, tz):
            observed, key = stored.get((period_type, period.period_date), (None, None))
            if not reusable(observed, key, period, as_of, tz, windows):
                stale.add((period_type, period.period_date))
    return [
        day
        for day in wanted
        if any((t, Period.containing(day, t, tz).period_date) in stale for t in PeriodType)
    ]


__all__ = ["days_to_collect", "matures_at", "reusable", "windows_key"]
