"""Group-sequential tests: Lan-DeMets alpha spending, its boundaries, power and stopping odds.

The z-statistics of a two-arm comparison read at information fractions t_1 < ... < t_K
are jointly normal with mean theta * sqrt(t_k) and correlation sqrt(t_i / t_j) (the
canonical joint distribution of Jennison & Turnbull). The boundary c_k at look k is the
one that has spent exactly alpha(t_k) by then:

    P(|Z_1| < c_1, ..., |Z_k| < c_k | theta = 0) = 1 - alpha(t_k)

with the O'Brien-Fleming-type spending function alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t))
(Lan & DeMets 1983). The rectangle probabilities are scipy's multivariate normal CDF
(Genz's quasi-Monte Carlo, seeded so a plan is reproducible) and the roots scipy's brentq:
nothing is integrated by hand.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize
from scipy.stats import multivariate_normal, norm
from statsmodels.stats.proportion import proportions_ztest

SPENDING_FUNCTIONS = ("obrien_fleming", "pocock")
_CDF_SEED = 20260101  # fixed: the same plan gives the same boundaries on every machine
_ABSEPS = 1e-6  # on probabilities: boundaries come out within ~1e-3 of the tabulated ones


def alpha_spent(t: float, alpha: float, spending: str = "obrien_fleming") -> float:
    """Cumulative two-sided alpha spent by information fraction t (0 < t <= 1)."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    if spending == "obrien_fleming":
        # per side, alpha/2 spent as 2 - 2 Phi(z_{1-alpha/4} / sqrt t): the form of Lan & DeMets
        # that gsDesign (sfLDOF) and the Reboussin-DeMets programs tabulate
        return float(4 - 4 * norm.cdf(norm.ppf(1 - alpha / 4) / math.sqrt(t)))
    if spending == "pocock":
        return float(alpha * math.log(1 + (math.e - 1) * t))
    raise ValueError(f"unknown spending function {spending!r}")


def _covariance(fractions: Sequence[float]) -> np.ndarray:
    t = np.asarray(fractions, dtype=float)
    return np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))


def continue_probability(
    boundaries: Sequence[float], fractions: Sequence[float], drift: float = 0.0
) -> float:
    """P(|Z_k| < c_k at every look) when the z-statistic drifts by `drift` * sqrt(t)."""
    k = len(boundaries)
    if k == 0:
        return 1.0
    c = np.asarray(boundaries, dtype=float)
    mean = drift * np.sqrt(np.asarray(fractions, dtype=float))
    if k == 1:
        return float(norm.cdf(c[0] - mean[0]) - norm.cdf(-c[0] - mean[0]))
    p = multivariate_normal.cdf(
        c,
        mean=mean,
        cov=_covariance(fractions),
        lower_limit=-c,
        abseps=_ABSEPS,
        releps=_ABSEPS,
        maxpts=50_000 * k,
        rng=np.random.default_rng(_CDF_SEED),
    )
    return float(p)


def boundaries(
    fractions: Sequence[float], alpha: float, spending: str = "obrien_fleming"
) -> list[float]:
    """Two-sided |z| boundaries at each look (equal or unequal spacing, last fraction 1)."""
    return list(_boundaries(tuple(float(t) for t in fractions), float(alpha), spending))


@lru_cache(maxsize=64)  # every plan of a configuration shares its looks: compute them once
def _boundaries(fractions: tuple[float, ...], alpha: float, spending: str) -> tuple[float, ...]:
    if not fractions or any(b <= a for a, b in itertools.pairwise(fractions)):
        raise ValueError("information fractions must increase")
    if fractions[0] <= 0 or fractions[-1] > 1:
        raise ValueError("information fractions must be in (0, 1]")
    found: list[float] = []
    for k, t in enumerate(fractions):
        target = 1 - alpha_spent(t, alpha, spending)
        if k == 0:
            found.append(float(norm.ppf(1 - alpha_spent(t, alpha, spending) / 2)))
            continue
        previous = list(fractions[: k + 1])

        def gap(c: float, previous: list[float] = previous, target: float = target) -> float:
            return continue_probability([*found, c], previous) - target

        if gap(12.0) <= 0:  # nothing left to spend at this look
            found.append(math.inf)
            continue
        found.append(float(optimize.brentq(gap, 0.5, 12.0, xtol=1e-5)))
    return tuple(found)


def drift_for_power(bounds: Sequence[float], fractions: Sequence[float], power: float) -> float:
    """The drift (expected final z) at which the test rejects with probability `power`."""
    return float(
        optimize.brentq(
            lambda d: 1 - continue_probability(bounds, fractions, d) - power, 0.0, 20.0, xtol=1e-5
        )
    )


def inflation_factor(
    fractions: Sequence[float], alpha: float, power: float, spending: str = "obrien_fleming"
) -> float:
    """Maximum sample of the sequential test over the fixed-sample one at the same power."""
    return _inflation(tuple(float(t) for t in fractions), float(alpha), float(power), spending)


@lru_cache(maxsize=64)
def _inflation(fractions: tuple[float, ...], alpha: float, power: float, spending: str) -> float:
    sequential = drift_for_power(boundaries(fractions, alpha, spending), fractions, power)
    fixed = drift_for_power([float(norm.ppf(1 - alpha / 2))], [1.0], power)
    return (sequential / fixed) ** 2


@dataclass(frozen=True)
class StoppingOdds:
    """Per look, the probability the test stops there; the expected fraction of the sample used."""

    stop_at_look: tuple[float, ...]
    expected_fraction: float


def stopping_odds(
    bounds: Sequence[float], fractions: Sequence[float], drift: float
) -> StoppingOdds:
    """Where the test stops when the true drift is `drift` (the last look always ends it)."""
    going = [1.0] + [
        continue_probability(bounds[: k + 1], fractions[: k + 1], drift) for k in range(len(bounds))
    ]
    stops = [max(going[k] - going[k + 1], 0.0) for k in range(len(bounds))]
    stops[-1] += going[-1]  # a test that never crosses still ends at the last look
    expected = sum(t * p for t, p in zip(fractions, stops, strict=True))
    return StoppingOdds(tuple(stops), float(expected))


def crossed(z: float, boundary: float) -> bool:
    """Whether a look's z-statistic crosses its two-sided boundary."""
    return math.isfinite(boundary) and abs(z) >= boundary


def read_look(
    x_treatment: int,
    n_treatment: int,
    x_control: int,
    n_control: int,
    boundary: float,
    direction: str,
) -> dict[str, Any]:
    """One look of a sequential test: statsmodels' pooled two-proportion z (treatment -
    control) against the look's boundary; `better` says whether the sign is the good one."""
    if min(n_treatment, n_control) <= 0:
        return {
            "z": None,
            "boundary_z": boundary,
            "crossed": False,
            "better": None,
            "n_treatment": n_treatment,
            "n_control": n_control,
        }
    pooled = (x_treatment + x_control) / (n_treatment + n_control)
    z = 0.0
    if 0 < pooled < 1:
        z = float(proportions_ztest([x_treatment, x_control], [n_treatment, n_control])[0])
    return {
        "z": z,
        "boundary_z": boundary,
        "crossed": crossed(z, boundary),
        "better": z > 0 if direction == "increase" else z < 0,
        "n_treatment": n_treatment,
        "n_control": n_control,
        "rate_treatment": x_treatment / n_treatment,
        "rate_control": x_control / n_control,
    }
