"""Reactivation detectors on a hand-built channel whose counts are worked out below.

as_of 2026-06-30 in America/Sao_Paulo (UTC-3): the data end at 2026-07-01 03:00
UTC; the 180-day lookback starts 2026-01-02 03:00 UTC. Win rates count attempts
resolved in the lookback. With a 90-day reincidence window, reincidence counts the
wins whose window closed in the lookback: resolved in [2025-10-04 03:00,
2026-04-02 03:00]. Each attempt has its own account; R0 = 2026-02-01 12:00,
attempts start 10 days before they resolve.
Policy: cap 10 %, tolerance 0.05, max reincidence 0.25; bucket edges [5, 8].

 code  seg reg strategy disc  status resolved  relapse transition        relapsed
 L1    S1  R1  A        0     WON    R0        STALLED +30 d             yes
 L2    S1  R1  A        5     WON    R0        STALLED +91 d (too late)  no
 L3    S1  R1  A        3     WON    R0        STALLED -10 d (before)    no
 L4    S1  R1  A        2     WON    R0        AT_RISK +10 d (not one)   no
 L5-10 S2  R2  B        0     WON    R0        -                         no
 M1-4  S1  R2  B        6,7,8,8 WON  R0        STALLED +20 d             yes
 H1    S1  R1  A        9     WON    R0        CHURNED +90 d (edge)      yes
 H2    S1  R1  A        12    WON    R0        STALLED +1 d              yes
 H3    S2  R2  A        10    WON    R0        STALLED +60 d             yes
 H4    S2  R2  A        8.01  WON    R0        -                         no
 Y1    S1  R1  A        15    WON    05-01     STALLED +5 d              censored
 E1    S2  R2  B        0     WON    2025-11-01 STALLED +30 d (12-01)    yes (reincidence only)
 X1    S1  R1  A        0     LOST   R0
 X2    S2  R2  B        0     LOST   R0
 P1    S1  R1  A        20    PENDING, started 06-20
 C1    S1  R1  A        10    PENDING, started 06-10
 C2    S1  R1  A        15    PENDING, started 01-02 02:59 UTC (before the lookback)
 C3    S1  R1  A        10.5  PENDING, started 01-02 03:00 UTC (first instant)
 O1    S1  R1  A        20    WON    2025-09-15 (before the reincidence cohort)
 G1    org 2, WON at R0 with a relapse (other org)

Matured wins: <=5: L1-10, E1 (11, relapsed 2); (5,8]: M1-4 (4, relapsed 4); >8: H1-4 (4, relapsed 3).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from scipy import stats as sps
from sqlalchemy import Engine, insert

from chanperf.analysis.context import AnalysisConfig, AnalysisContext, load_analysis_config
from chanperf.analysis.detectors.cohorts import DAYS_PER_MONTH
from chanperf.analysis.detectors.reactivation import (
    analyze_strategy_effectiveness,
    detect_compliance_drift,
    detect_discount_patterns,
    detect_reincidence_patterns,
)
from chanperf.analysis.findings import (
    DiscountComplianceDrift,
    DiscountReincidence,
    ReincidenceAboveMax,
    StrategyEffectiveness,
)
from chanperf.core.settings import REPO_ROOT
from chanperf.core.stats import compare_proportions
from chanperf.models.source import ChannelAccount, ChannelReactivation, ChannelStateTransition
from chanperf.policies.load import load_policies
from tests.demo_data import PLANTED_ALPHA, demo_context, generate_demo_db, planted_truth

AS_OF = date(2026, 6, 30)
R0 = datetime(2026, 2, 1, 12, 0)


def _context() -> AnalysisContext:
    policies = load_policies(REPO_ROOT / "policies").with_params(
        {
            "reactivation.max_discount_pct": 10,
            "reactivation.discount_tolerance_rate": 0.05,
            "reactivation.max_reincidence_rate": 0.25,
            "reactivation.reincidence_window_days": 90,
        }
    )
    config = AnalysisConfig(lookback_days=180, discount_bucket_edges_pct=(5.0, 8.0))
    return AnalysisContext(org_id=1, as_of=AS_OF, policies=policies, config=config)


# (seg, region, strategy, discount, cost, status, resolved, started, transitions, org)
Spec = tuple[
    str, str, str, float, float, str, datetime | None, datetime | None, list[tuple[float, str]], int
]


def _spec(seg: str, region: str, strategy: str, discount: float, status: str = "WON",
          resolved: datetime | None = R0, started: datetime | None = None,
          transitions: list[tuple[float, str]] | None = None, cost: float = 100.0,
          org: int = 1) -> Spec:  # fmt: skip
    return (
        seg,
        region,
        strategy,
        discount,
        cost,
        status,
        resolved,
        started,
        transitions or [],
        org,
    )


SPECS: list[Spec] = [
    _spec("S1", "R1", "A", 0, transitions=[(30, "STALLED")]),
    _spec("S1", "R1", "A", 5, transitions=[(91, "STALLED")]),
    _spec("S1", "R1", "A", 3, transitions=[(-10, "STALLED")]),
    _spec("S1", "R1", "A", 2, transitions=[(10, "AT_RISK")]),
    *[_spec("S2", "R2", "B", 0) for _ in range(6)],
    *[_spec("S1", "R2", "B", d, transitions=[(20, "STALLED")]) for d in (6, 7, 8, 8)],
    _spec("S1", "R1", "A", 9, cost=200, transitions=[(90, "CHURNED")]),
    _spec("S1", "R1", "A", 12, cost=200, transitions=[(1, "STALLED")]),
    _spec("S2", "R2", "A", 10, cost=200, transitions=[(60, "STALLED")]),
    _spec("S2", "R2", "A", 8.01, cost=200),
    _spec("S1", "R1", "A", 15, resolved=datetime(2026, 5, 1, 12), transitions=[(5, "STALLED")]),
    _spec("S2", "R2", "B", 0, resolved=datetime(2025, 11, 1, 12), transitions=[(30, "STALLED")]),
    _spec("S1", "R1", "A", 0, status="LOST"),
    _spec("S2", "R2", "B", 0, status="LOST"),
    _spec("S1", "R1", "A", 20, status="PENDING", resolved=None, started=datetime(2026, 6, 20)),
    _spec("S1", "R1", "A", 10, status="PENDING", resolved=None, started=datetime(2026, 6, 10)),
    _spec("S1", "R1", "A", 15, "PENDING", None, datetime(2026, 1, 2, 2, 59)),
    _spec("S1", "R1", "A", 10.5, "PENDING", None, datetime(2026, 1, 2, 3, 0)),
    _spec("S1", "R1", "A", 20, resolved=datetime(2025, 9, 15)),
    _spec("S1", "R1", "A", 0, transitions=[(10, "STALLED")], org=2),
]


@pytest.fixture
def channel(engine: Engine) -> Engine:
    accounts, attempts, transitions = [], [], []
    for account, (
        seg,
        region,
        strategy,
        discount,
        cost,
        status,
        resolved,
        started,
        moves,
        org,
    ) in enumerate(SPECS, start=1):
        accounts.append(
            {"org_id": org, "account_id": account, "region": region, "segment": seg,
             "created_at": datetime(2025, 1, 1), "state": "ACTIVE"}
        )  # fmt: skip
        start = started or (resolved - timedelta(days=10) if resolved else None)
        attempts.append(
            {"org_id": org, "account_id": account, "strategy": strategy, "discount_pct": discount,
             "cost": cost, "started_at": start, "status": status, "resolved_at": resolved}
        )  # fmt: skip
        for offset, state in moves:
            assert resolved is not None
            transitions.append(
                {"org_id": org, "account_id": account, "from_state": "ACTIVE", "to_state": state,
                 "transitioned_at": resolved + timedelta(days=offset)}
            )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(ChannelAccount.__table__), accounts)
        conn.execute(insert(ChannelReactivation.__table__), attempts)
        conn.execute(insert(ChannelStateTransition.__table__), transitions)
    return engine


def _scan_context(
    edges: tuple[float, ...], margin: float, cap: float = 10, min_group: int = 4
) -> AnalysisContext:
    """The hand-built channel is small: splits need 4 wins a side instead of 30."""
    config = AnalysisConfig(
        lookback_days=180,
        discount_bucket_edges_pct=edges,
        split_min_group_size=min_group,
        split_prior_margin=margin,
    )
    policies = _context().policies.with_params({"reactivation.max_discount_pct": cap})
    return AnalysisContext(org_id=1, as_of=AS_OF, policies=policies, config=config)


# Matured wins per discount level (step 1; 8.01 is level 9), (wins, relapsed):
# 0: L1, L5-10, E1 (8, 2)  2: L4 (1, 0)  3: L3 (1, 0)  5: L2 (1, 0)  6: M1 (1, 1)  7: M2 (1, 1)
# 8: M3, M4 (2, 2)  9: H1, H4 (2, 1)  10: H3 (1, 1)  12: H2 (1, 1).  19 wins, 9 relapsed.
# Splits with >= 4 wins a side, pooled z of rate(> t) - rate(<= t), pooled 9/19:
#   t=0 1.665  t=2 2.083  t=3 2.518  t=5 2.988  t=6 2.557  t=7 2.133  t=8 1.246
# e.g. t=5: (7/8 - 2/11) / sqrt(9/19 * 10/19 * (1/11 + 1/8)) = 0.6932 / 0.2320.


def test_discount_threshold_is_found_where_the_config_does_not_ask(channel: Engine) -> None:
    with channel.connect() as conn:
        findings = detect_discount_patterns(conn, _scan_context((3.0, 8.0), margin=0.25))
    (f,) = findings
    assert isinstance(f, DiscountReincidence)
    # The best split is 5 (2.988); the configured 3 (2.518) and 8 (1.246) are more than
    # 0.25 below it. Inside <= 5 no split has 4 wins a side: the reference is <= 5.
    assert (f.high_threshold_pct, f.low_threshold_pct) == (5.0, 5.0)
    # a = <= 5: L1-L10, E1 (11, relapsed L1, E1); b = > 5: M1-4, H1-4 (8, all but H4).
    assert (f.n_a, f.n_b, f.n) == (11, 8, 19)
    assert f.rate_a == pytest.approx(2 / 11) and f.rate_b == pytest.approx(7 / 8)
    assert f.effect == pytest.approx(7 / 8 - 2 / 11)
    ref = compare_proportions(7, 8, 2, 11)
    assert (f.ci_low, f.ci_high) == (pytest.approx(ref.ci_low), pytest.approx(ref.ci_high))
    assert f.extra["p_value_pair"] == pytest.approx(ref.p_value)
    assert f.extra["scan_statistic"] == pytest.approx(2.988, abs=1e-3)
    assert f.extra["scan_candidates"] == 7 and f.extra["n_between"] == 0
    # The p-value pays for the 7 splits tried: above the split's own one-sided p.
    assert f.p_value is not None and f.p_value > f.extra["p_value_split_one_sided"]
    assert f.extra["p_value_split_one_sided"] == pytest.approx(
        sps.norm.sf(0.6932 / 0.2320), rel=1e-3
    )
    assert f.suggested_max_discount_pct == 5.0
    assert (f.policy, f.parameter, f.policy_value, f.current_max_discount_pct) == (
        "reactivation", "max_discount_pct", 10.0, 10.0
    )  # fmt: skip
    # The configured buckets are quoted too: <= 3 = 10 wins, 2 relapsed; (3, 8] = L2, M1-4.
    assert f.extra["n_le_3"] == 10 and f.extra["reincidence_le_3"] == pytest.approx(0.2)
    assert f.extra["n_3_to_8"] == 5 and f.extra["reincidence_3_to_8"] == pytest.approx(0.8)
    assert f.filters == {"discount_gt": "5", "discount_lte": "5"}
    assert (f.extra["wins_resolved_from"], f.extra["wins_resolved_to"]) == (
        "2025-10-04",
        "2026-04-01",
    )
    # 8 high wins per 180 days x extra relapse rate x mean cost of M1-4 (100) and H1-4 (200).
    months = 180 / DAYS_PER_MONTH
    assert f.cost_difference == pytest.approx(round(8 / months * (7 / 8 - 2 / 11) * 150, 2))
    assert f.p_value_adj is None


def test_a_configured_edge_the_data_barely_tell_apart_is_kept(channel: Engine) -> None:
    with channel.connect() as conn:
        (f,) = detect_discount_patterns(conn, _scan_context((3.0, 8.0), margin=0.5))
    # 3 (2.518) is within 0.5 of the best split 5 (2.988): the question asked in advance.
    assert isinstance(f, DiscountReincidence)
    assert (f.high_threshold_pct, f.low_threshold_pct) == (3.0, 3.0)
    assert (f.n_a, f.n_b) == (10, 9) and f.rate_b == pytest.approx(7 / 9)
    assert f.extra["scan_max_statistic"] == pytest.approx(2.988, abs=1e-3)
    assert f.extra["scan_statistic"] == pytest.approx(2.518, abs=1e-3)


def test_a_band_relapsing_more_below_the_threshold_is_left_out(channel: Engine) -> None:
    with channel.connect() as conn:
        (f,) = detect_discount_patterns(conn, _scan_context((8.0,), margin=2.0))
        (capped,) = detect_discount_patterns(conn, _scan_context((8.0,), margin=2.0, cap=4))
    # The edge 8 (1.246) is within 2 of the best (2.988): threshold 8. Inside <= 8 (15 wins,
    # 6 relapsed) splits with 4 a side: 0 1.267, 2 1.721, 3 2.236, 5 2.861 (2/11 vs 4/4);
    # the band (5, 8] relapses 4 of 4, far more than 0.05 above 2/11: reference <= 5.
    assert isinstance(f, DiscountReincidence)
    assert (f.high_threshold_pct, f.low_threshold_pct) == (8.0, 5.0)
    # a = <= 5 (11, relapsed 2); b = > 8: H1 (CHURNED at exactly +90 d), H2, H3 of H1-4.
    assert (f.n_a, f.n_b, f.n) == (11, 4, 15)
    assert f.rate_a == pytest.approx(2 / 11) and f.rate_b == pytest.approx(0.75)
    ref = compare_proportions(3, 4, 2, 11)
    assert f.extra["p_value_pair"] == pytest.approx(ref.p_value)
    assert (f.ci_low, f.ci_high) == (pytest.approx(ref.ci_low), pytest.approx(ref.ci_high))
    assert f.extra["n_between"] == 4 and f.extra["reincidence_between"] == 1.0
    assert f.extra["reference_scan_level"] == 5.0
    assert f.extra["reference_scan_effect"] == pytest.approx(1 - 2 / 11)
    assert f.suggested_max_discount_pct == 5.0
    months = 180 / DAYS_PER_MONTH
    assert f.cost_difference == pytest.approx(round(4 / months * (0.75 - 2 / 11) * 200, 2))
    # Never above the policy's cap.
    assert isinstance(capped, DiscountReincidence)
    assert capped.suggested_max_discount_pct == 4.0 and capped.current_max_discount_pct == 4.0


def test_too_few_wins_for_any_split_is_no_finding(channel: Engine) -> None:
    # 19 matured wins cannot give 30 on each side of any split.
    with channel.connect() as conn:
        assert detect_discount_patterns(conn, _context()) == []


def _wins_channel(engine: Engine, rows: list[tuple[float, bool]]) -> None:
    """Matured wins (discount, relapsed), each its own account, resolved at R0."""
    accounts, attempts, transitions = [], [], []
    for account, (discount, relapsed) in enumerate(rows, start=1):
        accounts.append(
            {"org_id": 1, "account_id": account, "region": "R1", "segment": "S1",
             "created_at": datetime(2025, 1, 1), "state": "ACTIVE"}
        )  # fmt: skip
        attempts.append(
            {"org_id": 1, "account_id": account, "strategy": "A", "discount_pct": discount,
             "cost": 100.0, "started_at": R0 - timedelta(days=10), "status": "WON",
             "resolved_at": R0}
        )  # fmt: skip
        if relapsed:
            transitions.append(
                {"org_id": 1, "account_id": account, "from_state": "ACTIVE",
                 "to_state": "STALLED", "transitioned_at": R0 + timedelta(days=20)}
            )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(ChannelAccount.__table__), accounts)
        conn.execute(insert(ChannelReactivation.__table__), attempts)
        conn.execute(insert(ChannelStateTransition.__table__), transitions)


def test_a_jump_at_6_is_found_with_edges_5_and_8(engine: Engine) -> None:
    # 600 wins: half without discount, half on whole percents 1-10 (30 each). At or below
    # 6 % 12 % relapse, above it 40 % (exact counts, no sampling).
    rows: list[tuple[float, bool]] = [(0.0, k < 36) for k in range(300)]
    for level in range(1, 11):
        relapsing = 12 if level > 6 else 4  # 12/30 = 0.40, 4/30 ~ 0.13
        rows += [(float(level), k < relapsing) for k in range(30)]
    _wins_channel(engine, rows)
    with engine.connect() as conn:
        (f,) = detect_discount_patterns(conn, _context_with_scan())
    assert isinstance(f, DiscountReincidence)
    assert f.high_threshold_pct == 6.0 and f.low_threshold_pct == 6.0
    # a = 300 + 6 x 30 = 480 wins, 36 + 24 relapsed; b = 4 x 30 = 120, 48 relapsed.
    assert (f.n_a, f.n_b) == (480, 120)
    assert f.rate_a == pytest.approx(60 / 480) and f.rate_b == pytest.approx(0.4)
    assert f.p_value is not None and f.p_value < 1e-6
    assert f.suggested_max_discount_pct == 6.0


def test_no_discount_below_the_threshold_does_not_make_the_cap_zero(engine: Engine) -> None:
    # 300 wins without discount relapse 0.10; 1-8 % (30 each) 0.20; 9-10 % (30 each) 0.60.
    rows: list[tuple[float, bool]] = [(0.0, k < 30) for k in range(300)]
    for level in range(1, 11):
        relapsing = 18 if level > 8 else 6
        rows += [(float(level), k < relapsing) for k in range(30)]
    _wins_channel(engine, rows)
    with engine.connect() as conn:
        (f,) = detect_discount_patterns(conn, _context_with_scan())
    assert isinstance(f, DiscountReincidence)
    # Inside <= 8 the best split is 0 (0.10 vs 0.20: z 3.29; the edge 5 only 1.64), a
    # comparison of no discount with any: the reference level stays the threshold 8.
    assert f.extra["reference_scan_level"] == 0.0
    assert (f.high_threshold_pct, f.low_threshold_pct) == (8.0, 8.0)
    assert (f.n_a, f.n_b, f.rate_b) == (540, 60, pytest.approx(0.6))
    assert f.rate_a == pytest.approx((30 + 8 * 6) / 540)
    assert f.suggested_max_discount_pct == 8.0


def _context_with_scan() -> AnalysisContext:
    """The shipped analysis config (edges 5 and 8, 30 wins a side) with the test's policies."""
    shipped = load_analysis_config(REPO_ROOT / "rules")
    assert shipped.discount_bucket_edges_pct == (5.0, 8.0)
    return AnalysisContext(org_id=1, as_of=AS_OF, policies=_context().policies, config=shipped)


def test_strategy_effectiveness_per_segment(channel: Engine) -> None:
    with channel.connect() as conn:
        findings = analyze_strategy_effectiveness(conn, _context())
    by_segment = {f.segment: f for f in findings if isinstance(f, StrategyEffectiveness)}
    assert len(by_segment) == len(findings)
    assert set(by_segment) == {"S1", "S2"}
    # S1 resolved: A = L1-4, H1, H2, Y1, X1 (8, won 7) - the most used; B = M1-4 (4, won 4).
    s1 = by_segment["S1"]
    assert (s1.current_strategy, s1.better_strategy) == ("A", "B")
    assert (s1.n_a, s1.n_b) == (8, 4)
    assert s1.rate_a == pytest.approx(7 / 8) and s1.rate_b == pytest.approx(1.0)
    assert s1.effect == pytest.approx(1 / 8)
    # Reincidence of matured wins: A 3 of 6 (L1, H1, H2; Y1 censored), B 4 of 4.
    assert s1.reincidence_a == pytest.approx(0.5) and s1.reincidence_b == pytest.approx(1.0)
    assert s1.extra["matured_a"] == 6 and s1.extra["relapsed_b"] == 4
    assert s1.filters == {"segment": "S1"}
    # S2 resolved in the lookback: B = L5-10, X2 (7, won 6) - the most used; A = H3, H4
    # (2, won 2). Reincidence: B = L5-10 and E1 (resolved before the lookback) 1 of 7; A 1 of 2.
    s2 = by_segment["S2"]
    assert (s2.current_strategy, s2.better_strategy, s2.n_a, s2.n_b) == ("B", "A", 7, 2)
    assert s2.rate_a == pytest.approx(6 / 7)
    assert s2.reincidence_a == pytest.approx(1 / 7) and s2.reincidence_b == pytest.approx(0.5)
    assert s2.p_value == pytest.approx(compare_proportions(2, 2, 6, 7).p_value)


def test_reincidence_against_policy_max_per_segment_and_region(channel: Engine) -> None:
    with channel.connect() as conn:
        findings = detect_reincidence_patterns(conn, _context())
    assert all(isinstance(f, ReincidenceAboveMax) for f in findings)
    got = {
        (f.dimension, f.filters[f.dimension]): f
        for f in findings
        if isinstance(f, ReincidenceAboveMax)
    }
    # Matured wins: S1 = L1-4, M1-4, H1, H2 (10, relapsed 7); S2 = L5-10, H3, H4, E1 (9,
    # relapsed 2); R1 = L1-4, H1, H2 (6, relapsed 3); R2 = L5-10, M1-4, H3, H4, E1 (13, relapsed 6).
    expected = {("segment", "S1"): (7, 10), ("segment", "S2"): (2, 9),
                ("region", "R1"): (3, 6), ("region", "R2"): (6, 13)}  # fmt: skip
    assert set(got) == set(expected)
    for key, (x, n) in expected.items():
        f = got[key]
        assert (f.n_b, f.rate_b) == (n, pytest.approx(x / n)), key
        assert f.effect == pytest.approx(x / n - 0.25)
        assert f.p_value == pytest.approx(sps.binomtest(x, n, 0.25, alternative="greater").pvalue)
        assert (f.parameter, f.policy_value, f.max_rate) == ("max_reincidence_rate", 0.25, 0.25)
        assert f.group == key[1]
    assert got[("segment", "S1")].segment == "S1" and got[("segment", "S1")].region is None
    assert got[("region", "R2")].region == "R2" and got[("region", "R2")].segment is None


def test_compliance_drift_counts_attempts_started_in_the_lookback(channel: Engine) -> None:
    with channel.connect() as conn:
        findings = detect_compliance_drift(conn, _context())
    (f,) = findings
    assert isinstance(f, DiscountComplianceDrift)
    # Started in [01-02 03:00, 07-01 03:00): L1-10, M1-4, H1-4, Y1, X1, X2, P1, C1, C3 = 24
    # (C2 a minute early; E1, O1 and G1 out). Over 10 %: H2 12, Y1 15, P1 20, C3 10.5 = 4
    # (H3 and C1 at exactly 10 are not over).
    assert (f.n, f.over_cap_count) == (24, 4)
    assert f.rate_b == pytest.approx(4 / 24) and f.effect == pytest.approx(4 / 24 - 0.05)
    assert f.p_value == pytest.approx(sps.binomtest(4, 24, 0.05, alternative="greater").pvalue)
    assert (f.tolerance, f.max_discount_pct, f.parameter) == (0.05, 10.0, "discount_tolerance_rate")
    assert f.extra["mean_discount_over_cap"] == pytest.approx((12 + 15 + 20 + 10.5) / 4)


def test_empty_channel_gives_no_findings(engine: Engine) -> None:
    ctx = _context()
    with engine.connect() as conn:
        assert detect_discount_patterns(conn, ctx) == []
        assert analyze_strategy_effectiveness(conn, ctx) == []
        assert detect_reincidence_patterns(conn, ctx) == []
        assert detect_compliance_drift(conn, ctx) == []


# --- The demo's planted scenario (chanperf/demo/scenarios/planted.yaml) -------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return generate_demo_db(tmp_path_factory.mktemp("planted"), "planted", 7)


@pytest.mark.slow
def test_planted_discount_relapse_is_found(planted: Engine) -> None:
    _, effect = planted_truth("detect_discount_patterns")
    with planted.connect() as conn:
        (f,) = detect_discount_patterns(conn, demo_context())
    assert isinstance(f, DiscountReincidence)
    assert (f.high_threshold_pct, f.low_threshold_pct) == (
        effect["high_threshold"],
        effect["low_threshold"],
    )
    assert f.rate_b == pytest.approx(effect["high_discount_reincidence"], abs=0.06)
    assert f.rate_a == pytest.approx(effect["low_discount_reincidence"], abs=0.05)
    assert f.p_value is not None and f.p_value < PLANTED_ALPHA
    # The (5, 8] bucket relapses 0.20 > 0.12 in the scenario: the cap goes to the low edge.
    assert f.suggested_max_discount_pct == effect["low_threshold"]
    assert f.current_max_discount_pct == 10.0
    assert f.cost_difference is not None and f.cost_difference > 0


@pytest.mark.slow
def test_planted_strategy_is_found(planted: Engine) -> None:
    affected, effect = planted_truth("analyze_strategy_effectiveness")
    with planted.connect() as conn:
        findings = analyze_strategy_effectiveness(conn, demo_context())
    (f,) = [
        f
        for f in findings
        if isinstance(f, StrategyEffectiveness)
        and f.segment == affected["segment"]
        and f.better_strategy == affected["strategy"]
    ]
    assert f.rate_b == pytest.approx(effect["visit_win_rate"], abs=0.08)
    assert f.rate_a == pytest.approx(effect["discount_win_rate"], abs=0.08)
    assert f.p_value is not None and f.p_value < PLANTED_ALPHA
    assert f.reincidence_a is not None and f.reincidence_b is not None
    assert f.reincidence_b <= f.reincidence_a
    # No other strategy beats its segment's most used one.
    others = [g for g in findings if g is not f and (g.effect or 0) > 0]
    assert all(g.p_value is not None and g.p_value > PLANTED_ALPHA for g in others)


@pytest.mark.slow
def test_planted_reincidence_is_found(planted: Engine) -> None:
    affected, effect = planted_truth("detect_reincidence_patterns")
    with planted.connect() as conn:
        findings = detect_reincidence_patterns(conn, demo_context())
    (f,) = [f for f in findings if f.segment == affected["segment"]]
    assert isinstance(f, ReincidenceAboveMax)
    assert f.rate_b == pytest.approx(effect["reincidence_rate"], abs=0.07)
    assert f.max_rate == effect["max_reincidence_rate"]
    assert f.p_value is not None and f.p_value < PLANTED_ALPHA


@pytest.mark.slow
def test_planted_cap_compliance_is_found(planted: Engine) -> None:
    _, effect = planted_truth("compliance_drift")
    with planted.connect() as conn:
        (f,) = detect_compliance_drift(conn, demo_context())
    assert isinstance(f, DiscountComplianceDrift)
    assert f.tolerance == effect["discount_tolerance_rate"]
    # The scenario states the share its planted effects should produce; the over-cap
    # share also depends on how many BRONZE wins use DISCOUNT, hence the wider margin.
    assert f.rate_b == pytest.approx(effect["over_cap_share"], abs=0.06)
    assert f.p_value is not None and f.p_value < PLANTED_ALPHA


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_null_scenario_has_no_strong_reactivation_signal(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    eng = generate_demo_db(tmp_path_factory.mktemp("null"), "null", seed)
    ctx = demo_context()
    with eng.connect() as conn:
        findings = [
            *detect_discount_patterns(conn, ctx),
            *analyze_strategy_effectiveness(conn, ctx),
            *detect_reincidence_patterns(conn, ctx),
            *detect_compliance_drift(conn, ctx),
        ]
    assert findings  # the detectors ran on real data
    strong = [f for f in findings if f.p_value is not None and f.p_value < PLANTED_ALPHA]
    assert strong == []
