"""The collectors' index hint follows the live source database, whatever it names its indexes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select, text

from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.metrics import common
from chanperf.metrics.collect import collect
from chanperf.models.base import Base
from chanperf.models.performance import PerformanceMetric
from chanperf.models.source import ChannelAccount, ChannelOrder
from chanperf.source import indexes

pytestmark = pytest.mark.mariadb


@pytest.fixture
def source_url(mariadb_server_url):
    """A database of its own, so renaming an index does not touch the shared test schema."""
    admin = create_engine(mariadb_server_url)
    name = admin.url.database + "_hint"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    url = f"{mariadb_server_url.rsplit('/', 1)[0]}/{name}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            ChannelAccount.__table__.insert(),
            [
                {
                    "account_id": 1,
                    "region": "R",
                    "segment": "S",
                    "created_at": datetime(2025, 1, 1),
                    "state": "ACTIVE",
                }
            ],
        )
        conn.execute(
            ChannelOrder.__table__.insert(),
            [
                # 2026-03-10 12:00 UTC = 09:00 in Sao Paulo: one line of R$ 100 on 2026-03-10
                {"account_id": 1, "ordered_at": datetime(2026, 3, 10, 12), "sku": "X", "quantity": 1,
                 "revenue": Decimal("100.00"), "cost": Decimal("60.00")},
            ],
        )  # fmt: skip
    engine.dispose()
    indexes._LIVE_INDEXES.clear()
    yield url
    indexes._LIVE_INDEXES.clear()
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE `{name}`"))
    admin.dispose()


def _revenue_of_the_day(url: str) -> Decimal:
    settings = Settings(
        database_url=url, policies_dir=REPO_ROOT / "policies", database_url_chosen=True
    )
    collect(settings, 1, date(2026, 3, 10), date(2026, 3, 10), as_of=datetime(2026, 3, 12))
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(PerformanceMetric.total_revenue).where(
                    PerformanceMetric.period_type == "DAILY",
                    PerformanceMetric.period_date == date(2026, 3, 10),
                )
            ).scalar_one()
    finally:
        engine.dispose()


def _rename_orders_time_index(url: str, new: str | None) -> None:
    engine = make_engine(url)
    old = next(
        i.name
        for i in ChannelOrder.__table__.indexes
        if [c.name for c in i.columns] == ["org_id", "ordered_at"]
    )
    with engine.begin() as conn:
        if new is None:
            conn.execute(text(f"ALTER TABLE channel_orders DROP INDEX `{old}`"))
        else:
            conn.execute(text(f"ALTER TABLE channel_orders RENAME INDEX `{old}` TO `{new}`"))
    engine.dispose()


def test_hint_uses_the_live_name_of_the_index(source_url):
    _rename_orders_time_index(source_url, "orders_by_time")
    assert _revenue_of_the_day(source_url) == Decimal("100.00")
    engine = make_engine(source_url)
    with engine.connect() as conn:
        live = indexes.live_time_indexes(conn)
    engine.dispose()
    assert live[("channel_orders", ("org_id", "ordered_at"))] == "orders_by_time"
    token = common._live.set(live)
    try:
        orders = ChannelOrder.__table__
        query = common.on_time_index(select(orders.c.id), orders, orders.c.ordered_at)
        assert "FORCE INDEX (`orders_by_time`)" in str(query.compile(dialect=conn.dialect))
    finally:
        common._live.reset(token)


def test_no_hint_where_the_index_is_missing(source_url):
    _rename_orders_time_index(source_url, None)
    assert _revenue_of_the_day(source_url) == Decimal("100.00")
