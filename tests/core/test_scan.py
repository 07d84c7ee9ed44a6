"""The threshold scan and the many-group comparison of chanperf.core.scan.

The statistics are checked against statsmodels (the pooled z of every candidate, found
by brute force) and against a plain unit-level permutation test; detection and the
false rate are measured on simulated channels whose truth is known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

from chanperf.core.scan import holm, level_of, scan_split
from chanperf.core.settings import REPO_ROOT

EDGES = (5.0, 8.0)  # the configured edges, which do not name the simulated jump


def _rule_alpha() -> float:
    """The significance level the discount rule applies (rules/reactivation.yaml)."""
    doc = yaml.safe_load(Path(REPO_ROOT / "rules" / "reactivation.yaml").read_text())
    (rule,) = [r for r in doc["rules"] if r["id"] == "high_discount_raises_reincidence"]
    (cond,) = [c for c in rule["when"]["all"] if c["field"] == "p_value_adj"]
    return float(cond["lt"])


def _config() -> dict:
    return yaml.safe_load((REPO_ROOT / "rules" / "analysis" / "config.yaml").read_text())


def test_levels_are_the_step_multiples_and_edges_at_or_above_a_value() -> None:
    values = np.array([0, 0.4, 1, 1.0000000001, 4.99, 5, 5.01, 7.2, 7.6, 8.01, 14.5])
    assert level_of(values, 1.0, ()).tolist() == [0, 1, 1, 1, 5, 5, 6, 8, 8, 9, 15]
    # an edge between two multiples is a level of its own
    assert level_of(values, 1.0, (7.5,)).tolist() == [0, 1, 1, 1, 5, 5, 6, 7.5, 8, 9, 15]
    assert level_of(values, 5.0, ()).tolist() == [0, 5, 5, 5, 5, 5, 10, 10, 10, 10, 15]


# Hand-worked fixture: levels (n wins, relapsed)
# 0: (8, 2)  2: (1, 0)  3: (1, 0)  5: (1, 0)  6: (1, 1)  7: (1, 1)  8: (2, 2)
# 9: (2, 1)  10: (1, 1)  12: (1, 1)           19 wins, 9 relapsed.
FIXTURE = {0: (8, 2), 2: (1, 0), 3: (1, 0), 5: (1, 0), 6: (1, 1), 7: (1, 1), 8: (2, 2),
           9: (2, 1), 10: (1, 1), 12: (1, 1)}  # fmt: skip


def _units(table: dict[float, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    levels, events = [], []
    for level, (n, x) in table.items():
        levels += [level] * n
        events += [True] * x + [False] * (n - x)
    return np.array(levels, dtype=float), np.array(events)


def test_hand_computed_fixture_rates_on_both_sides() -> None:
    levels, events = _units(FIXTURE)
    scan = scan_split(levels, events, min_group=4, permutations=999)
    assert scan is not None
    # Splits with >= 4 units a side: t = 0, 2, 3, 5, 6, 7, 8 (19 - 15 = 4 above 8).
    # t = 5: <= 5 holds 8 + 1 + 1 + 1 = 11 units, 2 events; > 5 holds 8, 7 events. Pooled
    # 9/19: z = (7/8 - 2/11) / sqrt(9/19 * 10/19 * (1/11 + 1/8)) = 0.6932 / 0.2320 = 2.988,
    # above t = 6: (6/7 - 3/12) / 0.2375 = 2.557 and t = 3: (7/9 - 2/10) / 0.2294 = 2.518.
    assert scan.threshold == 5.0
    assert (scan.x_a, scan.n_a, scan.x_b, scan.n_b) == (2, 11, 7, 8)
    assert scan.rate_a == pytest.approx(2 / 11) and scan.rate_b == pytest.approx(7 / 8)
    assert scan.statistic == scan.max_statistic == pytest.approx(2.988, abs=1e-3)
    assert scan.candidates == 7
    # The same maximum by brute force with statsmodels' pooled z-test.
    seen = sorted(FIXTURE)

    def side(t: float, above: bool) -> tuple[int, int]:
        keys = [k for k in seen if (k > t) == above]
        return sum(FIXTURE[k][1] for k in keys), sum(FIXTURE[k][0] for k in keys)

    zs = {}
    for t in seen:
        (x_b, n_b), (x_a, n_a) = side(t, True), side(t, False)
        if min(n_a, n_b) >= 4:
            zs[t] = proportions_ztest([x_b, x_a], [n_b, n_a])[0]
    assert len(zs) == scan.candidates and max(zs, key=zs.get) == 5
    assert zs[5] == pytest.approx(scan.statistic)
    # The split's own one-sided p is far below the scan's: 7 questions were asked.
    assert scan.p_value_split == pytest.approx(sps.norm.sf(scan.statistic))
    assert scan.p_value > 3 * scan.p_value_split


def test_a_prior_split_is_kept_only_when_nearly_as_good() -> None:
    levels, events = _units(FIXTURE)
    far = scan_split(levels, events, min_group=4, permutations=999, prior=(3.0,), prior_margin=0.25)
    near = scan_split(levels, events, min_group=4, permutations=999, prior=(3.0,), prior_margin=0.5)
    assert far is not None and near is not None
    assert far.threshold == 5.0  # 2.518 is 0.47 below 2.988
    assert near.threshold == 3.0 and near.statistic == pytest.approx(2.518, abs=1e-3)
    assert (near.x_a, near.n_a, near.x_b, near.n_b) == (2, 10, 7, 9)
    # the test is the scan's either way
    assert near.p_value == far.p_value and near.max_statistic == far.max_statistic


def test_scan_p_value_matches_a_plain_unit_permutation_test() -> None:
    levels, events = _units(FIXTURE)
    scan = scan_split(levels, events, min_group=4, permutations=4999)
    assert scan is not None
    # Reference: shuffle the units' labels themselves and redo the whole scan.
    rng = np.random.default_rng(123)
    shuffles = 2000
    hits = 0
    for _ in range(shuffles):
        again = scan_split(levels, rng.permutation(events), min_group=4, permutations=99)
        assert again is not None
        hits += again.statistic >= scan.statistic - 1e-12
    reference = (1 + hits) / (1 + shuffles)
    # Both are Monte Carlo estimates of the same p (~0.03): within a few standard errors.
    se = np.sqrt(reference * (1 - reference) / shuffles)
    assert abs(scan.p_value - reference) < 4 * se + 0.004


def test_same_data_same_p_value() -> None:
    levels, events = _units(FIXTURE)
    a = scan_split(levels, events, min_group=4, permutations=999)
    b = scan_split(levels[::-1], events[::-1], min_group=4, permutations=999)
    assert a == b


def test_too_few_units_on_a_side_is_no_scan() -> None:
    levels, events = _units(FIXTURE)
    assert scan_split(levels, events, min_group=10, permutations=99) is None


def _channel(rng: np.random.Generator, n: int, rate: callable) -> tuple[np.ndarray, np.ndarray]:
    """Matured wins: half without discount, half uniform on (0, 15] at 0.01; relapse by rate()."""
    discount = np.where(rng.random(n) < 0.5, 0.0, np.round(rng.uniform(0.01, 15, n), 2))
    relapsed = rng.random(n) < rate(discount)
    return discount, relapsed


def _scan(discount: np.ndarray, relapsed: np.ndarray, permutations: int | None = None):
    cfg = _config()
    return scan_split(
        level_of(discount, float(cfg["discount_level_step_pct"]), EDGES),
        relapsed,
        min_group=int(cfg["split_min_group_size"]),
        permutations=permutations or int(cfg["scan_permutations"]),
        prior=EDGES,
        prior_margin=float(cfg["split_prior_margin"]),
    )


def test_a_jump_the_config_does_not_name_is_found_within_one_level() -> None:
    alpha = _rule_alpha()
    rng = np.random.default_rng(6)
    runs, found, within, exact = 40, 0, 0, 0
    for _ in range(runs):
        discount, relapsed = _channel(rng, 800, lambda d: np.where(d > 6, 0.40, 0.12))
        scan = _scan(discount, relapsed, permutations=199)
        assert scan is not None
        found += scan.p_value < alpha
        within += abs(scan.threshold - 6) <= 1
        exact += scan.threshold == 6
    # 800 wins (~210 above 6 %): 0.40 vs 0.12 is found every time, at the jump's level.
    assert found == runs
    assert within >= runs - 1 and exact >= runs * 0.75, (within, exact)


@pytest.mark.slow
def test_null_false_rate_is_within_alpha_over_200_channels() -> None:
    alpha = _rule_alpha()
    rng = np.random.default_rng(2026)
    sims = 200
    scan_rejects, naive_rejects = 0, 0
    for _ in range(sims):
        discount, relapsed = _channel(rng, 400, lambda d: np.full(d.shape, 0.15))
        scan = _scan(discount, relapsed, permutations=199)
        assert scan is not None
        scan_rejects += scan.p_value < alpha
        naive_rejects += scan.p_value_split < alpha  # the best split tested as if chosen first
    rate = scan_rejects / sims
    # Within alpha: no evidence (one-sided binomial at 1 %) that the false rate exceeds it.
    assert sps.binomtest(scan_rejects, sims, alpha, alternative="greater").pvalue > 0.01, rate
    # The correction is what keeps it there: the uncorrected best split is "significant"
    # in many more null channels.
    assert naive_rejects / sims > 3 * alpha


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.02, 0.04 -> 3 x 0.01 = 0.03, max(0.03, 2 x 0.02) = 0.04, max(0.04, 0.04)
    out = holm(np.array([0.04, np.nan, 0.01, 0.02]))
    assert np.isnan(out[1])
    assert out[[0, 2, 3]] == pytest.approx([0.04, 0.03, 0.04])
    assert holm(np.array([0.3]))[0] == pytest.approx(0.3)
