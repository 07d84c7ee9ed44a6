"""Statistics every detector shares, from statsmodels/scipy (nothing hand-rolled).

Functions return frozen dataclasses with every number a person needs to check
the result: rates, sizes, the difference with its 95 % interval, the p-value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

ALPHA = 0.05  # confidence level of reported intervals (95 %), not a detection threshold


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class ProportionComparison:
    """Group A against group B: A is the group under suspicion, B the reference."""

    x_a: int
    n_a: int
    x_b: int
    n_b: int
    rate_a: float
    rate_b: float
    diff: float  # rate_a - rate_b
    ci_low: float  # Newcombe (Wilson score) interval of diff
    ci_high: float
    p_value: float  # two-sided
    test: str

    @property
    def relative_effect(self) -> float | None:
        """rate_a / rate_b - 1 (None when the reference rate is zero)."""
        return None if self.rate_b == 0 else self.rate_a / self.rate_b - 1


def wilson(x: int, n: int) -> Interval:
    if n <= 0:
        return Interval(math.nan, math.nan)
    low, high = proportion_confint(x, n, alpha=ALPHA, method="wilson")
    return Interval(float(low), float(high))


def compare_proportions(x_a: int, n_a: int, x_b: int, n_b: int) -> ProportionComparison:
    """Two-proportion test: pooled z-test, or Fisher's exact test when a cell is expected under 5."""
    if min(n_a, n_b) <= 0:
        raise ValueError("both groups need at least one observation")
    rate_a, rate_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    expected = min(n_a, n_b) * min(pooled, 1 - pooled)
    if expected < 5:
        _, p = sps.fisher_exact([[x_a, n_a - x_a], [x_b, n_b - x_b]])
        test = "fisher_exact"
    elif pooled in (0.0, 1.0):
        p, test = 1.0, "z_test"
    else:
        _, p = proportions_ztest([x_a, x_b], [n_a, n_b])
        test = "z_test"
    low, high = confint_proportions_2indep(x_a, n_a, x_b, n_b, method="newcomb", compare="diff")
    return ProportionComparison(
        x_a, n_a, x_b, n_b, rate_a, rate_b, rate_a - rate_b, float(low), float(high), float(p), test
    )


@dataclass(frozen=True)
class TargetComparison:
    """A rate against a fixed policy value (e.g. activation rate vs target)."""

    x: int
    n: int
    rate: float
    target: float
    ci_low: float  # Wilson interval of the rate
    ci_high: float
    p_value: float  # exact binomial, one-sided in the direction asked
    alternative: str


def compare_to_target(x: int, n: int, target: float, alternative: str) -> TargetComparison:
    """Exact binomial test of the rate against `target`; alternative is 'less' or 'greater'."""
    if alternative not in ("less", "greater"):
        raise ValueError("alternative must be 'less' or 'greater'")
    if n <= 0:
        raise ValueError("need at least one observation")
    result = sps.binomtest(x, n, target, alternative=alternative)
    ci = wilson(x, n)
    return TargetComparison(x, n, x / n, target, ci.low, ci.high, float(result.pvalue), alternative)


@dataclass(frozen=True)
class RankComparison:
    n_a: int
    n_b: int
    median_a: float
    median_b: float
    statistic: float
    p_value: float  # two-sided Mann-Whitney U


def compare_ranks(a: Sequence[float], b: Sequence[float]) -> RankComparison:
    """Mann-Whitney U test of two samples of durations, reporting medians."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(xa) == 0 or len(xb) == 0:
        raise ValueError("both samples need at least one value")
    res = sps.mannwhitneyu(xa, xb, alternative="two-sided")
    return RankComparison(
        len(xa),
        len(xb),
        float(np.median(xa)),
        float(np.median(xb)),
        float(res.statistic),
        float(res.pvalue),
    )


def median_above(values: Sequence[float], limit: float) -> tuple[float, float]:
    """Median and the one-sided sign-test p-value that the median exceeds `limit`."""
    xs = np.asarray(values, dtype=float)
    above = int((xs > limit).sum())
    informative = above + int((xs < limit).sum())
    if informative == 0:
        return float(np.median(xs)) if len(xs) else math.nan, 1.0
    p = sps.binomtest(above, informative, 0.5, alternative="greater").pvalue
    return float(np.median(xs)), float(p)


def benjamini_hochberg(p_values: Sequence[float], q: float = ALPHA) -> list[float]:
    """BH-adjusted p-values of one analysis run (NaN stays NaN, order kept)."""
    ps = np.asarray(p_values, dtype=float)
    out = np.full(len(ps), np.nan)
    mask = ~np.isnan(ps)
    if mask.any():
        out[mask] = multipletests(ps[mask], alpha=q, method="fdr_bh")[1]
    return [float(v) for v in out]


def sample_ratio_p_value(observed: Sequence[int], shares: Sequence[float]) -> float:
    """Chi-square goodness of fit of arm sizes against planned shares (sample ratio mismatch)."""
    obs = np.asarray(observed, dtype=float)
    exp = np.asarray(shares, dtype=float) / float(np.sum(shares)) * obs.sum()
    return float(sps.chisquare(obs, exp).pvalue)


def median_interval(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Distribution-free 95 % interval of the median from binomial order statistics.

    None when the sample is too small for any pair of order statistics to cover the
    median with 95 % confidence (five values or fewer).
    """
    xs = sorted(float(v) for v in values)
    n = len(xs)
    # Largest k with P(Bin(n, 1/2) < k) <= alpha/2: [x_(k), x_(n-k+1)] (1-based) covers 95 %.
    k = int(sps.binom.ppf(ALPHA / 2, n, 0.5)) if n else 0
    if k < 1:
        return None, None
    return xs[k - 1], xs[n - k]
