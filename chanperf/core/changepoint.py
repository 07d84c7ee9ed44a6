"""When did a weekly rate change: one change point over a whole weekly history.

`scan_change` looks for at most one change in the mean of a weekly series given as
totals and units per week (activated / matured onboardings, NPS score sum / answers,
activation days / completions). For every split with at least `min_weeks` weeks on each
side it computes the two-sample z statistic of "mean after − mean before", and keeps
the split where |z| is largest: that week is where the change started.

Overdispersion. Weeks differ by more than binomial noise (campaigns, holidays, who
happened to start that week), and a test that ignores it sees changes everywhere. The
per-unit variance is estimated from successive differences of the weekly means,
d_t = (m_t − m_{t−1}) / sqrt(1/n_t + 1/n_{t−1}), whose variance is the per-unit variance
under no change and which a single level shift disturbs in one term only. With a known
per-unit variance v (binomial p(1 − p), NPS (P + D)/N − NPS²) the dispersion factor is
φ = max(1, mean(d²) / v); without one mean(d²) is the variance. The estimate has about
2(T − 1)/3 degrees of freedom (the variance of a mean of squared successive differences
of T normal values), so z is read against Student's t with those degrees of freedom
unless the binomial floor holds (φ = 1: nothing estimated).

Maximally selected statistic. The largest of K correlated z statistics is not a z
statistic. Its p-value is the Hunter–Worsley (improved Bonferroni) bound
P(max |Z_k| > b) ≤ Σ_k P(|Z_k| > b) − Σ_k P(|Z_k| > b, |Z_{k+1}| > b), with the exact
correlation of neighbouring splits, sqrt(u_k (1 − u_{k+1}) / (u_{k+1} (1 − u_k))) in
information time u_k = units before the split / all units, and the bivariate normal
tails from Owen's T function. The bound is an upper bound, so the false-alarm rate
stays at or under the level the rules test it against (tests/core/test_changepoint.py
measures it on simulated overdispersed series).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

Z95 = float(sps.norm.ppf(0.975))


@dataclass(frozen=True)
class ChangePoint:
    """The most likely change of a weekly series and how sure it is.

    `index` is the position of the first week after the change (weeks [0, index) before,
    [index, T) after); `effect` = mean_after − mean_before, `se` its standard error with
    the dispersion, `ci_low`/`ci_high` its 95 % interval, `statistic` the largest |z| and
    `p_value` the bound on the chance of a |z| that large over all splits with no change.
    """

    index: int
    weeks_before: int
    weeks_after: int
    units_before: float
    units_after: float
    total_before: float
    total_after: float
    mean_before: float
    mean_after: float
    effect: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    dispersion: float
    splits: int


def _bivariate_upper(c: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X > c, Y > c) for standard bivariate normals with correlation rho (Owen 1956)."""
    a = np.sqrt((1 - rho) / (1 + rho))
    return np.asarray(sps.norm.sf(c) - 2 * special.owens_t(c, a), dtype=float)


def both_beyond(c: float, rho: np.ndarray) -> np.ndarray:
    """P(|X| > c and |Y| > c) for standard bivariate normals with correlation rho."""
    cc = np.full(np.shape(rho), float(c))
    same = _bivariate_upper(cc, np.clip(rho, -0.999999, 0.999999))
    opposite = _bivariate_upper(cc, np.clip(-rho, -0.999999, 0.999999))
    return 2 * (same + opposite)


def max_z_p_value(statistic: float, u: np.ndarray, df: float | None = None) -> float:
    """Hunter–Worsley bound on P(max_k |Z_k| ≥ statistic) for the standardised two-sample
    statistics of splits at information times `u` (increasing, inside (0, 1)).

    With `df`, each Z_k is Student t with df degrees of freedom: its tail is mapped to the
    normal quantile with the same tail before the pairs are subtracted.
    """
    b = abs(float(statistic))
    tail = float(2 * (sps.t.sf(b, df) if df is not None else sps.norm.sf(b)))
    if len(u) <= 1 or tail == 0.0:
        return min(1.0, tail)
    c = float(sps.norm.isf(tail / 2))
    lo, hi = u[:-1], u[1:]
    rho = np.sqrt(lo * (1 - hi) / (hi * (1 - lo)))
    bound = len(u) * tail - float(both_beyond(c, rho).sum())
    return float(min(1.0, max(tail, bound)))


def scan_change(
    totals: Sequence[float],
    units: Sequence[float],
    unit_variance: float | None = None,
    min_weeks: int = 4,
) -> ChangePoint | None:
    """The most likely single change in the weekly means totals[t] / units[t].

    `unit_variance`: the variance of one unit under no change (binomial p(1 − p) at the
    pooled rate, for instance); None estimates it from the weeks. Weeks without units
    must be left out by the caller. None when there are fewer than 2 × `min_weeks` weeks
    or the series does not vary at all.
    """
    y = np.asarray(totals, dtype=float)
    n = np.asarray(units, dtype=float)
    weeks = len(y)
    if weeks < 2 * max(1, min_weeks) or np.any(n <= 0):
        return None
    means = y / n
    diffs = np.diff(means) / np.sqrt(1 / n[1:] + 1 / n[:-1])
    spread = float(np.mean(diffs**2))
    df: float | None = 2 * (weeks - 1) / 3
    if unit_variance is None:
        variance, dispersion = spread, 1.0
    else:
        if unit_variance <= 0:
            return None
        dispersion = max(1.0, spread / unit_variance)
        variance = dispersion * unit_variance
        if dispersion == 1.0:
            df = None  # the binomial floor: nothing was estimated
    if variance <= 0:
        return None

    cut_units, cut_totals = np.cumsum(n)[:-1], np.cumsum(y)[:-1]
    all_units, all_totals = float(n.sum()), float(y.sum())
    split = np.arange(max(1, min_weeks), weeks - max(1, min_weeks) + 1)  # weeks before
    before_n, before_y = cut_units[split - 1], cut_totals[split - 1]
    after_n, after_y = all_units - before_n, all_totals - before_y
    effect = after_y / after_n - before_y / before_n
    se = np.sqrt(variance * (1 / before_n + 1 / after_n))
    z = effect / se
    best = int(np.argmax(np.abs(z)))
    k = int(split[best])
    statistic = float(z[best])
    p_value = max_z_p_value(statistic, before_n / all_units, df)
    return ChangePoint(
        index=k,
        weeks_before=k,
        weeks_after=weeks - k,
        units_before=float(before_n[best]),
        units_after=float(after_n[best]),
        total_before=float(before_y[best]),
        total_after=float(after_y[best]),
        mean_before=float(before_y[best] / before_n[best]),
        mean_after=float(after_y[best] / after_n[best]),
        effect=float(effect[best]),
        se=float(se[best]),
        ci_low=float(effect[best] - Z95 * se[best]),
        ci_high=float(effect[best] + Z95 * se[best]),
        statistic=statistic,
        p_value=p_value if not math.isnan(p_value) else 1.0,
        dispersion=dispersion,
        splits=len(split),
    )
