"""An analysis reads again only the periods a later as-of could change.

The stored row of a period is reused when it was observed at the run's as-of, or after
the longest cohort window closed behind it (and the run's as-of is after that too), with
the same windows. The channel test collects a 300-account channel at one as-of, then
"only missing" at a later one, and checks the rows against a collect that reads every
day again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from chanperf.core.enums import PeriodType
from chanperf.core.periods import Period
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.metrics.collect import collect
from chanperf.metrics.common import MetricWindows
from chanperf.metrics.freshness import matures_at, reusable, windows_key
from chanperf.metrics.store import MEASURES, save_period_rows
from chanperf.models.performance import PerformanceMetric, SegmentMetric
from tests.metrics.test_collect_golden import _canonical, load_channel

SP = ZoneInfo("America/Sao_Paulo")  # UTC-3 all year since 2019
WINDOWS = MetricWindows(activation_window_days=30, reincidence_window_days=90)
KEY = "30/90/90"


def day(d: date) -> Period:
    return Period.containing(d, PeriodType.DAILY, SP)


def test_a_period_matures_when_its_longest_window_has_closed() -> None:
    # 10 March ends at 11 March 00:00 local = 03:00 UTC; plus 90 days is 9 June 03:00.
    assert matures_at(day(date(2026, 3, 10)), SP, WINDOWS) == datetime(2026, 6, 9, 3)
    # March as a month ends 1 April 03:00 UTC; plus 90 days is 30 June 03:00.
    month = Period.containing(date(2026, 3, 10), PeriodType.MONTHLY, SP)
    assert matures_at(month, SP, WINDOWS) == datetime(2026, 6, 30, 3)
    assert windows_key(WINDOWS) == KEY


@pytest.mark.parametrize(
    ("observed", "windows", "as_of", "expected"),
    [
        (datetime(2026, 4, 1, 3), KEY, datetime(2026, 4, 1, 3), True),  # this very as-of
        (datetime(2026, 6, 9, 3), KEY, datetime(2026, 8, 1), True),  # both after maturity
        (datetime(2026, 6, 9, 2, 59), KEY, datetime(2026, 8, 1), False),  # seen a minute early
        (datetime(2026, 8, 1), KEY, datetime(2026, 6, 9, 2), False),  # run before maturity
        (datetime(2026, 6, 9, 3), "45/90/90", datetime(2026, 8, 1), False),  # other windows
        (None, KEY, datetime(2026, 8, 1), False),  # written by hand or before the column
    ],
)
def test_a_stored_row_is_reused_only_when_no_observation_could_differ(
    observed: datetime | None, windows: str, as_of: datetime, expected: bool
) -> None:
    assert reusable(observed, windows, day(date(2026, 3, 10)), as_of, SP, WINDOWS) is expected


def _rows(engine: Engine, since: date) -> dict[str, str]:
    out = {}
    with engine.connect() as conn:
        for model in (PerformanceMetric, SegmentMetric):
            table = model.__table__
            skip = {"id", "created_at", "updated_at", "observed_at"}
            columns = [c for c in table.columns if c.name not in skip]
            for row in conn.execute(select(*columns).where(table.c.period_date >= since)):
                values = {c.name: _canonical(row._mapping[c.name], c) for c in columns}
                key = [
                    values.get(k)
                    for k in ("period_type", "period_date", "dimension", "dimension_value")
                ]
                out[json.dumps([table.name, *key])] = json.dumps(values, sort_keys=True)
    return out


def test_collecting_only_what_is_missing_gives_the_rows_a_full_read_gives(
    engine: Engine,
) -> None:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        policies_dir=REPO_ROOT / "policies",
        rules_dir=REPO_ROOT / "rules",
    )
    load_channel(engine)  # 300 accounts up to 30 June 2026
    first, later = datetime(2026, 6, 1, 3), datetime(2026, 7, 1, 3)  # ends of 31 May, 30 June
    collect(settings, 1, None, date(2026, 5, 31), as_of=first, backfill=True)

    start = date(2025, 12, 1)
    partial = collect(settings, 1, start, date(2026, 6, 30), as_of=later, only_missing=True)
    # Reused: 1 December to 28 February (31 + 31 + 28 days). Seen on 1 June 03:00 UTC, a
    # period is final when its last day ended 90 days before: on or before 2 March. February
    # and the ISO week 23 Feb - 1 Mar are; March is not, so its days are read again.
    assert partial.reused_days == 90
    assert partial.days[0] == date(2026, 3, 1)
    reused = _rows(engine, start)

    full = collect(settings, 1, start, date(2026, 6, 30), as_of=later)
    assert full.reused_days == 0
    assert reused == _rows(engine, start)

    # Nothing is reused when the windows the rows were measured with are not the run's.
    other = MetricWindows(activation_window_days=45, reincidence_window_days=90)
    again = collect(
        settings, 1, start, date(2026, 6, 30), as_of=later, windows=other, only_missing=True
    )
    assert again.reused_days == 0


def test_a_row_rewritten_without_an_observation_is_not_reused(engine: Engine) -> None:
    row = {
        "period_type": "DAILY",
        "period_date": date(2026, 3, 10),
        "dimension": "",
        "dimension_value": "",
        **dict.fromkeys(MEASURES, 0),
    }
    with engine.begin() as conn:
        observed = {"observed_at": datetime(2026, 7, 1, 3), "collected_windows": KEY}
        save_period_rows(conn, 1, [row], observed)
        stored = conn.execute(select(PerformanceMetric.observed_at)).scalar_one()
        assert stored == datetime(2026, 7, 1, 3)
        save_period_rows(conn, 1, [row])
        after = conn.execute(
            select(PerformanceMetric.observed_at, PerformanceMetric.collected_windows)
        ).one()
    assert tuple(after) == (None, None)
