"""Statistics checked against values worked out by hand (formulas in the comments)."""

from __future__ import annotations

import math

import pytest

from chanperf.core import stats

Z = 1.959963984540054


def wilson_by_formula(x: int, n: int) -> tuple[float, float]:
    """centre=(p+z²/2n)/(1+z²/n), half=z*sqrt(p(1-p)/n+z²/4n²)/(1+z²/n)."""
    p = x / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n * n)) / (1 + Z**2 / n)
    return centre - half, centre + half


def test_wilson_interval_by_hand():
    ci = stats.wilson(18, 40)
    low, high = wilson_by_formula(18, 40)
    assert (ci.low, ci.high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
    assert (round(ci.low, 4), round(ci.high, 4)) == (0.3071, 0.6017)


def test_two_proportions_z_test_and_newcombe_interval_by_hand():
    # the seed's kit example: 39/50 = 0.78 vs 18/40 = 0.45
    c = stats.compare_proportions(39, 50, 18, 40)
    assert (c.rate_a, c.rate_b) == (0.78, 0.45)
    assert c.diff == pytest.approx(0.33)
    # pooled 57/90; se=sqrt(.63333*.36667*(1/50+1/40))=0.102225; z=0.33/se=3.22817
    assert c.test == "z_test"
    assert c.p_value == pytest.approx(
        2 * (1 - 0.5 * (1 + math.erf(3.228166 / math.sqrt(2)))), rel=1e-4
    )
    # Newcombe: diff - sqrt((p1-l1)²+(u2-p2)²), diff + sqrt((u1-p1)²+(p2-l2)²), Wilson bounds
    l1, u1 = wilson_by_formula(39, 50)
    l2, u2 = wilson_by_formula(18, 40)
    assert c.ci_low == pytest.approx(0.33 - math.hypot(0.78 - l1, u2 - 0.45), abs=1e-9)
    assert c.ci_high == pytest.approx(0.33 + math.hypot(u1 - 0.78, 0.45 - l2), abs=1e-9)
    assert c.relative_effect == pytest.approx(0.78 / 0.45 - 1)


def test_small_samples_use_fisher_exact():
    # 3/4 vs 0/4: P(table as or more extreme) = 2 * C(4,3)C(4,0)/C(8,3) = 2*4/56 = 0.142857
    c = stats.compare_proportions(3, 4, 0, 4)
    assert c.test == "fisher_exact"
    assert c.p_value == pytest.approx(8 / 56)


def test_rate_against_target_is_exact_binomial():
    # P(X<=1 | n=10, p=0.5) = (1+10)/1024
    t = stats.compare_to_target(1, 10, 0.5, "less")
    assert t.p_value == pytest.approx(11 / 1024)
    assert t.rate == 0.1
    with pytest.raises(ValueError):
        stats.compare_to_target(1, 10, 0.5, "sideways")


def test_rank_test_reports_medians():
    r = stats.compare_ranks([1, 2, 3], [4, 5, 6, 7])
    assert (r.median_a, r.median_b) == (2.0, 5.5)
    # all 3 below all 4: U=0, exact two-sided p = 2/C(7,3) = 2/35
    assert r.statistic == 0 and r.p_value == pytest.approx(2 / 35)


def test_median_above_limit_sign_test():
    med, p = stats.median_above([25, 30, 31, 40, 10], 20)
    # 4 of 5 above: P(X>=4 | 5, .5) = 6/32
    assert med == 30 and p == pytest.approx(6 / 32)


def test_benjamini_hochberg_by_hand():
    # sorted p: .01 .02 .03 .5 (m=4): p*m/rank = .04 .04 .04 .5, then running minimum from the top
    adj = stats.benjamini_hochberg([0.03, 0.01, float("nan"), 0.5, 0.02])
    assert adj[0] == pytest.approx(0.04) and adj[1] == pytest.approx(0.04)
    assert adj[4] == pytest.approx(0.04) and adj[3] == pytest.approx(0.5)
    assert math.isnan(adj[2])


def test_sample_ratio_mismatch():
    # 550 vs 450 planned 50/50: chi2 = (50²/500)*2 = 10, df=1, p = 0.001565
    assert stats.sample_ratio_p_value([550, 450], [0.5, 0.5]) == pytest.approx(0.0015654, rel=1e-3)


def test_median_interval_from_order_statistics() -> None:
    # n = 5: [min, max] covers the median with 1 − 2/32 < 95 %: no interval.
    assert stats.median_interval([10, 50, 60, 70, 80]) == (None, None)
    # n = 6: P(Bin(6, 1/2) <= 0) = 1/64 < 2.5 %, so ranks 1..6 cover it with 1 − 2/64.
    assert stats.median_interval([6, 1, 5, 2, 4, 3]) == (1.0, 6.0)
    # n = 20: the binomial 2.5 % quantile is 6: ranks 6 and 15 (1-based).
    assert stats.median_interval(range(1, 21)) == (6.0, 15.0)
    assert stats.median_interval([]) == (None, None)
