"""The change-point scan: numbers worked out by hand, the bivariate tails against scipy, and
its false-alarm rate on simulated series without a change but with week-to-week
overdispersion (what real weekly cohorts have)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from chanperf.core.changepoint import both_beyond, max_z_p_value, scan_change

ALPHA = 0.05


def test_one_split_is_a_two_sample_z_test() -> None:
    # 4 weeks of 20, min_weeks 2: the only split is after week 2. Pooled rate 30/80 = 0.375,
    # v = 0.234375; successive differences of the weekly rates (0.5, 0.5, 0.25, 0.25) give
    # mean(d²) = (0.25² / 0.1) / 3 = 0.2083 < v, so the binomial floor holds (φ = 1).
    cp = scan_change([10, 10, 5, 5], [20, 20, 20, 20], 0.375 * 0.625, min_weeks=2)
    assert cp is not None
    z = -0.25 / math.sqrt(0.234375 * (1 / 40 + 1 / 40))
    assert (cp.index, cp.weeks_before, cp.weeks_after, cp.splits) == (2, 2, 2, 1)
    assert (cp.mean_before, cp.mean_after, cp.effect) == (0.5, 0.25, -0.25)
    assert cp.statistic == pytest.approx(z) and cp.dispersion == 1.0
    assert cp.p_value == pytest.approx(2 * sps.norm.sf(abs(z)))  # 0.0209
    assert cp.ci_low == pytest.approx(-0.25 - 1.959964 * 0.25 / abs(z), abs=1e-6)


def test_dispersion_inflates_the_standard_error() -> None:
    # Weekly rates 0.2, 0.8, 0.2, 0.8 (n = 10): d = ±0.6 / √0.2 each, mean(d²) = 1.8;
    # pooled 0.5 has v = 0.25, so φ = 7.2 and the one split (after week 2) has effect 0.
    cp = scan_change([2, 8, 2, 8], [10, 10, 10, 10], 0.25, min_weeks=2)
    assert cp is not None
    assert cp.dispersion == pytest.approx(7.2)
    assert cp.se == pytest.approx(math.sqrt(7.2 * 0.25 * (1 / 20 + 1 / 20)))
    assert cp.effect == 0 and cp.p_value == 1.0


def test_too_few_weeks_or_no_variation_gives_nothing() -> None:
    assert scan_change([1, 2, 3], [10, 10, 10], 0.2, min_weeks=2) is None
    assert scan_change([0, 0, 0, 0], [10, 10, 10, 10], 0.0, min_weeks=2) is None
    assert scan_change([5, 5, 5, 5], [10, 10, 10, 10], None, min_weeks=2) is None


@pytest.mark.parametrize("rho", [-0.5, 0.0, 0.3, 0.9, 0.99])
def test_pair_tails_match_scipy(rho: float) -> None:
    c = 2.2
    mvn = sps.multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]])
    inside = mvn.cdf([c, c]) - mvn.cdf([c, -c]) - mvn.cdf([-c, c]) + mvn.cdf([-c, -c])
    # P(|X| > c, |Y| > c) = 1 − P(|X| ≤ c) − P(|Y| ≤ c) + P(|X| ≤ c, |Y| ≤ c).
    both = 1 - 2 * (1 - 2 * sps.norm.sf(c)) + inside
    assert both_beyond(c, np.array([rho]))[0] == pytest.approx(both, abs=1e-6)


def test_bound_lies_between_one_split_and_bonferroni() -> None:
    u = np.linspace(0.1, 0.9, 41)
    single = 2 * sps.norm.sf(3.0)
    p = max_z_p_value(3.0, u)
    assert single < p < len(u) * single
    # Nearly independent splits (far apart in information time, correlation 0.01) are
    # Bonferroni less the chance both exceed: 2 × 0.0027 − 0.0027².
    assert max_z_p_value(3.0, np.array([0.01, 0.99])) == pytest.approx(
        2 * single - single**2, rel=1e-2
    )


def _null_series(
    rng: np.random.Generator, weeks: int, rate: float, sd: float, size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weekly cohorts of varying size whose rate varies from week to week around `rate`
    (logit-normal week effect with standard deviation `sd`): overdispersed, no change."""
    n = rng.poisson(size, weeks) + 1
    logit = math.log(rate / (1 - rate)) + rng.normal(0, sd, weeks)
    return rng.binomial(n, 1 / (1 + np.exp(-logit))), n


@pytest.mark.parametrize(
    ("weeks", "sd", "size"),
    [(52, 0.0, 40), (52, 0.3, 40), (30, 0.3, 20), (70, 0.2, 200)],
)
def test_false_alarm_rate_on_null_series(weeks: int, sd: float, size: float) -> None:
    rng = np.random.default_rng(20261201 + weeks + int(10 * sd))
    alarms = 0
    series = 200
    for _ in range(series):
        x, n = _null_series(rng, weeks, 0.6, sd, size)
        rate = x.sum() / n.sum()
        cp = scan_change(x, n, rate * (1 - rate), min_weeks=4)
        alarms += cp is not None and cp.p_value < ALPHA
    # Binomial tolerance: two standard errors of a 200-series rate at alpha.
    assert alarms / series <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / series)


def test_ignoring_overdispersion_would_not_hold_alpha() -> None:
    """Why the dispersion is estimated: with φ fixed at 1 the same null series alarm often."""
    rng = np.random.default_rng(7)
    naive = scanned = 0
    for _ in range(100):
        x, n = _null_series(rng, 52, 0.6, 0.4, 40)
        rate = x.sum() / n.sum()
        v = rate * (1 - rate)
        cp = scan_change(x, n, v, min_weeks=4)
        scanned += cp is not None and cp.p_value < ALPHA
        assert cp is not None
        naive_z = cp.statistic * math.sqrt(cp.dispersion)  # the same split without φ
        units = np.cumsum(n)[3:-4] / n.sum()
        naive += max_z_p_value(naive_z, units) < ALPHA
    assert scanned <= 10 and naive >= 25


def test_a_planted_drop_is_dated_within_three_weeks() -> None:
    rng = np.random.default_rng(3)
    errors = []
    for _ in range(50):
        n = rng.poisson(20, 52) + 1
        rate = np.where(np.arange(52) >= 30, 0.36, 0.62)
        logit = np.log(rate / (1 - rate)) + rng.normal(0, 0.2, 52)
        x = rng.binomial(n, 1 / (1 + np.exp(-logit)))
        pooled = x.sum() / n.sum()
        cp = scan_change(x, n, pooled * (1 - pooled), min_weeks=4)
        assert cp is not None and cp.p_value < 1e-3 and cp.effect < -0.15
        errors.append(abs(cp.index - 30))
    assert max(errors) <= 3 and np.mean(errors) < 1.0


def test_weekly_means_without_a_known_variance() -> None:
    # Mean activation days 10 for 26 weeks then 14, 30 completions a week, per-unit sd 6.
    rng = np.random.default_rng(5)
    n = np.full(40, 30)
    means = np.where(np.arange(40) >= 26, 14.0, 10.0) + rng.normal(0, 6 / math.sqrt(30), 40)
    cp = scan_change(means * n, n, None, min_weeks=4)
    assert cp is not None and abs(cp.index - 26) <= 1 and cp.p_value < 1e-6
    assert cp.effect == pytest.approx(4.0, abs=0.6)


def test_false_alarm_rate_on_null_weekly_means() -> None:
    """Weekly mean activation days without a known variance: week effects of one day on a
    mean of 12 days, 6 days of spread per onboarding, about 30 completions a week."""
    rng = np.random.default_rng(11)
    alarms = 0
    series = 200
    for _ in range(series):
        n = rng.poisson(30, 40) + 2
        means = 12 + rng.normal(0, 1.0, 40) + rng.normal(0, 6, 40) / np.sqrt(n)
        cp = scan_change(means * n, n, None, min_weeks=4)
        alarms += cp is not None and cp.p_value < ALPHA
    assert alarms / series <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / series)
