"""Stored metrics: upsert without duplicates, periods read back, trends with their deltas."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from chanperf.core.enums import Dimension, PeriodType
from chanperf.core.errors import ValidationError
from chanperf.metrics.store import (
    MEASURES,
    get_metrics,
    get_trends,
    load_state_base,
    save_metrics,
    save_period_rows,
)
from chanperf.models.performance import PerformanceMetric, SegmentMetric


def test_measures_are_every_measure_column() -> None:
    cols = set(PerformanceMetric.__table__.c.keys())
    assert set(MEASURES) <= cols
    assert cols - set(MEASURES) == {
        "id",
        "org_id",
        "period_date",
        "period_type",
        "observed_at",
        "collected_windows",
        "created_at",
        "updated_at",
    }


def test_save_metrics_upserts(engine: Engine) -> None:
    day = date(2026, 3, 1)
    with engine.begin() as conn:
        save_metrics(
            conn, 1, day, PeriodType.DAILY, {"orders_count": 3, "total_revenue": Decimal("9.50")}
        )
        save_metrics(
            conn, 1, day, PeriodType.DAILY, {"orders_count": 4, "total_revenue": Decimal("1.25")}
        )
        save_metrics(conn, 2, day, PeriodType.DAILY, {"orders_count": 7})
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(PerformanceMetric.__table__)).scalar()
            == 2
        )
        frame = get_metrics(conn, 1, PeriodType.DAILY, day, day)
    assert frame["orders_count"].tolist() == [4]
    assert Decimal(str(frame["total_revenue"].iloc[0])) == Decimal("1.25")
    assert frame["period_type"].tolist() == ["DAILY"]


def test_save_metrics_refuses_unknown_measures(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(ValidationError, match="nope"):
        save_metrics(conn, 1, date(2026, 3, 1), PeriodType.DAILY, {"nope": 1})


def _row(day: date, dim: str = "", value: str = "", **measures: int) -> dict[str, object]:
    base: dict[str, object] = {m: 0 for m in MEASURES}
    base.update(measures)
    return {
        "period_type": "DAILY",
        "period_date": day,
        "dimension": dim,
        "dimension_value": value,
        **base,
    }


def test_segment_rows_of_a_period_are_replaced(engine: Engine) -> None:
    day = date(2026, 3, 1)
    with engine.begin() as conn:
        save_period_rows(conn, 1, [_row(day), _row(day, "region", "R1", accounts_active=2),
                                   _row(day, "region", "R2", accounts_active=1)])  # fmt: skip
        # R2 disappeared from the source: collecting again must not leave it behind.
        save_period_rows(conn, 1, [_row(day, total_accounts=3, accounts_active=3),
                                   _row(day, "region", "R1", accounts_active=3)])  # fmt: skip
    with engine.connect() as conn:
        cuts = get_metrics(conn, 1, PeriodType.DAILY, day, day, Dimension.REGION)
        assert cuts[["dimension_value", "accounts_active"]].values.tolist() == [["R1", 3]]
        n = conn.execute(select(func.count()).select_from(SegmentMetric.__table__)).scalar()
        assert n == 1
        base = load_state_base(conn, 1, day)
        assert base is not None
        assert base[("", "")]["ACTIVE"] == 3 and base[("region", "R1")]["ACTIVE"] == 3
        assert load_state_base(conn, 1, day - timedelta(days=1)) is None


def test_trends_give_period_and_week_over_week_deltas(engine: Engine) -> None:
    start = date(2026, 2, 1)
    with engine.begin() as conn:
        for i in range(21):
            save_metrics(conn, 1, start + timedelta(days=i), PeriodType.DAILY, {"orders_count": i})
        save_metrics(conn, 1, date(2026, 1, 1), PeriodType.MONTHLY, {"orders_count": 10})
        save_metrics(conn, 1, date(2026, 2, 1), PeriodType.MONTHLY, {"orders_count": 15})
    with engine.connect() as conn:
        daily = get_trends(conn, 1, "orders_count", days=7, end=date(2026, 2, 21))
        monthly = get_trends(conn, 1, "orders_count", 31, date(2026, 2, 28), PeriodType.MONTHLY)
        with pytest.raises(ValidationError):
            get_trends(conn, 1, "nope", 7, date(2026, 2, 21))
    assert daily["period_date"].tolist() == [
        date(2026, 2, 15) + timedelta(days=i) for i in range(7)
    ]
    last = daily.iloc[-1]  # 02-21 holds 20; 02-20 holds 19; 02-14 holds 13
    assert (last["value"], last["previous"], last["pop_delta"], last["week_ago"], last["wow_delta"]) == (
        20.0, 19.0, 1.0, 13.0, 7.0,
    )  # fmt: skip
    assert last["wow_pct"] == pytest.approx(7 / 13)
    row = monthly.iloc[-1]
    assert (row["period_date"], row["value"], row["previous"], row["pop_pct"]) == (
        date(2026, 2, 1), 15.0, 10.0, 0.5,
    )  # fmt: skip
    assert math.isnan(row["week_ago"])
