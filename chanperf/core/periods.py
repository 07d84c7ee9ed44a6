"""Calendar periods cut in the organisation's time zone, as naive-UTC bounds for SQL.

Timestamps are stored naive in UTC; a day, ISO week or month is a local-calendar
notion. Every period becomes a half-open UTC interval [start, end) computed from
local midnights, so days around a DST change have 23 or 25 hours (Sao Paulo,
2018-11-04: 23 h; 2019-02-16: 25 h) and an event at 01:30 UTC falls on the
previous local day.

`uniform_runs` splits a span of days into runs whose local date is
`date(ts + constant offset)`: the collectors group a whole run by that
expression in one query, and treat each irregular (DST) day as its own run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from chanperf.core.enums import PeriodType

ONE_DAY = timedelta(days=1)
DAY_SECONDS = 86400


def as_date(value: Any) -> date:
    """A DATE column's value as a date, however the driver returned it (date, datetime, text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def iso_week(day: date) -> tuple[int, int]:
    """(ISO year, ISO week number) of a day."""
    year, week, _ = day.isocalendar()
    return year, week


def iso_week_code(day: date) -> str:
    """The ISO week of a day as `YYYY-Www` (the form period filters and job ids use)."""
    year, week = iso_week(day)
    return f"{year}-W{week:02d}"


def local_midnight_utc(day: date, tz: tzinfo) -> datetime:
    """The first instant of local `day`, naive UTC.

    fold=0 picks the earlier reading of an ambiguous midnight and, for a midnight
    skipped by a DST gap, the pre-gap offset, which lands on the gap instant: in
    both cases the first instant that shows this local date.
    """
    aware = datetime.combine(day, time(), tzinfo=tz)
    return aware.astimezone(UTC).replace(tzinfo=None)


def local_day_of(ts: datetime, tz: tzinfo) -> date:
    """The local date of a naive-UTC timestamp."""
    return ts.replace(tzinfo=UTC).astimezone(tz).date()


def period_first_day(day: date, period_type: PeriodType) -> date:
    if period_type is PeriodType.DAILY:
        return day
    if period_type is PeriodType.WEEKLY:
        return day - timedelta(days=day.weekday())  # ISO week: Monday
    return day.replace(day=1)


def period_last_day(first: date, period_type: PeriodType) -> date:
    if period_type is PeriodType.DAILY:
        return first
    if period_type is PeriodType.WEEKLY:
        return first + timedelta(days=6)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - ONE_DAY


@dataclass(frozen=True, order=True)
class Period:
    """One calendar period: local first/last day and naive-UTC bounds [start, end)."""

    period_type: PeriodType
    period_date: date
    last_day: date
    start: datetime
    end: datetime

    @classmethod
    def containing(cls, day: date, period_type: PeriodType, tz: tzinfo) -> Period:
        first = period_first_day(day, period_type)
        last = period_last_day(first, period_type)
        return cls(
            period_type,
            first,
            last,
            local_midnight_utc(first, tz),
            local_midnight_utc(last + ONE_DAY, tz),
        )

    def days(self) -> Iterator[date]:
        return iter_days(self.period_date, self.last_day)


def iter_days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def periods_touching(days: Iterable[date], period_type: PeriodType, tz: tzinfo) -> list[Period]:
    """Every period of `period_type` that contains at least one of `days`, sorted."""
    firsts = {period_first_day(d, period_type) for d in days}
    return [Period.containing(f, period_type, tz) for f in sorted(firsts)]


@dataclass(frozen=True)
class DayRun:
    """Consecutive local days whose UTC bounds differ from local midnights by one offset.

    `offset_seconds` is local minus UTC; None marks a single irregular (DST) day,
    whose rows all belong to `first_day`.
    """

    first_day: date
    last_day: date
    start: datetime
    end: datetime
    offset_seconds: int | None

    def clipped(self, until: datetime) -> DayRun | None:
        """The part of the run before `until` (the as-of), or None when nothing is left."""
        if until <= self.start:
            return None
        if until >= self.end:
            return self
        return DayRun(self.first_day, self.last_day, self.start, until, self.offset_seconds)


def uniform_runs(first: date, last: date, tz: tzinfo) -> list[DayRun]:
    runs: list[DayRun] = []
    for day in iter_days(first, last):
        start = local_midnight_utc(day, tz)
        end = local_midnight_utc(day + ONE_DAY, tz)
        offset: int | None = None
        if end - start == ONE_DAY:
            offset = int((datetime.combine(day, time()) - start).total_seconds())
        prev = runs[-1] if runs else None
        if offset is not None and prev is not None and prev.offset_seconds == offset:
            runs[-1] = DayRun(prev.first_day, day, prev.start, end, offset)
        else:
            runs.append(DayRun(day, day, start, end, offset))
    return runs
