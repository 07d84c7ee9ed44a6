"""The reads a run shares give exactly what the per-instant reads they replace gave.

On the 300-account planted channel (18 months up to 2026-06-30), on both backends:
the states at several instants from one pass equal `account_states_at` per instant; the
churn model's order features at its three snapshots from one grouped read equal one read
per snapshot; the bottleneck detector's weekly exposure counted from levels and movers
equals the account-by-week table it replaced (kept here as the reference).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, and_, case, distinct, func, select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors import churn, cohorts, state
from chanperf.analysis.detectors.comparisons import week_span
from chanperf.analysis.detectors.state import TARGETS
from chanperf.core.settings import REPO_ROOT
from chanperf.models.source import ChannelAccount, ChannelOrder, ChannelStateTransition
from chanperf.policies.load import load_policies
from chanperf.source.frames import frame, times
from chanperf.source.states import account_states_at, states_at_instants
from tests.analysis.test_state import add_account, load, make_ctx
from tests.metrics.test_collect_golden import load_channel

AS_OF = date(2026, 6, 30)


@pytest.fixture
def channel(engine: Engine) -> Engine:
    load_channel(engine)
    return engine


def context() -> AnalysisContext:
    return AnalysisContext(org_id=1, as_of=AS_OF, policies=load_policies(REPO_ROOT / "policies"))


def test_states_at_several_instants_are_the_states_at_each(channel: Engine) -> None:
    instants = [
        datetime(2025, 6, 1, 3),
        datetime(2025, 11, 17, 3),
        datetime(2026, 4, 2, 3),
        datetime(2026, 7, 1, 3),
    ]
    with channel.connect() as conn:
        many = states_at_instants(conn, 1, instants)
        for at in instants:
            one = account_states_at(conn, 1, at)
            assert len(one) >= 49  # the channel has states at every instant (49 at the first)
            pd.testing.assert_frame_equal(many[at], one, check_dtype=False)


def _orders_one_instant(conn: Connection, at: datetime) -> pd.DataFrame:
    """The order features as the churn model read them, one query per snapshot."""
    o = ChannelOrder.__table__
    recent, prior = at - timedelta(days=90), at - timedelta(days=180)
    return frame(
        conn,
        select(
            o.c.account_id,
            func.max(o.c.ordered_at).label("last_order"),
            func.count(distinct(case((o.c.ordered_at >= recent, o.c.ordered_at)))).label(
                "orders_90d"
            ),
            func.sum(case((o.c.ordered_at >= recent, o.c.revenue), else_=0)).label("revenue_90d"),
            func.sum(
                case((and_(o.c.ordered_at >= prior, o.c.ordered_at < recent), o.c.revenue), else_=0)
            ).label("revenue_prior_90d"),
        )
        .where(o.c.org_id == 1, o.c.ordered_at >= at - timedelta(days=365), o.c.ordered_at < at)
        .group_by(o.c.account_id)
        .order_by(o.c.account_id),
    )


def test_order_features_of_the_three_snapshots_are_each_snapshots(channel: Engine) -> None:
    ctx = context()
    with channel.connect() as conn:
        for at in cohorts.churn_instants(ctx):
            shared = churn._orders_at(conn, ctx, at).sort_values("account_id")
            alone = _orders_one_instant(conn, at)
            assert len(alone) > 100
            shared["last_order"] = times(shared["last_order"])
            alone["last_order"] = times(alone["last_order"])
            for column in ("revenue_90d", "revenue_prior_90d"):
                shared[column] = shared[column].astype(float)
                alone[column] = alone[column].astype(float)
            pd.testing.assert_frame_equal(
                shared.reset_index(drop=True), alone.reset_index(drop=True), check_dtype=False
            )


def _exposure_by_account_week(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """The reference: one row per account and week with its state at the week's start."""
    baseline, recent = ctx.weeks()
    start, end = week_span(ctx, baseline)[0], week_span(ctx, recent)[1]
    t, a = ChannelStateTransition.__table__, ChannelAccount.__table__
    at_start = account_states_at(conn, 1, start)[["account_id", "region", "state"]]
    moves = frame(
        conn,
        select(t.c.account_id, a.c.region, t.c.to_state, t.c.transitioned_at, t.c.id)
        .select_from(t.join(a, and_(a.c.org_id == t.c.org_id, a.c.account_id == t.c.account_id)))
        .where(t.c.org_id == 1, t.c.transitioned_at >= start, t.c.transitioned_at < end)
        .order_by(t.c.transitioned_at, t.c.id),
    )
    moves["transitioned_at"] = times(moves["transitioned_at"])
    parts = []
    for period, mondays in (("baseline", baseline), ("recent", recent)):
        for monday in mondays:
            w_start, w_end = ctx.utc(monday), ctx.utc(monday + timedelta(days=7))
            before = moves[moves["transitioned_at"] < pd.Timestamp(w_start)]
            latest = before.drop_duplicates("account_id", keep="last")
            latest = latest[["account_id", "region", "to_state"]].rename(
                columns={"to_state": "state"}
            )
            states = pd.concat(
                [at_start[~at_start["account_id"].isin(latest["account_id"])], latest],
                ignore_index=True,
            )
            during = moves[
                (moves["transitioned_at"] >= pd.Timestamp(w_start))
                & (moves["transitioned_at"] < pd.Timestamp(w_end))
            ]
            for target in TARGETS:
                movers = set(during.loc[during["to_state"] == target, "account_id"])
                states[target] = states["account_id"].isin(movers).astype(int)
            states["week"], states["period"] = monday, period
            parts.append(states)
    rows = pd.concat(parts, ignore_index=True)
    rows["state"] = rows["state"].astype(str)
    keys = ["week", "period", "region", "state"]
    counted = rows.groupby(keys).agg(
        accounts=("account_id", "size"), **{t: (t, "sum") for t in TARGETS}
    )
    return counted.reset_index().sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("as_of", [AS_OF, date(2026, 2, 14)])
def test_weekly_exposure_counts_are_the_account_week_table_counted(
    channel: Engine, as_of: date
) -> None:
    ctx = AnalysisContext(org_id=1, as_of=as_of, policies=load_policies(REPO_ROOT / "policies"))
    with channel.connect() as conn:
        counted = state.weekly_exposure(conn, ctx)
        reference = _exposure_by_account_week(conn, ctx)
    keys = ["week", "period", "region", "state"]
    counted = counted.sort_values(keys).reset_index(drop=True)
    assert reference["accounts"].sum() > 1000 and reference[list(TARGETS)].to_numpy().sum() > 10
    pd.testing.assert_frame_equal(counted, reference, check_dtype=False)


def test_weekly_exposure_on_week_boundaries_by_hand(engine: Engine) -> None:
    # Weeks (UTC): baseline 3 and 10 June 2024, recent 17 and 24 June. A move at a week's
    # first instant belongs to that week, not to the state the week started in.
    since = datetime(2024, 1, 1)
    rows: dict[str, list[dict[str, Any]]] = {"accounts": [], "transitions": []}
    add_account(rows, 1, "R1", [("ACTIVE", since), ("STALLED", datetime(2024, 6, 10))])
    add_account(
        rows,
        2,
        "R1",
        [
            ("ACTIVE", since),
            ("STALLED", datetime(2024, 6, 12, 10)),
            ("ACTIVE", datetime(2024, 6, 13, 10)),
            ("STALLED", datetime(2024, 6, 19)),
        ],
    )
    add_account(
        rows,
        3,
        "R2",
        [
            ("NEW", datetime(2024, 6, 5, 12)),
            ("ACTIVE", datetime(2024, 6, 6)),
            ("CHURNED", datetime(2024, 6, 20)),
        ],
    )
    add_account(rows, 4, "R2", [("ACTIVE", since)])
    add_account(
        rows, 5, "R1", [("STALLED", datetime(2024, 5, 1)), ("CHURNED", datetime(2024, 6, 24))]
    )
    load(engine, rows)
    with engine.connect() as conn:
        got = state.weekly_exposure(conn, make_ctx())
    expected = [
        (date(2024, 6, 3), "baseline", "R1", "ACTIVE", 2, 0, 0),
        (date(2024, 6, 3), "baseline", "R1", "STALLED", 1, 0, 0),
        (date(2024, 6, 3), "baseline", "R2", "ACTIVE", 1, 0, 0),  # account 3 is not yet there
        (date(2024, 6, 10), "baseline", "R1", "ACTIVE", 2, 2, 0),  # 1 at 00:00, 2 on the 12th
        (date(2024, 6, 10), "baseline", "R1", "STALLED", 1, 0, 0),
        (date(2024, 6, 10), "baseline", "R2", "ACTIVE", 2, 0, 0),
        (date(2024, 6, 17), "recent", "R1", "ACTIVE", 1, 1, 0),  # 2, back to ACTIVE on the 13th
        (date(2024, 6, 17), "recent", "R1", "STALLED", 2, 0, 0),
        (date(2024, 6, 17), "recent", "R2", "ACTIVE", 2, 0, 1),
        (date(2024, 6, 24), "recent", "R1", "STALLED", 3, 0, 1),  # 5 churns at 00:00
        (date(2024, 6, 24), "recent", "R2", "ACTIVE", 1, 0, 0),
        (date(2024, 6, 24), "recent", "R2", "CHURNED", 1, 0, 0),
    ]
    ordered = got.sort_values(["week", "region", "state"])
    assert [tuple(r) for r in ordered.itertuples(index=False)] == expected
