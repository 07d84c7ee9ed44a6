"""Scans that find where a rate jumps, and families of comparisons, with their multiplicity controlled.

A detector that picks the best of many splits (or the best of many groups) and then
tests it as if it had been chosen in advance finds effects in pure noise. Here the
p-value of the chosen comparison is the max-statistic permutation p-value: the
event labels are shuffled across the units, every candidate is scored again, and
the p-value is the share of shuffles whose *best* candidate scores at least as high
as the observed best. Under "the rate does not depend on the level (or group)" this
is exact whatever the number of candidates.

Shuffling labels only moves event counts between levels, and the counts per level
under a shuffle follow a multivariate hypergeometric distribution: numpy draws them
directly, so a permutation costs O(levels), not O(units).

The shuffles are seeded from the counts themselves, so a run on the same data gives
the same p-value on every backend and every re-run.

When no shuffle reaches the observed best (the p-value would sit at its floor
1/(B+1)), the p-value is the Bonferroni bound over the candidates' normal-tail
p-values, if that is smaller: a strong effect then gets a p-value that survives the
run-wide Benjamini–Hochberg adjustment however many permutations are configured.
The rule "Bonferroni only at the floor" keeps the test's level: for alpha >= 1/(B+1)
rejecting implies the permutation test rejects, for smaller alpha it implies the
Bonferroni test rejects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

__all__ = ["SplitScan", "data_seed", "holm", "level_of", "scan_split"]


def data_seed(*arrays: np.ndarray) -> int:
    """A seed that depends only on the data (the counts), so runs are reproducible."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(np.asarray(a, dtype=np.int64)).tobytes())
        digest.update(b"|")
    return int.from_bytes(digest.digest()[:8], "big")


def level_of(values: np.ndarray, step: float, edges: tuple[float, ...] = ()) -> np.ndarray:
    """Each value's level: the smallest boundary at or above it.

    Boundaries are the multiples of `step` (0, step, 2·step, ...) and the configured
    `edges`; a split "at or below level L" then means "value <= L", the question a cap
    asks. Values are rounded to 1e-9 first so 5.0000000001 read from a decimal
    column stays at 5.
    """
    v = np.round(np.asarray(values, dtype=float), 9)
    if v.size == 0:
        return v
    top = float(np.ceil(v.max() / step)) * step
    grid = np.arange(0.0, top + step / 2, step)
    bounds = np.unique(np.round(np.concatenate([grid, np.asarray(edges, dtype=float)]), 9))
    return np.asarray(bounds[np.searchsorted(bounds, v, side="left")], dtype=float)


def _z(x_a: np.ndarray, n_a: np.ndarray, x_b: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Pooled two-proportion z of rate b − rate a (0 where the pooled rate is 0 or 1)."""
    pooled = (x_a + x_b) / (n_a + n_b)
    var = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    diff = x_b / n_b - x_a / n_a
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, diff / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return np.asarray(z, dtype=float)


def _permutation_p(
    observed_max: float,
    permuted_max: np.ndarray,
    bonferroni: float,
) -> float:
    """Max-statistic permutation p-value, Bonferroni at the floor (see the module doc)."""
    exceed = int(np.sum(permuted_max >= observed_max - 1e-12))
    p = (1 + exceed) / (1 + permuted_max.size)
    if exceed == 0:
        p = min(p, bonferroni)
    return float(p)


@dataclass(frozen=True)
class SplitScan:
    """The split found: group a = level <= `threshold`, group b = level > `threshold`.

    `statistic` is the pooled z of rate b − rate a at that split; `max_statistic` the
    largest over the `candidates` splits scanned (the same unless a prior split was
    preferred, see `scan_split`); `p_value` the max-statistic permutation p-value over
    `permutations` shuffles (one-sided: b has more events), a test of "the rate jumps
    somewhere"; `p_value_split` the split's own one-sided normal p, as if it had been
    the only question (not for decisions).
    """

    threshold: float
    x_a: int
    n_a: int
    x_b: int
    n_b: int
    statistic: float
    max_statistic: float
    p_value: float
    p_value_split: float
    candidates: int
    permutations: int

    @property
    def rate_a(self) -> float:
        return self.x_a / self.n_a

    @property
    def rate_b(self) -> float:
        return self.x_b / self.n_b


def scan_split(
    levels: np.ndarray,
    events: np.ndarray,
    *,
    min_group: int,
    permutations: int,
    prior: tuple[float, ...] = (),
    prior_margin: float = 0.0,
) -> SplitScan | None:
    """The split "level <= t vs level > t" where the units above have the most events
    relative to those at or below (largest standardized difference), over every level t
    seen with at least `min_group` units on each side.

    `prior`: splits asked in advance (configured edges). The best of them is reported
    instead of the scan's best when its statistic is within `prior_margin` of it: the
    data do not tell them apart, and the question asked in advance is kept. The
    p-value is the scan's either way. `levels` is each unit's level (see `level_of`),
    `events` whether it had the event. None when no split has enough units on both sides.
    """
    lv = np.asarray(levels, dtype=float)
    ev = np.asarray(events, dtype=bool)
    if lv.size == 0:
        return None
    seen, index = np.unique(lv, return_inverse=True)
    n_k = np.bincount(index, minlength=seen.size).astype(np.int64)
    x_k = np.bincount(index, weights=ev.astype(float), minlength=seen.size).astype(np.int64)
    n_le = np.cumsum(n_k)
    total_n, total_x = int(n_le[-1]), int(x_k.sum())
    cut = np.flatnonzero((n_le >= min_group) & (total_n - n_le >= min_group))
    if cut.size == 0:
        return None
    n_a, n_b = n_le[cut], total_n - n_le[cut]

    def scores(x_per_level: np.ndarray) -> np.ndarray:
        x_a = np.cumsum(x_per_level, axis=-1)[..., cut]
        return _z(x_a, n_a, total_x - x_a, n_b)

    observed = scores(x_k)
    top = float(observed.max())
    best = int(np.argmax(observed))
    asked = np.flatnonzero(np.isin(np.round(seen[cut], 9), np.round(np.asarray(prior), 9)))
    if asked.size:
        preferred = int(asked[np.argmax(observed[asked])])
        if observed[preferred] >= top - prior_margin:
            best = preferred
    rng = np.random.default_rng(data_seed(n_k, x_k, np.round(seen * 1e6)))
    shuffled = rng.multivariate_hypergeometric(n_k, total_x, size=permutations)
    permuted_max = scores(shuffled).max(axis=-1) if permutations else np.empty(0)
    stat = float(observed[best])
    p_split = float(sps.norm.sf(stat))
    x_a = int(np.cumsum(x_k)[cut[best]])
    return SplitScan(
        threshold=float(seen[cut[best]]),
        x_a=x_a,
        n_a=int(n_a[best]),
        x_b=total_x - x_a,
        n_b=int(n_b[best]),
        statistic=stat,
        max_statistic=top,
        p_value=_permutation_p(top, permuted_max, min(1.0, float(sps.norm.sf(top)) * cut.size)),
        p_value_split=p_split,
        candidates=int(cut.size),
        permutations=int(permutations),
    )


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values of one family of comparisons (NaN stays NaN, order kept).

    For a handful of groups each compared with one reference (strategies against the
    most used one), Holm controls the family-wise error with no simulation, so a
    strong group keeps a p-value far below what a few thousand shuffles could show.
    """
    ps = np.asarray(p_values, dtype=float)
    out = np.full(ps.size, np.nan)
    mask = ~np.isnan(ps)
    if mask.any():
        out[mask] = multipletests(ps[mask], method="holm")[1]
    return out
