"""Calendar periods of America/Sao_Paulo as naive-UTC bounds, across DST and midnight UTC."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chanperf.core.enums import PeriodType
from chanperf.core.periods import Period, local_day_of, periods_touching, uniform_runs

SP = ZoneInfo("America/Sao_Paulo")


def test_a_2026_day_is_03_to_03_utc() -> None:
    p = Period.containing(date(2026, 2, 28), PeriodType.DAILY, SP)
    assert (p.start, p.end) == (datetime(2026, 2, 28, 3), datetime(2026, 3, 1, 3))
    # 01:30 UTC on 03-01 is 22:30 on 02-28 in Sao Paulo.
    assert local_day_of(datetime(2026, 3, 1, 1, 30), SP) == date(2026, 2, 28)
    assert local_day_of(datetime(2026, 3, 1, 3, 0), SP) == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("day", "start", "end", "hours"),
    [
        # DST began at 00:00 local: the day starts at the gap, 01:00 -02 = 03:00 UTC.
        (date(2018, 11, 4), datetime(2018, 11, 4, 3), datetime(2018, 11, 5, 2), 23),
        # DST ended at 00:00 of 02-17: 23:00-24:00 of 02-16 happened twice.
        (date(2019, 2, 16), datetime(2019, 2, 16, 2), datetime(2019, 2, 17, 3), 25),
        (date(2019, 2, 17), datetime(2019, 2, 17, 3), datetime(2019, 2, 18, 3), 24),
    ],
)
def test_dst_days(day: date, start: datetime, end: datetime, hours: int) -> None:
    p = Period.containing(day, PeriodType.DAILY, SP)
    assert (p.start, p.end) == (start, end)
    assert p.end - p.start == timedelta(hours=hours)


def test_weeks_are_iso_and_months_calendar() -> None:
    week = Period.containing(date(2026, 3, 1), PeriodType.WEEKLY, SP)  # a Sunday
    assert (week.period_date, week.last_day) == (date(2026, 2, 23), date(2026, 3, 1))
    assert (week.start, week.end) == (datetime(2026, 2, 23, 3), datetime(2026, 3, 2, 3))
    # ISO week 1 of 2021 starts on Monday 2021-01-04; 2021-01-03 belongs to the week before.
    assert Period.containing(date(2021, 1, 3), PeriodType.WEEKLY, SP).period_date == date(
        2020, 12, 28
    )
    month = Period.containing(date(2018, 11, 20), PeriodType.MONTHLY, SP)
    assert (month.period_date, month.last_day) == (date(2018, 11, 1), date(2018, 11, 30))
    # November 2018 began at -03 and ended at -02: 30 days minus the DST hour.
    assert month.end - month.start == timedelta(days=30, hours=-1)
    dec = Period.containing(date(2025, 12, 31), PeriodType.MONTHLY, SP)
    assert (dec.period_date, dec.last_day) == (date(2025, 12, 1), date(2025, 12, 31))


def test_periods_touching_dedupes_and_sorts() -> None:
    days = [date(2026, 3, 2), date(2026, 2, 27), date(2026, 3, 1)]
    weeks = periods_touching(days, PeriodType.WEEKLY, SP)
    assert [w.period_date for w in weeks] == [date(2026, 2, 23), date(2026, 3, 2)]
    months = periods_touching(days, PeriodType.MONTHLY, SP)
    assert [m.period_date for m in months] == [date(2026, 2, 1), date(2026, 3, 1)]


def test_uniform_runs_split_at_dst_days() -> None:
    runs = uniform_runs(date(2018, 11, 1), date(2018, 11, 7), SP)
    assert [(r.first_day, r.last_day, r.offset_seconds) for r in runs] == [
        (date(2018, 11, 1), date(2018, 11, 3), -3 * 3600),
        (date(2018, 11, 4), date(2018, 11, 4), None),  # 23 h: one query of its own
        (date(2018, 11, 5), date(2018, 11, 7), -2 * 3600),
    ]
    assert runs[1].start == runs[0].end and runs[2].start == runs[1].end
    # Since 2019 there is no DST: three years are a single run.
    assert len(uniform_runs(date(2023, 1, 1), date(2025, 12, 31), SP)) == 1


def test_run_clipped_to_as_of() -> None:
    (run,) = uniform_runs(date(2026, 3, 1), date(2026, 3, 5), SP)
    assert run.clipped(datetime(2026, 3, 1, 3)) is None
    clipped = run.clipped(datetime(2026, 3, 3, 12))
    assert clipped is not None and clipped.end == datetime(2026, 3, 3, 12)
    assert run.clipped(datetime(2027, 1, 1)) is run


def test_other_time_zones_and_utc() -> None:
    utc = Period.containing(date(2026, 3, 1), PeriodType.DAILY, ZoneInfo("UTC"))
    assert (utc.start, utc.end) == (datetime(2026, 3, 1), datetime(2026, 3, 2))
    # Europe/Lisbon changes at 01:00 UTC, mid-day local: that day is its own run.
    runs = uniform_runs(date(2026, 3, 28), date(2026, 3, 30), ZoneInfo("Europe/Lisbon"))
    assert [r.offset_seconds for r in runs] == [0, None, 3600]
