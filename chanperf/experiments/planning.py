"""Which experiment fits the organisation's limit: candidate designs, their detectable
effect over time, the verdict, and a staged rollout when no test fits.

Every candidate is a two-arm test of one metric (the primary one, or its leading
metric when history shows it sees enough of the primary's events), with a treatment
share, fixed-sample or group-sequential. Its size comes from statsmodels'
`NormalIndPower` on Cohen's h; a sequential design's maximum sample is the fixed one
times the spending plan's inflation factor (`chanperf.experiments.sequential`). A
design fits when its last read (entries, then the metric's window) is within
`max_duration_weeks`. Among those that fit, the plan takes the primary metric before
a leading one and then the shortest expected duration at the expected effect, so a
sequential design wins when it fits: a large effect stops it early.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower

from chanperf.experiments.design import ExperimentConfig, sample_size_per_arm
from chanperf.experiments.sequential import (
    boundaries,
    inflation_factor,
    stopping_odds,
)

FITS, LONGER, NOT_TESTABLE = "FITS", "LONGER_THAN_LIMIT", "NOT_TESTABLE"
_EDGE = 1e-6  # rates are kept inside (0, 1) for the arcsine transform


@dataclass(frozen=True)
class MetricChoice:
    """A metric a design can decide on: its window, rate today and the effect to detect."""

    name: str
    label: str
    window_days: int
    baseline: float
    expected_change: float  # signed, on this metric
    mde: float  # absolute, required by the plan's MDE rule
    direction: str
    leading: bool


def _h(p1: float, p2: float) -> float:
    return abs(2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1)))


def rate_after(baseline: float, h: float, direction: str) -> float | None:
    """The rate Cohen's h away from `baseline` in the better direction (None: out of [0, 1])."""
    phi = 2 * math.asin(math.sqrt(baseline)) + (h if direction == "increase" else -h)
    if not 0 <= phi <= math.pi:
        return None
    return math.sin(phi / 2) ** 2


def detectable_effect(
    baseline: float,
    direction: str,
    n_control: float,
    ratio: float,
    alpha: float,
    power: float,
    inflation: float = 1.0,
) -> float | None:
    """Smallest absolute change detected with `power` by n_control + ratio x n_control accounts.

    statsmodels solves Cohen's h for the sample (a sequential design counts as its
    sample / inflation); h is turned back into a rate on the better side of baseline.
    """
    n = n_control / inflation
    if n < 2:
        return None
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=n, alpha=alpha, power=power, ratio=ratio
    )
    target = rate_after(baseline, float(h), direction)
    return None if target is None else abs(target - baseline)


def mde_over_time(
    metric: MetricChoice,
    volume: float,
    control_share: float,
    cfg: ExperimentConfig,
    inflation: float = 1.0,
) -> list[dict[str, Any]]:
    """Per horizon: entries whose metric is known by then and the effect they detect."""
    rows = []
    for weeks in cfg.mde_horizons_weeks:
        entry_days = weeks * 7 - metric.window_days
        entries = max(volume * entry_days / 7, 0.0)
        n_c = entries * control_share
        mde = (
            detectable_effect(
                metric.baseline,
                metric.direction,
                n_c,
                (1 - control_share) / control_share,
                cfg.alpha,
                cfg.power,
                inflation,
            )
            if entry_days > 0
            else None
        )
        rows.append(
            {
                "weeks": weeks,
                "entries": math.floor(entries),
                "mde": mde,
                "relative_mde": None
                if mde is None or not metric.baseline
                else mde / metric.baseline,
                "detects_required": mde is not None and mde <= metric.mde + 1e-12,
            }
        )
    return rows


def _looks(
    cfg: ExperimentConfig, enrollment_days: int, window_days: int
) -> tuple[list[dict[str, Any]], float]:
    seq = cfg.sequential
    assert seq is not None
    fractions = seq.fractions
    bounds = boundaries(fractions, cfg.alpha, seq.spending)
    inflation = inflation_factor(fractions, cfg.alpha, cfg.power, seq.spending)
    looks = [
        {
            "look": k + 1,
            "information_fraction": t,
            "day": math.ceil(enrollment_days * t) + window_days,
            "boundary_z": bounds[k],
            "nominal_p": float(2 * norm.sf(bounds[k])),
        }
        for k, t in enumerate(fractions)
    ]
    return looks, inflation


def design_candidate(
    metric: MetricChoice,
    treatment_share: float,
    sequential: bool,
    volume: float,
    cfg: ExperimentConfig,
) -> dict[str, Any]:
    """One design: sizes, duration, whether it fits, its MDE table (and looks if sequential)."""
    c_share = 1 - treatment_share
    ratio = treatment_share / c_share
    target = min(
        max(
            metric.baseline + (metric.mde if metric.direction == "increase" else -metric.mde), _EDGE
        ),
        1 - _EDGE,
    )
    n_fixed = sample_size_per_arm(metric.baseline, target, cfg.alpha, cfg.power, ratio)
    looks: list[dict[str, Any]] = []
    inflation = 1.0
    if sequential:
        _, inflation = _looks(cfg, 0, 0)
    n_control = math.ceil(n_fixed * inflation)
    enrollment_weeks = math.ceil(n_control / c_share / volume)
    enrollment_days = enrollment_weeks * 7
    duration_days = enrollment_days + metric.window_days
    expected_days = float(duration_days)
    stop_by_limit = None
    limit_days = cfg.max_duration_weeks * 7
    if sequential and cfg.sequential is not None:
        looks, _ = _looks(cfg, enrollment_days, metric.window_days)
        bounds = [look["boundary_z"] for look in looks]
        fractions = [look["information_fraction"] for look in looks]
        expected_target = min(max(metric.baseline + metric.expected_change, _EDGE), 1 - _EDGE)
        n_t = n_control * ratio
        drift = _h(metric.baseline, expected_target) * math.sqrt(
            n_control * n_t / (n_control + n_t)
        )
        odds = stopping_odds(bounds, fractions, drift)
        for look, p in zip(looks, odds.stop_at_look, strict=True):
            look["stop_probability_at_expected"] = p
        expected_days = enrollment_days * odds.expected_fraction + metric.window_days
        stop_by_limit = sum(
            p for look, p in zip(looks, odds.stop_at_look, strict=True) if look["day"] <= limit_days
        )
    name = ("sequential" if sequential else "fixed") + ("_leading" if metric.leading else "")
    if treatment_share != 0.5:
        name += f"_t{round(treatment_share * 100)}"
    return {
        "name": name,
        "kind": "group_sequential" if sequential else "fixed",
        "metric": {
            "name": metric.name,
            "label": metric.label,
            "window_days": metric.window_days,
            "leading": metric.leading,
            "baseline": metric.baseline,
            "mde": metric.mde,
            "expected_change": metric.expected_change,
            "direction": metric.direction,
        },
        "treatment_share": treatment_share,
        "sample_size_per_arm": n_control,
        "sample_size_treatment": math.ceil(n_control * ratio),
        "fixed_sample_size_per_arm": n_fixed,
        "inflation_factor": inflation,
        "enrollment_weeks": enrollment_weeks,
        "duration_days": duration_days,
        "duration_weeks": enrollment_weeks + math.ceil(metric.window_days / 7),
        "expected_duration_days": expected_days,
        "stop_by_limit_probability": stop_by_limit,
        "fits": duration_days <= limit_days,
        "spending": cfg.sequential.spending if sequential and cfg.sequential else None,
        "looks": looks,
        "mde_over_time": mde_over_time(metric, volume, c_share, cfg, inflation),
    }


def choose(candidates: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The design a plan runs: a fitting one (primary metric first, then the shortest expected
    duration), else the shortest one (what it would take)."""
    fitting = [c for c in candidates if c["fits"]]
    if fitting:
        return min(
            fitting,
            key=lambda c: (c["metric"]["leading"], c["expected_duration_days"], c["name"]),
        )
    return min(candidates, key=lambda c: (c["duration_days"], c["name"]), default=None)


def _did_sd(p: float, treated: float, control: float, weeks: float, pre_weeks: int) -> float:
    """Standard error of a difference-in-differences of rates: four independent cells."""
    cells = [treated * weeks, control * weeks, treated * pre_weeks, control * pre_weeks]
    if min(cells) <= 0:
        return math.inf
    return math.sqrt(p * (1 - p) * sum(1 / c for c in cells))


def plan_rollout(
    metric: MetricChoice,
    region_volumes: Sequence[tuple[str, float]],
    population_regions: Sequence[str],
    cfg: ExperimentConfig,
) -> dict[str, Any]:
    """A staged rollout to some regions, read by a difference-in-differences against the rest.

    The regions get the change in full (no arms); the untouched regions and the
    `pre_weeks` before the rollout are the reference. It is sized like the tests: the
    normal approximation (scipy's quantiles) with the plan's alpha, power and MDE, on
    the binomial variance of each of the four cells. Region-week shocks are not in it,
    so it is a lower bound on what the rollout needs.
    """
    rollout = cfg.rollout
    volumes = {r: v for r, v in region_volumes if v > 0}
    if rollout is None:
        return {"kind": "staged_rollout", "possible": False, "reason": "sem configuração"}
    if population_regions:
        treated = [r for r in population_regions if r in volumes]
    else:
        treated = []
        total = sum(volumes.values())
        for region, _ in sorted(volumes.items(), key=lambda kv: (-kv[1], kv[0])):
            if sum(volumes[r] for r in treated) >= rollout.treated_share * total:
                break
            treated.append(region)
    untouched = sorted(r for r in volumes if r not in treated)
    if not treated or not untouched:
        return {
            "kind": "staged_rollout",
            "possible": False,
            "reason": "Não há regiões intocadas com volume para comparar.",
        }
    v_t = sum(volumes[r] for r in treated)
    v_c = sum(volumes[r] for r in untouched)
    z = float(norm.ppf(1 - cfg.alpha / 2) + norm.ppf(cfg.power))
    p = metric.baseline
    pre = rollout.pre_weeks
    floor = _did_sd(p, v_t, v_c, math.inf, pre) if pre > 0 else math.inf
    weeks: int | None = None
    if pre > 0 and z * floor < metric.mde:
        # smallest whole number of weeks of entries whose DiD detects the MDE
        need = (metric.mde / z) ** 2 - floor**2
        weeks = max(1, math.ceil(p * (1 - p) * (1 / v_t + 1 / v_c) / need))
    table = []
    for horizon in cfg.mde_horizons_weeks:
        entry_weeks = (horizon * 7 - metric.window_days) / 7
        mde = z * _did_sd(p, v_t, v_c, entry_weeks, pre) if entry_weeks > 0 else math.inf
        table.append(
            {
                "weeks": horizon,
                "mde": None if not math.isfinite(mde) else mde,
                "detects_required": math.isfinite(mde) and mde <= metric.mde + 1e-12,
            }
        )
    return {
        "kind": "staged_rollout",
        "possible": True,
        "reaches_mde": weeks is not None,
        "analysis": "difference_in_differences",
        "metric": {"name": metric.name, "label": metric.label, "window_days": metric.window_days},
        "treated_regions": sorted(treated),
        "untouched_regions": untouched,
        "treated_weekly_volume": v_t,
        "untouched_weekly_volume": v_c,
        "pre_weeks": pre,
        "mde": metric.mde,
        "entry_weeks": weeks,
        "duration_days": None if weeks is None else weeks * 7 + metric.window_days,
        "duration_weeks": None if weeks is None else weeks + math.ceil(metric.window_days / 7),
        "mde_over_time": table,
        "reason": None
        if weeks is not None
        else (
            f"Com {pre} semanas de histórico como referência, a diferença-em-diferenças não "
            "chega ao efeito mínimo exigido em tempo algum."
        ),
    }


def verdict_of(chosen: dict[str, Any] | None, cfg: ExperimentConfig) -> str:
    if chosen is None:
        return NOT_TESTABLE
    if chosen["fits"]:
        return FITS
    if chosen["duration_days"] > cfg.max_plannable_weeks * 7:
        return NOT_TESTABLE
    return LONGER
