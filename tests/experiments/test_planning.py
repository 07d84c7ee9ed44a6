"""Candidate designs, the detectable effect over time, the verdict and the staged rollout.

References are computed independently: statsmodels' `NormalIndPower().power` on
`proportion_effectsize` (the power a table's MDE must give back), the closed-form
normal approximation, and the hand-written variance of a difference-in-differences.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from chanperf.core.settings import REPO_ROOT
from chanperf.experiments.design import load_experiment_config
from chanperf.experiments.planning import (
    FITS,
    LONGER,
    NOT_TESTABLE,
    MetricChoice,
    choose,
    design_candidate,
    mde_over_time,
    plan_rollout,
    verdict_of,
)
from chanperf.experiments.sequential import boundaries, inflation_factor

CONFIG = load_experiment_config(REPO_ROOT / "rules")
Z = norm.ppf(1 - CONFIG.alpha / 2) + norm.ppf(CONFIG.power)


def metric(**kw: object) -> MetricChoice:
    base = {
        "name": "activation_rate",
        "label": "ativação",
        "window_days": 30,
        "baseline": 0.3,
        "expected_change": 0.1,
        "mde": 0.05,
        "direction": "increase",
        "leading": False,
    }
    return MetricChoice(**{**base, **kw})  # type: ignore[arg-type]


def test_the_config_holds_the_limit_and_the_horizons() -> None:
    assert CONFIG.max_duration_weeks == 12
    assert CONFIG.mde_horizons_weeks == (4, 8, 12, 26)
    assert CONFIG.sequential is not None and CONFIG.sequential.looks == 4


def test_mde_table_gives_back_the_planned_power_in_statsmodels() -> None:
    m = metric()
    table = mde_over_time(m, 70.0, 0.5, CONFIG)
    assert [row["weeks"] for row in table] == [4, 8, 12, 26]
    # 4 weeks = 28 days: no entry has its 30-day window by then
    assert table[0]["mde"] is None and table[0]["entries"] == 0
    for row in table[1:]:
        entries = 70.0 * (row["weeks"] * 7 - 30) / 7
        n = entries / 2
        assert row["entries"] == math.floor(entries)
        h = proportion_effectsize(0.3 + row["mde"], 0.3)
        achieved = NormalIndPower().power(effect_size=h, nobs1=n, alpha=CONFIG.alpha, ratio=1.0)
        assert achieved == pytest.approx(CONFIG.power, abs=1e-5)
        # and the closed form: h = (z_{1-a/2} + z_power) * sqrt(2 / n)
        assert h == pytest.approx(Z * math.sqrt(2 / n), rel=1e-3)
    assert table[1]["mde"] > table[2]["mde"] > table[3]["mde"]
    assert table[3]["detects_required"] is (table[3]["mde"] <= 0.05)


def test_a_decrease_is_detected_below_the_baseline() -> None:
    m = metric(name="reincidence_rate", direction="decrease", baseline=0.2, window_days=30)
    row = mde_over_time(m, 100.0, 0.5, CONFIG)[2]
    n = 100.0 * (12 * 7 - 30) / 7 / 2
    h = proportion_effectsize(0.2, 0.2 - row["mde"])
    assert NormalIndPower().power(effect_size=h, nobs1=n, alpha=CONFIG.alpha) == pytest.approx(
        CONFIG.power, abs=1e-5
    )


def test_a_sequential_design_is_the_fixed_one_inflated_with_looks_on_its_days() -> None:
    m = metric(mde=0.1)
    fixed = design_candidate(m, 0.5, False, 60.0, CONFIG)
    seq = design_candidate(m, 0.5, True, 60.0, CONFIG)
    h = proportion_effectsize(0.4, 0.3)
    n = math.ceil(NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8))
    assert fixed["sample_size_per_arm"] == n
    factor = inflation_factor((0.25, 0.5, 0.75, 1.0), 0.05, 0.8)
    assert seq["sample_size_per_arm"] == math.ceil(n * factor)
    weeks = math.ceil(2 * seq["sample_size_per_arm"] / 60.0)
    assert seq["enrollment_weeks"] == weeks and seq["duration_days"] == weeks * 7 + 30
    assert [look["boundary_z"] for look in seq["looks"]] == pytest.approx(
        boundaries([0.25, 0.5, 0.75, 1.0], 0.05)
    )
    assert [look["day"] for look in seq["looks"]] == [
        math.ceil(weeks * 7 * t) + 30 for t in (0.25, 0.5, 0.75, 1.0)
    ]
    # the expected effect (0.1) equals the MDE: ~80 % stop by the last look, earlier on average
    assert sum(look["stop_probability_at_expected"] for look in seq["looks"]) == pytest.approx(1)
    assert seq["expected_duration_days"] < seq["duration_days"]
    assert fixed["fits"] is (fixed["duration_days"] <= 84)


def test_a_larger_treatment_share_needs_more_accounts_in_all() -> None:
    m = metric(mde=0.1)
    even = design_candidate(m, 0.5, False, 60.0, CONFIG)
    skewed = design_candidate(m, 0.7, False, 60.0, CONFIG)
    h = proportion_effectsize(0.4, 0.3)
    n_c = math.ceil(NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=7 / 3))
    assert skewed["sample_size_per_arm"] == n_c
    assert n_c / 0.3 > even["sample_size_per_arm"] / 0.5


def test_choose_prefers_a_fitting_primary_design_then_the_shortest_expected() -> None:
    m = metric(mde=0.1)
    lead = metric(mde=0.1, leading=True, window_days=14, label="ativação em 14 dias")
    cands = [design_candidate(x, 0.5, s, 150.0, CONFIG) for x in (m, lead) for s in (False, True)]
    chosen = choose(cands)
    assert chosen is not None and chosen["fits"]
    assert chosen["name"] == "sequential"  # primary metric; a sequential test stops earlier
    assert verdict_of(chosen, CONFIG) == FITS
    slow = [design_candidate(m, 0.5, s, 30.0, CONFIG) for s in (False, True)]
    picked = choose(slow)
    assert picked is not None and picked["name"] == "fixed"  # the shortest maximum
    assert verdict_of(picked, CONFIG) == LONGER
    tiny = design_candidate(metric(mde=0.02), 0.5, False, 1.0, CONFIG)
    assert tiny["duration_days"] > 104 * 7 and verdict_of(tiny, CONFIG) == NOT_TESTABLE
    assert verdict_of(None, CONFIG) == NOT_TESTABLE


def test_a_leading_metric_fits_where_the_primary_window_cannot() -> None:
    primary = metric(name="reincidence_rate", direction="decrease", window_days=90, baseline=0.2)
    lead = dataclasses.replace(primary, window_days=30, leading=True, baseline=0.12, mde=0.05)
    cands = [design_candidate(x, 0.5, s, 250.0, CONFIG) for x in (primary, lead) for s in (0, 1)]
    assert not any(c["fits"] for c in cands if not c["metric"]["leading"])  # 90 days > 12 weeks
    chosen = choose(cands)
    assert chosen is not None and chosen["metric"]["leading"] and chosen["fits"]
    assert chosen["metric"]["window_days"] == 30


def test_rollout_is_sized_as_a_difference_in_differences() -> None:
    m = metric(baseline=0.25, mde=0.15, window_days=30)
    regions = [("A", 20.0), ("B", 10.0), ("C", 15.0), ("D", 5.0)]
    alt = plan_rollout(m, regions, [], CONFIG)
    # largest regions first until half of the volume: A (20) + C (15) = 35 of 50
    assert alt["treated_regions"] == ["A", "C"] and alt["untouched_regions"] == ["B", "D"]
    v_t, v_c, pre = 35.0, 15.0, CONFIG.rollout.pre_weeks  # type: ignore[union-attr]
    var = 0.25 * 0.75

    def sd(weeks: float) -> float:
        return math.sqrt(
            var * (1 / (v_t * weeks) + 1 / (v_c * weeks) + 1 / (v_t * pre) + 1 / (v_c * pre))
        )

    weeks = alt["entry_weeks"]
    assert Z * sd(weeks) <= 0.15 < Z * sd(weeks - 1)
    assert alt["duration_days"] == weeks * 7 + 30
    twelve = next(r for r in alt["mde_over_time"] if r["weeks"] == 12)
    assert twelve["mde"] == pytest.approx(Z * sd((84 - 30) / 7))
    # a region's own change: that region against all the others
    own = plan_rollout(m, regions, ["B"], CONFIG)
    assert own["treated_regions"] == ["B"] and own["untouched_regions"] == ["A", "C", "D"]
    alone = plan_rollout(m, [("A", 20.0)], [], CONFIG)
    assert alone["possible"] is False
