"""State detectors on hand-built channels; every expected number is worked out in the comments.

as_of = 2024-06-30 (a Sunday), time zone UTC so days are easy to count:
end of the analysed data = 2024-07-01 00:00. With recent_weeks = baseline_weeks = 2,
ctx.weeks() gives baseline Mondays 06-03, 06-10 and recent Mondays 06-17, 06-24.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from scipy import stats as sps
from sqlalchemy import Engine

from chanperf.analysis.context import AnalysisConfig, AnalysisContext
from chanperf.analysis.detectors.state import (
    analyze_state_flows,
    detect_bottlenecks,
    weekly_exposure,
)
from chanperf.analysis.findings import StateBottleneck
from chanperf.core.settings import REPO_ROOT
from chanperf.core.stats import compare_proportions
from chanperf.models.source import ChannelAccount, ChannelStateTransition
from chanperf.policies.load import load_policies

END = datetime(2024, 7, 1)


def make_ctx(**config: Any) -> AnalysisContext:
    cfg = AnalysisConfig(**{"recent_weeks": 2, "baseline_weeks": 2, **config})
    return AnalysisContext(1, date(2024, 6, 30), load_policies(REPO_ROOT / "policies"), cfg, "UTC")


def add_account(
    rows: dict[str, list[dict[str, Any]]],
    account_id: int,
    region: str,
    history: list[tuple[str, datetime]],
) -> None:
    """An account with its chain of transitions; channel_accounts.state = the last one."""
    rows["accounts"].append(
        {
            "account_id": account_id,
            "org_id": 1,
            "region": region,
            "segment": "S1",
            "created_at": history[0][1],
            "state": history[-1][0],
            "health_score": None,
        }
    )
    previous = None
    for state, at in history:
        rows["transitions"].append(
            {
                "org_id": 1,
                "account_id": account_id,
                "from_state": previous,
                "to_state": state,
                "transitioned_at": at,
            }
        )
        previous = state


def load(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        conn.execute(ChannelAccount.__table__.insert(), rows["accounts"])
        conn.execute(ChannelStateTransition.__table__.insert(), rows["transitions"])


def days_ago(days: float) -> datetime:
    return END - timedelta(days=days)


@pytest.fixture
def stuck_channel(engine: Engine) -> Engine:
    rows: dict[str, list[dict[str, Any]]] = {"accounts": [], "transitions": []}
    # R1: five accounts ACTIVATING for 10, 50, 60, 70 and 80 days (limit 45).
    for i, d in enumerate((10, 50, 60, 70, 80), start=1):
        add_account(rows, i, "R1", [("NEW", days_ago(d + 5)), ("ACTIVATING", days_ago(d))])
    # R2: ACTIVATING for 20 and 30 days.
    add_account(rows, 6, "R2", [("NEW", days_ago(25)), ("ACTIVATING", days_ago(20))])
    add_account(rows, 7, "R2", [("NEW", days_ago(35)), ("ACTIVATING", days_ago(30))])
    # Was ACTIVATING for long but is ACTIVE now: the latest transition decides.
    add_account(
        rows,
        8,
        "R2",
        [("NEW", days_ago(105)), ("ACTIVATING", days_ago(100)), ("ACTIVE", days_ago(5))],
    )
    # ACTIVATING for 30 days at the as-of; the move to ACTIVE 5 days later is not seen yet.
    add_account(
        rows,
        9,
        "R2",
        [("NEW", days_ago(35)), ("ACTIVATING", days_ago(30)), ("ACTIVE", days_ago(-5))],
    )
    # Another org's account is never seen.
    add_account(rows, 10, "R1", [("NEW", days_ago(200)), ("ACTIVATING", days_ago(199))])
    rows["accounts"][-1]["org_id"] = 2
    for t in rows["transitions"][-2:]:
        t["org_id"] = 2
    load(engine, rows)
    return engine


def test_time_in_state_median_against_policy_max(stuck_channel: Engine) -> None:
    with stuck_channel.connect() as conn:
        found = [f for f in detect_bottlenecks(conn, make_ctx()) if f.signal == "time_in_state"]
    # Only ACTIVATING has accounts among the states with a limit (ACTIVE has none).
    by_region = {f.region: f for f in found}
    assert set(by_region) == {None, "R1", "R2"}
    assert all(isinstance(f, StateBottleneck) and f.state == "ACTIVATING" for f in found)

    r1 = by_region["R1"]
    # days 10, 50, 60, 70, 80: median 60; 4 over 45; sign test P(X >= 4 | 5, 1/2) = 6/32.
    assert r1.n == 5 and r1.accounts_affected == 4 and r1.rate_b == pytest.approx(0.8)
    assert r1.median_days == pytest.approx(60) and r1.max_days == 45
    assert r1.effect == pytest.approx(15) and r1.relative_effect == pytest.approx(15 / 45)
    assert r1.p_value == pytest.approx(6 / 32)
    # n = 5: no pair of order statistics covers the median with 95 % ([min, max] covers
    # 1 − 2/32 = 93.75 %), so there is no interval rather than a too-narrow one.
    assert (r1.ci_low, r1.ci_high) == (None, None)
    assert (r1.policy, r1.parameter, r1.policy_value) == (
        "states",
        "max_days_in_state.ACTIVATING",
        45.0,
    )
    assert r1.filters == {"state": "ACTIVATING", "region": "R1"}
    assert r1.p_value_adj is None

    # R2: 20, 30, 30 (account 9 still ACTIVATING at the as-of): median 30, nobody over 45: p = 1.
    r2 = by_region["R2"]
    assert (r2.n, r2.accounts_affected, r2.median_days, r2.p_value) == (
        3,
        0,
        pytest.approx(30),
        1.0,
    )

    # Channel: 10, 20, 30, 30, 50, 60, 70, 80: median 40, 4 of 8 over: P(X >= 4 | 8) = 163/256.
    ch = by_region[None]
    assert (ch.n, ch.accounts_affected, ch.median_days) == (8, 4, pytest.approx(40))
    assert ch.p_value == pytest.approx(163 / 256)
    assert (ch.period_start, ch.period_end) == (date(2024, 1, 3), date(2024, 6, 30))


def test_share_over_max_against_the_rest_of_the_channel(stuck_channel: Engine) -> None:
    with stuck_channel.connect() as conn:
        found = [f for f in detect_bottlenecks(conn, make_ctx()) if f.signal == "over_max_share"]
    by_region = {f.region: f for f in found}
    # R1: 4 of 5 over 45 days; the rest (R2): 0 of 3. And the other way round.
    r1, r2 = by_region["R1"], by_region["R2"]
    expected = compare_proportions(4, 5, 0, 3)
    assert (r1.n_a, r1.n_b, r1.rate_a, r1.rate_b, r1.accounts_affected) == (3, 5, 0.0, 0.8, 4)
    assert r1.p_value == pytest.approx(expected.p_value) and r1.effect == pytest.approx(0.8)
    assert r1.relative_effect is None  # the rest has nobody over: no ratio
    assert (r1.median_days, r1.extra["rest_median_days"]) == (pytest.approx(60), pytest.approx(30))
    assert (r2.rate_a, r2.rate_b, r2.effect) == (0.8, 0.0, pytest.approx(-0.8))
    assert r1.parameter == "max_days_in_state.ACTIVATING" and r1.policy_value == 45.0


@pytest.fixture
def stalling_channel(engine: Engine) -> Engine:
    rows: dict[str, list[dict[str, Any]]] = {"accounts": [], "transitions": []}
    since = datetime(2024, 1, 1, 12)
    stalls = {
        101: datetime(2024, 6, 5, 12),
        102: datetime(2024, 6, 18, 9),
        103: datetime(2024, 6, 18, 10),
    }
    stalls |= {104: datetime(2024, 6, 18, 11), 105: datetime(2024, 6, 25, 12)}
    for account in range(101, 111):
        history = [("ACTIVE", since)]
        if account in stalls:
            history.append(("STALLED", stalls[account]))
        add_account(rows, account, "R1", history)
    load(engine, rows)
    return engine


def test_transition_rate_change_point(stalling_channel: Engine) -> None:
    ctx = make_ctx(history_weeks=4, changepoint_min_weeks=2)
    with stalling_channel.connect() as conn:
        exposure = weekly_exposure(conn, ctx, [date(2024, 6, d) for d in (3, 10, 17, 24)])
        flows = analyze_state_flows(conn, ctx)
        found = [f for f in detect_bottlenecks(conn, ctx) if f.signal == "transition_rate"]
    # Account-weeks in ACTIVE: 06-03: 10 (1 stalls), 06-10: 9 (0), 06-17: 9 (3 stall),
    # 06-24: 6 (1).
    active = exposure[exposure["state"] == "ACTIVE"]
    assert active.groupby("week")["accounts"].sum().to_dict() == {
        date(2024, 6, 3): 10,
        date(2024, 6, 10): 9,
        date(2024, 6, 17): 9,
        date(2024, 6, 24): 6,
    }
    assert set(exposure["period"]) == {"history"}
    # The lookback (from 2024-01-03) sees the five stalls, not the 2024-01-01 starts.
    assert flows[
        ["from_state", "to_state", "transitions", "accounts", "share"]
    ].values.tolist() == [["ACTIVE", "STALLED", 5, 5, 1.0]]
    # No account churned: ACTIVE→CHURNED and STALLED→CHURNED never happened, so not scanned.
    assert {(f.state, f.to_state, f.region) for f in found} == {
        ("ACTIVE", "STALLED", None),
        ("ACTIVE", "STALLED", "R1"),
    }
    ch = next(f for f in found if f.region is None)
    # Four weeks, two on each side: the one split is after 06-10 (1/19 before, 4/15 after).
    # Weekly rates 1/10, 0, 3/9, 1/6: successive differences over √(1/n_t + 1/n_t−1) have
    # mean square 0.2158 above the binomial 5/34 × 29/34, so φ = 0.2158 / 0.1254 and the z
    # is read against Student t with 2(4 − 1)/3 = 2 degrees of freedom.
    rates, sizes = [0.1, 0.0, 3 / 9, 1 / 6], [10, 9, 9, 6]
    d2 = [(rates[i] - rates[i - 1]) ** 2 / (1 / sizes[i] + 1 / sizes[i - 1]) for i in range(1, 4)]
    v = 5 / 34 * 29 / 34
    phi = (sum(d2) / 3) / v
    z = (4 / 15 - 1 / 19) / math.sqrt(phi * v * (1 / 19 + 1 / 15))
    assert phi == pytest.approx(1.7204, abs=1e-3)
    assert (ch.n_a, ch.n_b, ch.accounts_affected) == (19, 15, 4)
    assert ch.change_start == date(2024, 6, 17) and ch.period_start == date(2024, 6, 17)
    assert ch.rate_a == pytest.approx(1 / 19) and ch.rate_b == pytest.approx(4 / 15)
    assert ch.effect == pytest.approx(4 / 15 - 1 / 19)
    assert ch.relative_effect == pytest.approx((4 / 15 - 1 / 19) / (1 / 19))
    assert ch.extra["dispersion"] == pytest.approx(phi)
    assert ch.p_value == pytest.approx(2 * sps.t.sf(z, 2))
    assert ch.extra["lookback_transitions"] == 5 and ch.extra["history_first_week"] == "2024-06-03"
    # Time in state: STALLED accounts are all under 90 days, so the sign test gives p = 1.
    stalled = [
        f for f in detect_bottlenecks_of(stalling_channel, ctx) if f.signal == "time_in_state"
    ]
    assert {f.region for f in stalled} == {None, "R1"}
    assert all(
        f.state == "STALLED" and f.p_value == 1.0 and f.accounts_affected == 0 for f in stalled
    )


def detect_bottlenecks_of(engine: Engine, ctx: AnalysisContext) -> list[StateBottleneck]:
    with engine.connect() as conn:
        return [f for f in detect_bottlenecks(conn, ctx) if isinstance(f, StateBottleneck)]


def test_empty_database_gives_no_finding(engine: Engine) -> None:
    with engine.connect() as conn:
        assert detect_bottlenecks(conn, make_ctx()) == []
        assert analyze_state_flows(conn, make_ctx()).empty


def test_sign_test_matches_scipy() -> None:
    # The sign test of median_above is the binomial tail used in the expectations above.
    assert sps.binomtest(4, 8, 0.5, alternative="greater").pvalue == pytest.approx(163 / 256)
