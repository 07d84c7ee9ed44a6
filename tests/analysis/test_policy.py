"""Policy detectors (exceptions, policy gaps, misalignments) on hand-built channels.

as_of = 2024-06-30, time zone UTC, lookback 180 days: the lookback starts
2024-01-03 and the data end at 2024-07-01 00:00. recent_weeks = baseline_weeks = 2:
baseline Mondays 06-03 and 06-10, recent Mondays 06-17 and 06-24.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from sqlalchemy import Engine

from chanperf.analysis.context import AnalysisConfig, AnalysisContext
from chanperf.analysis.detectors.alignment import detect_misalignments, margin_test
from chanperf.analysis.detectors.policy import (
    covered_kits,
    detect_excessive_exceptions,
    detect_policy_gaps,
)
from chanperf.analysis.findings import ExcessiveExceptions, Misalignment, UncoveredActivity
from chanperf.core.settings import REPO_ROOT
from chanperf.core.stats import compare_proportions
from chanperf.models.source import (
    ChannelAccount,
    ChannelOnboarding,
    ChannelOrder,
    ChannelPolicyException,
    ChannelReactivation,
)
from chanperf.policies.load import load_policies

IN_LOOKBACK = datetime(2024, 3, 1, 12)
BEFORE_LOOKBACK = datetime(2023, 12, 1, 12)


def make_ctx(overrides: dict[str, Any] | None = None) -> AnalysisContext:
    policies = load_policies(REPO_ROOT / "policies").with_params(overrides or {})
    config = AnalysisConfig(recent_weeks=2, baseline_weeks=2)
    return AnalysisContext(1, date(2024, 6, 30), policies, config, "UTC")


def account(account_id: int, region: str = "A", segment: str = "S") -> dict[str, Any]:
    return {
        "account_id": account_id,
        "org_id": 1,
        "region": region,
        "segment": segment,
        "created_at": datetime(2023, 1, 1),
        "state": "ACTIVE",
    }


def order(
    account_id: int, sku: str, revenue: float, cost: float, at: datetime = IN_LOOKBACK
) -> dict[str, Any]:
    return {
        "org_id": 1,
        "account_id": account_id,
        "ordered_at": at,
        "sku": sku,
        "quantity": 1,
        "revenue": revenue,
        "cost": cost,
    }


def insert(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(table.__table__.insert(), rows)


# --- excessive exceptions ------------------------------------------------------------


def exception(
    key: str, sku: str | None, decision: str, account_id: int | None = 1, at: datetime = IN_LOOKBACK
) -> dict[str, Any]:
    return {
        "org_id": 1,
        "account_id": account_id,
        "policy_key": key,
        "sku": sku,
        "requested_at": at,
        "decision": decision,
    }


def test_exception_rate_against_max_exception_rate(engine: Engine) -> None:
    insert(engine, ChannelAccount, [account(i) for i in range(1, 5)])
    # 40 lines of P1 in the lookback over accounts 1-4, one more before it (not counted).
    lines = [order(1 + i % 4, "P1", 100, 70) for i in range(40)] + [
        order(1, "P1", 100, 70, BEFORE_LOOKBACK)
    ]
    insert(engine, ChannelOrder, lines)
    insert(
        engine,
        ChannelPolicyException,
        # P1: 6 exceptions (4 granted, 1 denied, 1 pending) -> 6 / 40 = 0.15 vs 0.05.
        [exception("pricing.min_price", "P1", d) for d in ("GRANTED",) * 4 + ("DENIED", "PENDING")]
        # Not about a SKU: 2 exceptions over the 4 accounts with orders -> 0.5.
        + [exception("pricing.payment_terms", None, "GRANTED", a) for a in (1, 2)]
        # P9 has no order line: no rate. Before the lookback: not counted. Other org: not seen.
        + [
            exception("pricing.min_price", "P9", "GRANTED"),
            exception("pricing.min_price", "P1", "GRANTED", 1, BEFORE_LOOKBACK),
        ]
        + [{**exception("pricing.min_price", "P1", "GRANTED"), "org_id": 2}],
    )
    with engine.connect() as conn:
        found = detect_excessive_exceptions(conn, make_ctx())
    assert all(isinstance(f, ExcessiveExceptions) for f in found)
    by_key = {(f.policy_key, f.sku): f for f in found}
    assert set(by_key) == {("pricing.min_price", "P1"), ("pricing.payment_terms", None)}

    p1 = by_key[("pricing.min_price", "P1")]
    assert (p1.exceptions, p1.n, p1.n_b) == (6, 40, 40)
    assert p1.exception_rate == pytest.approx(0.15) and p1.rate_b == pytest.approx(0.15)
    assert (
        p1.max_rate == 0.05
        and p1.effect == pytest.approx(0.10)
        and p1.relative_effect == pytest.approx(2.0)
    )
    assert p1.p_value == pytest.approx(sps.binomtest(6, 40, 0.05, alternative="greater").pvalue)
    assert p1.granted_share == pytest.approx(0.8)  # 4 of the 5 decided
    assert (p1.policy, p1.parameter, p1.policy_value) == ("pricing", "max_exception_rate", 0.05)
    assert p1.filters == {"policy_key": "pricing.min_price", "sku": "P1"}
    assert p1.extra["pending"] == 1 and p1.extra["denominator"] == "order_lines"
    assert p1.ci_low is not None and p1.ci_low < p1.effect < (p1.ci_high or 0)

    terms = by_key[("pricing.payment_terms", None)]
    assert (terms.exceptions, terms.n, terms.granted_share) == (2, 4, 1.0)
    assert terms.exception_rate == pytest.approx(0.5)
    assert terms.p_value == pytest.approx(sps.binomtest(2, 4, 0.05, alternative="greater").pvalue)
    assert terms.extra["denominator"] == "accounts_with_orders"


# --- policy gaps ---------------------------------------------------------------------

GAP_POLICY = {"onboarding.default_kit": "K1", "onboarding.regions": {"RX": {"default_kit": "K2"}}}


def onboarding(
    account_id: int, kit: str, status: str, took_days: float | None, start: datetime = IN_LOOKBACK
) -> dict[str, Any]:
    done = start + timedelta(days=took_days) if took_days is not None else None
    return {
        "org_id": 1,
        "account_id": account_id,
        "kit": kit,
        "started_at": start,
        "status": status,
        "completed_at": done if status == "COMPLETED" else None,
        "failed_at": done if status == "FAILED" else None,
    }


def reactivation(
    strategy: str, status: str, resolved: datetime | None = IN_LOOKBACK
) -> dict[str, Any]:
    return {
        "org_id": 1,
        "account_id": 1,
        "strategy": strategy,
        "started_at": (resolved or IN_LOOKBACK) - timedelta(days=10),
        "status": status,
        "resolved_at": resolved if status != "PENDING" else None,
    }


def test_uncovered_kits_and_strategies_against_covered_ones(engine: Engine) -> None:
    young = datetime(2024, 6, 15)  # younger than the 30-day window at the as-of: censored
    insert(
        engine,
        ChannelOnboarding,
        # K1 (the default): 6 activated in 10 days, 4 failed.
        [onboarding(1, "K1", "COMPLETED", 10) for _ in range(6)]
        + [onboarding(1, "K1", "FAILED", 20) for _ in range(4)]
        # K2 (RX's override): 4 in 10 days, 1 completed after 40 days (not in the window), 5 in progress.
        + [onboarding(1, "K2", "COMPLETED", 10) for _ in range(4)]
        + [onboarding(1, "K2", "COMPLETED", 40)]
        + [onboarding(1, "K2", "IN_PROGRESS", None) for _ in range(5)]
        # K3 (no policy names it): 7 in 5 days, 1 failed; 3 young ones censored.
        + [onboarding(1, "K3", "COMPLETED", 5) for _ in range(7)]
        + [onboarding(1, "K3", "FAILED", 5)]
        + [onboarding(1, "K3", "COMPLETED", 2, young) for _ in range(3)]
        # K4: only young onboardings, so nothing to compare.
        + [onboarding(1, "K4", "COMPLETED", 2, young)],
    )
    insert(
        engine,
        ChannelReactivation,
        # Allowed: CALL 3/10 won, VISIT 4/10 -> covered 7/20. Not allowed: SMS 5/6.
        [reactivation("CALL", "WON") for _ in range(3)]
        + [reactivation("CALL", "LOST") for _ in range(7)]
        + [reactivation("VISIT", "WON") for _ in range(4)]
        + [reactivation("VISIT", "LOST") for _ in range(6)]
        + [reactivation("SMS", "WON") for _ in range(5)]
        + [reactivation("SMS", "LOST")]
        # Pending and resolved before the lookback: not in any rate.
        + [reactivation("SMS", "PENDING", None), reactivation("SMS", "LOST", BEFORE_LOOKBACK)],
    )
    ctx = make_ctx(GAP_POLICY)
    assert covered_kits(ctx) == {"K1", "K2"}
    with engine.connect() as conn:
        found = detect_policy_gaps(conn, ctx)
    assert all(isinstance(f, UncoveredActivity) for f in found)
    assert [(f.dimension, f.value) for f in found] == [("kit", "K3"), ("strategy", "SMS")]

    kit = found[0]
    # Covered: (6 + 4) / (10 + 10); K3: 7 / 8.
    expected = compare_proportions(7, 8, 10, 20)
    assert (kit.n_a, kit.n_b, kit.rate_a, kit.rate_b) == (20, 8, 0.5, 0.875)
    assert kit.effect == pytest.approx(0.375) and kit.relative_effect == pytest.approx(0.75)
    assert kit.p_value == pytest.approx(expected.p_value)
    assert (kit.ci_low, kit.ci_high) == (
        pytest.approx(expected.ci_low),
        pytest.approx(expected.ci_high),
    )
    assert (kit.metric, kit.policy, kit.parameter, kit.policy_value) == (
        "activation_rate",
        "onboarding",
        "default_kit",
        "K1,K2",
    )

    sms = found[1]
    assert (sms.n_a, sms.n_b, sms.rate_a, sms.rate_b) == (20, 6, 0.35, pytest.approx(5 / 6))
    assert sms.p_value == pytest.approx(compare_proportions(5, 6, 7, 20).p_value)
    assert (sms.metric, sms.policy, sms.parameter) == (
        "win_rate",
        "reactivation",
        "allowed_strategies",
    )
    assert sms.policy_value == "CALL,DISCOUNT,VISIT"


# --- misalignments -------------------------------------------------------------------


def test_margin_per_region_and_segment_against_min_margin(engine: Engine) -> None:
    # Region A: accounts (revenue, cost) (100, 80) in two lines, (200, 150), (100, 60): margin 110/400.
    # Region B: (100, 50), (300, 150): margin 200/400. Region C: (100, 90), (100, 85), (200, 170): 55/400.
    # Every account is in segment S: margin (110 + 200 + 55) / 1200.
    regions = {1: "A", 2: "A", 3: "A", 4: "B", 5: "B", 6: "C", 7: "C", 8: "C"}
    insert(engine, ChannelAccount, [account(i, r) for i, r in regions.items()])
    money = {
        1: (100, 80),
        2: (200, 150),
        3: (100, 60),
        4: (100, 50),
        5: (300, 150),
        6: (100, 90),
        7: (100, 85),
        8: (200, 170),
    }
    lines = [order(1, "P1", 50, 40), order(1, "P1", 50, 40)] + [
        order(i, "P1", r, c) for i, (r, c) in money.items() if i != 1
    ]
    insert(engine, ChannelOrder, [*lines, order(4, "P1", 1000, 0, BEFORE_LOOKBACK)])
    with engine.connect() as conn:
        found = [f for f in detect_misalignments(conn, make_ctx()) if f.signal == "margin"]
    assert all(isinstance(f, Misalignment) for f in found)
    by_cut = {(f.segment, f.region): f for f in found}
    assert set(by_cut) == {("S", None), (None, "A"), (None, "B"), (None, "C")}

    c = by_cut[(None, "C")]
    # Residuals vs 0.25: d = (10 − 25, 15 − 25, 30 − 50) = (−15, −10, −20): mean −15, sd 5,
    # t = −15 / (5 / √3) = −5.196 with 2 df, one-sided p = 0.0176.
    assert c.margin == pytest.approx(55 / 400) and c.min_margin == 0.25
    assert c.effect == pytest.approx(55 / 400 - 0.25) and c.relative_effect == pytest.approx(
        (55 / 400 - 0.25) / 0.25
    )
    assert c.p_value == pytest.approx(sps.t.cdf(-15 / (5 / math.sqrt(3)), 2))
    assert c.p_value == pytest.approx(0.0176, abs=1e-4)
    # Delta method: e = (−3.75, 1.25, 2.5), Σe² = 21.875, se = √(3/2 × 21.875) / 400.
    half = sps.t.ppf(0.975, 2) * math.sqrt(1.5 * 21.875) / 400
    assert (c.ci_low, c.ci_high) == (
        pytest.approx(55 / 400 - half - 0.25),
        pytest.approx(55 / 400 + half - 0.25),
    )
    assert (c.revenue, c.revenue_share, c.n) == (400.0, pytest.approx(1 / 3), 3)
    assert (c.policy, c.parameter, c.policy_value) == ("strategy", "min_margin", 0.25)
    assert c.extra["cost"] == 345.0

    a = by_cut[(None, "A")]
    # d = (−5, 0, 15): mean above 0, the margin 0.275 is not below the minimum.
    assert a.margin == pytest.approx(0.275) and a.extra["order_lines"] == 4
    assert a.p_value == pytest.approx(sps.ttest_1samp([-5, 0, 15], 0, alternative="less").pvalue)
    assert by_cut[("S", None)].margin == pytest.approx(365 / 1200)
    assert by_cut[("S", None)].revenue_share == pytest.approx(1.0)


def test_margin_test_when_every_account_is_alike() -> None:
    # No spread: the sign of the residual decides.
    out = margin_test(np.array([100.0, 100.0]), np.array([90.0, 90.0]), 0.25)
    assert out["margin"] == pytest.approx(0.1) and out["p_value"] == 0.0


def test_priority_share_of_new_activations(engine: Engine) -> None:
    # Accounts 1-10 in the priority region P, 11-30 elsewhere (Q).
    insert(engine, ChannelAccount, [account(i, "P" if i <= 10 else "Q") for i in range(1, 31)])
    baseline_day, recent_day = datetime(2024, 6, 5, 12), datetime(2024, 6, 19, 12)
    rows = []
    # Baseline weeks: 10 activations, 5 from P. Recent weeks: 10 activations, 1 from P.
    for i in range(10):
        rows.append(
            onboarding(
                1 + i if i < 5 else 11 + i, "K1", "COMPLETED", 1, baseline_day - timedelta(days=1)
            )
        )
        rows.append(
            onboarding(
                10 if i < 1 else 20 + i, "K1", "COMPLETED", 1, recent_day - timedelta(days=1)
            )
        )
    # Completed outside both periods, and failed: not activations.
    rows += [
        onboarding(2, "K1", "COMPLETED", 1, datetime(2024, 5, 1)),
        onboarding(3, "K1", "FAILED", 1, recent_day),
    ]
    insert(engine, ChannelOnboarding, rows)
    ctx = make_ctx({"strategy.priority_regions": ["P"], "strategy.priority_segments": ["S"]})
    with engine.connect() as conn:
        found = {f.signal: f for f in detect_misalignments(conn, ctx) if f.signal != "margin"}
    assert set(found) == {"priority_share", "priority_share_vs_min", "priority_segment_share"}

    share = found["priority_share"]
    assert (share.n_a, share.n_b, share.rate_a, share.rate_b) == (10, 10, 0.5, 0.1)
    assert share.region == "P" and share.priority_share == pytest.approx(0.1)
    assert share.min_priority_share == 0.2 and share.policy_value == 0.2
    assert share.p_value == pytest.approx(compare_proportions(1, 10, 5, 10).p_value)
    # P(X <= 1 | 10, 0.2) = 0.8^10 + 10 × 0.2 × 0.8^9 = 0.3758.
    assert share.extra["p_value_vs_min"] == pytest.approx(0.8**10 + 2 * 0.8**9)
    assert (share.period_start, share.period_end) == (date(2024, 6, 3), date(2024, 6, 30))

    vs_min = found["priority_share_vs_min"]
    assert vs_min.p_value == pytest.approx(0.8**10 + 2 * 0.8**9)
    assert vs_min.effect == pytest.approx(-0.1) and vs_min.parameter == "min_priority_share"

    # Every account is in segment S: 10 / 10 on both sides, nothing changed.
    seg = found["priority_segment_share"]
    assert (seg.rate_a, seg.rate_b, seg.p_value, seg.segment) == (1.0, 1.0, 1.0, "S")


def test_nothing_to_compare_gives_no_finding(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = make_ctx()
        assert detect_excessive_exceptions(conn, ctx) == []
        assert detect_policy_gaps(conn, ctx) == []
        assert detect_misalignments(conn, ctx) == []
