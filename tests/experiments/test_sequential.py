"""Group-sequential boundaries against published values and simulation; the look reader.

Published Lan-DeMets O'Brien-Fleming-type boundaries, two-sided alpha 0.05, equally
spaced looks (Reboussin, DeMets, Kim & Lan 2000; gsDesign's sfLDOF gives the same):
K=5: 4.877, 3.357, 2.680, 2.290, 2.031; K=4: 4.333, 2.963, 2.359, 2.014.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from chanperf.experiments.sequential import (
    alpha_spent,
    boundaries,
    drift_for_power,
    inflation_factor,
    read_look,
    stopping_odds,
)

FIVE = [0.2, 0.4, 0.6, 0.8, 1.0]
FOUR = [0.25, 0.5, 0.75, 1.0]


def brownian_z(fractions: list[float], drift: float, sims: int, seed: int) -> np.ndarray:
    """z-statistics at the looks of `sims` simulated trials: a Brownian motion read at t_k."""
    rng = np.random.default_rng(seed)
    t = np.asarray(fractions)
    steps = rng.normal(size=(sims, len(t))) * np.sqrt(np.diff(np.concatenate([[0.0], t])))
    paths = np.cumsum(steps, axis=1) + drift * t
    return paths / np.sqrt(t)


def test_obrien_fleming_boundaries_match_the_published_tables() -> None:
    assert boundaries(FIVE, 0.05) == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=2e-3)
    assert boundaries(FOUR, 0.05) == pytest.approx([4.333, 2.963, 2.359, 2.014], abs=2e-3)


def test_one_look_is_the_fixed_test() -> None:
    assert boundaries([1.0], 0.05) == pytest.approx([norm.ppf(0.975)])
    assert inflation_factor([1.0], 0.05, 0.8) == pytest.approx(1.0)


def test_boundaries_spend_alpha_as_planned_in_a_monte_carlo() -> None:
    bounds = np.array(boundaries(FOUR, 0.05))
    z = brownian_z(FOUR, 0.0, 400_000, seed=1)
    crossed_by = np.maximum.accumulate(np.abs(z) >= bounds, axis=1).mean(axis=0)
    for k, t in enumerate(FOUR):
        # binomial standard error at 400k sims is < 0.00035
        assert crossed_by[k] == pytest.approx(alpha_spent(t, 0.05), abs=0.0012)
    assert crossed_by[-1] == pytest.approx(0.05, abs=0.0012)


def test_power_and_stopping_odds_agree_with_simulation() -> None:
    bounds = boundaries(FOUR, 0.05)
    drift = drift_for_power(bounds, FOUR, 0.8)
    # the fixed test needs drift z_.975 + z_.8 = 2.802; the sequential one a little more
    assert drift**2 / (norm.ppf(0.975) + norm.ppf(0.8)) ** 2 == pytest.approx(
        inflation_factor(FOUR, 0.05, 0.8), rel=1e-4
    )
    assert 1.0 < inflation_factor(FOUR, 0.05, 0.8) < 1.05
    z = brownian_z(FOUR, drift, 200_000, seed=2)
    hit = np.abs(z) >= np.array(bounds)
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), len(FOUR) - 1)
    assert hit.any(axis=1).mean() == pytest.approx(0.8, abs=0.004)
    odds = stopping_odds(bounds, FOUR, drift)
    simulated = np.bincount(first, minlength=len(FOUR)) / len(first)
    assert list(odds.stop_at_look) == pytest.approx(list(simulated), abs=0.004)
    assert odds.expected_fraction == pytest.approx(float(np.asarray(FOUR)[first].mean()), abs=0.003)


def test_read_look_uses_the_pooled_z_of_statsmodels() -> None:
    # 60/200 against 40/200: pooled p = 0.25, se = sqrt(0.25 * 0.75 * (2 / 200)), z = 0.1 / se
    read = read_look(60, 200, 40, 200, 2.0, "increase")
    assert read["z"] == pytest.approx(0.1 / np.sqrt(0.25 * 0.75 * 0.01))
    assert read["crossed"] and read["better"]
    assert read_look(60, 200, 40, 200, 2.0, "decrease")["better"] is False
    assert read_look(0, 0, 4, 10, 2.0, "increase")["crossed"] is False


def simulate_reads(p_control: float, p_treatment: float, sims: int, seed: int) -> np.ndarray:
    """Per simulated experiment, the look it stopped at (0 = ran to the end without crossing).

    400 accounts per arm at the last look, read at equal quarters, each look through
    `read_look`, the function the results job reads its looks with.
    """
    bounds = boundaries(FOUR, 0.05)
    rng = np.random.default_rng(seed)
    n_final = 400
    stops = np.zeros(sims, dtype=int)
    for s in range(sims):
        control = rng.random(n_final) < p_control
        treatment = rng.random(n_final) < p_treatment
        for k, t in enumerate(FOUR):
            n = int(n_final * t)
            read = read_look(
                int(treatment[:n].sum()), n, int(control[:n].sum()), n, bounds[k], "increase"
            )
            if read["crossed"]:
                stops[s] = k + 1
                break
    return stops


def test_a_null_experiment_stops_no_more_often_than_alpha() -> None:
    stops = simulate_reads(0.3, 0.3, 2000, seed=5)
    false_stop = float((stops > 0).mean())
    # alpha = 0.05; 2000 sims give a standard error of 0.0049: within three of them
    assert false_stop <= 0.05 + 3 * 0.0049
    assert false_stop >= 0.05 - 3 * 0.0049  # not so conservative it never stops
    assert float((stops == 1).mean()) < 0.002  # the first look spends almost nothing


def test_a_large_effect_stops_early() -> None:
    # 0.30 -> 0.45 at 400 per arm: drift 0.15 / sqrt(0.375 * 0.625 * 2 / 400) = 4.4
    stops = simulate_reads(0.3, 0.45, 500, seed=6)
    assert float((stops > 0).mean()) > 0.95
    assert float(((stops > 0) & (stops < 4)).mean()) > 0.8  # most stop before the last look
