"""Deterministic assignment (the contract of docs/experiments.md) and the experiment config."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from scipy.stats import chisquare

from chanperf.core.errors import ValidationError
from chanperf.core.settings import REPO_ROOT
from chanperf.experiments.design import assign_arm, load_experiment_config, sample_size_per_arm

HALF = [("control", 0.5), ("treatment", 0.5)]


def test_golden_values_any_service_can_reproduce() -> None:
    # u = first 8 bytes of sha256("exp-1:42"), big-endian, / 2**64 = 0.25032...
    digest = hashlib.sha256(b"exp-1:42").digest()
    assert int.from_bytes(digest[:8], "big") / 2**64 == pytest.approx(0.2503244036246865)
    assert assign_arm(42, "exp-1", HALF) == "control"
    assert assign_arm(1, "exp-1", HALF) == "treatment"  # u = 0.8034
    three = [("a", 0.2), ("b", 0.3), ("c", 0.5)]
    assert [assign_arm(i, "exp-1", three) for i in (12345, 42, 1)] == ["a", "b", "c"]
    assert assign_arm("42", "exp-1", HALF) == assign_arm(42, "exp-1", HALF)


def test_assignment_is_deterministic_and_depends_on_the_key() -> None:
    first = [assign_arm(i, "k1", HALF) for i in range(2000)]
    assert first == [assign_arm(i, "k1", HALF) for i in range(2000)]
    other = [assign_arm(i, "k2", HALF) for i in range(2000)]
    assert first != other  # independent experiments do not share arms


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.2, 0.8), (0.1, 0.3, 0.6)])
def test_shares_hold_within_sampling_error_over_100k_ids(shares: tuple[float, ...]) -> None:
    arms = [(f"arm{i}", s) for i, s in enumerate(shares)]
    counts = dict.fromkeys((name for name, _ in arms), 0)
    n = 100_000
    for account in range(n):
        counts[assign_arm(account, "shares-test", arms)] += 1
    observed = [counts[name] for name, _ in arms]
    assert chisquare(observed, [s * n for s in shares]).pvalue > 0.001
    for (name, share), seen in zip(arms, observed, strict=True):
        assert abs(seen / n - share) < 4 * (share * (1 - share) / n) ** 0.5, name


def test_sample_size_is_cohens_table_value() -> None:
    # Cohen (1988) table 6.4.1: h = 0.2, alpha 0.05 two-sided, power 0.8 -> 392 per group
    p1 = 0.5
    import math

    p2 = math.sin(math.asin(math.sqrt(p1)) + 0.1) ** 2  # h = 0.2 exactly
    assert sample_size_per_arm(p1, p2, 0.05, 0.8) == 393  # 392.4 rounded up


def test_shipped_config_loads_and_matches_parameters() -> None:
    cfg = load_experiment_config(REPO_ROOT / "rules")
    assert sum(s for _, s in cfg.arms) == pytest.approx(1)
    assert cfg.for_parameter("onboarding.regions.ANY.default_kit") is not None
    assert cfg.for_parameter("reactivation.max_discount_pct") is not None
    assert cfg.for_parameter("pricing.max_exception_rate") is None


def test_bad_config_is_reported_with_positions(tmp_path: Path) -> None:
    (tmp_path / "analysis").mkdir()
    text = (REPO_ROOT / "rules/analysis/experiments.yaml").read_text()
    text = text.replace("metric: reincidence_rate", "metric: happiness", 1)
    text = text.replace(
        'share: 0.5}\n  - {name: "treatment", share: 0.5}',
        'share: 0.5}\n  - {name: "treatment", share: 0.6}',
    )
    (tmp_path / "analysis/experiments.yaml").write_text(text)
    with pytest.raises(ValidationError) as err:
        load_experiment_config(tmp_path)
    message = str(err.value)
    assert "happiness" in message and "shares must add up to 1" in message
    assert "experiments.yaml:" in message


def test_bad_limits_and_designs_are_reported_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "analysis").mkdir()
    text = (REPO_ROOT / "rules/analysis/experiments.yaml").read_text()
    lines = text.splitlines()
    limit_line = next(i for i, line in enumerate(lines) if line.startswith("max_duration_weeks"))
    text = text.replace("max_duration_weeks: 12", "max_duration_weeks: twelve")
    text = text.replace("spending: obrien_fleming", "spending: haybittle")
    text = text.replace("window_days: 30,", "window_days: 0,")
    text = text.replace("treatment_shares: [0.7]", "treatment_shares: [1.5]")
    (tmp_path / "analysis/experiments.yaml").write_text(text)
    with pytest.raises(ValidationError) as err:
        load_experiment_config(tmp_path)
    message = str(err.value)
    assert f"experiments.yaml:{limit_line + 1}" in message and "max_duration_weeks" in message
    assert "'haybittle' is not one of obrien_fleming, pocock" in message
    assert "window_days: must be > 0" in message
    assert "treatment_shares: shares in (0, 1)" in message


def test_shipped_config_holds_the_limit_and_the_leading_metrics() -> None:
    cfg = load_experiment_config(REPO_ROOT / "rules")
    assert cfg.max_duration_weeks == 12 and cfg.mde_horizons_weeks == (4, 8, 12, 26)
    discount = cfg.for_parameter("reactivation.max_discount_pct")
    assert discount is not None and discount.leading is not None
    assert discount.leading.window_days == 30
    assert cfg.sequential is not None and cfg.sequential.fractions == (0.25, 0.5, 0.75, 1.0)
