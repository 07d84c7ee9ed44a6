"""Onboarding detectors: kits, regions, targets.

All three read the lookback's onboarding cohort (analyzers/cohorts.py): rates are
over *matured* onboardings only (started at least `activation_window_days` before
the end), so a young onboarding never counts as a failure. Each returns a finding
for every comparison it could compute; the rules decide which are insights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.cohorts import (
    activation_window,
    counts,
    onboarding_cohort,
    onboarding_history,
    scalar_extra,
    values_of,
)
from chanperf.analysis.detectors.comparisons import rate_vs_value, two_proportions
from chanperf.analysis.findings import Finding, KitEffectiveness, OnboardingTarget, RegionFailure
from chanperf.core.changepoint import scan_change
from chanperf.core.stats import compare_ranks, median_above, median_interval

POLICY = "onboarding"


def prescribed_kit(ctx: AnalysisContext, region: str) -> tuple[str | None, str]:
    """The kit the policy prescribes in `region` and the parameter path that says so."""
    regions = ctx.policies.get(f"{POLICY}.regions", {}) or {}
    override = regions.get(region) if isinstance(regions, dict) else None
    if isinstance(override, dict) and override.get("default_kit"):
        return str(override["default_kit"]), f"regions.{region}.default_kit"
    kit = ctx.policies.get(f"{POLICY}.default_kit", None)
    return (None if kit is None else str(kit)), "default_kit"


def _days(frame: pd.DataFrame) -> list[float]:
    return [float(d) for d in frame["days"].dropna()]


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def detect_kit_effectiveness(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Per region: activation-within-window rate of each other kit (b) vs the prescribed kit (a).

    Two-proportion test on matured onboardings; activation days (of matured
    onboardings that completed before the end, in window or late) compared with
    Mann–Whitney, its p-value in `extra.days_p_value`.
    """
    cohort = onboarding_cohort(conn, ctx)
    matured = cohort[cohort["matured"]]
    findings: list[Finding] = []
    for region in values_of(matured, "region"):
        policy_kit, parameter = prescribed_kit(ctx, region)
        in_region = matured[matured["region"] == region]
        reference = in_region[in_region["kit"] == policy_kit]
        if policy_kit is None or reference.empty:
            continue  # nothing to compare against: the policy kit was not used here
        x_a, n_a = counts(reference, "activated")
        days_a = _days(reference)
        for kit in values_of(in_region, "kit"):
            if kit == policy_kit:
                continue
            other = in_region[in_region["kit"] == kit]
            x_b, n_b = counts(other, "activated")
            fields = two_proportions(x_b, n_b, x_a, n_a)
            days_b = _days(other)
            days_p = compare_ranks(days_a, days_b).p_value if days_a and days_b else None
            findings.append(
                KitEffectiveness(
                    **ctx.finding_fields({"region": region}),
                    **fields,
                    region=region,
                    policy=POLICY,
                    parameter=parameter,
                    policy_value=policy_kit,
                    policy_kit=policy_kit,
                    better_kit=kit,
                    ratio=None if fields["rate_a"] == 0 else fields["rate_b"] / fields["rate_a"],
                    median_days_a=_median(days_a),
                    median_days_b=_median(days_b),
                    extra=scalar_extra(
                        {
                            "activated_a": x_a,
                            "activated_b": x_b,
                            "completed_a": len(days_a),
                            "completed_b": len(days_b),
                            "days_p_value": days_p,
                            "activation_window_days": activation_window(ctx),
                        }
                    ),
                )
            )
    return findings


def detect_region_patterns(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Per region: failure rate (b) vs the rest of the channel (a).

    Failure = a matured onboarding with status FAILED (failed before the end of the
    analysed data). Not being activated within the window is the activation rate's
    business (analyze_onboarding_patterns); its complement is quoted in `extra` as
    `not_activated_rate_a/b`. Onboardings of accounts without a region are part of
    the rest of the channel.

    Whether the difference is a policy gap or a recent slip (`history_before_change`):
    the region's weekly failure rate over the change-point history is scanned for a
    change, and the region is compared with the rest in the weeks before it.
    """
    cohort = onboarding_cohort(conn, ctx)
    matured = cohort[cohort["matured"]]
    history = onboarding_history(conn, ctx)
    history = history[history["matured"]]
    findings: list[Finding] = []
    for region in values_of(matured, "region"):
        mask = matured["region"] == region
        inside, rest = matured[mask], matured[~mask]
        if rest.empty:
            continue  # a channel of one region has nothing to compare with
        x_a, n_a = counts(rest, "failed")
        x_b, n_b = counts(inside, "failed")
        fields = two_proportions(x_b, n_b, x_a, n_a)
        findings.append(
            RegionFailure(
                **ctx.finding_fields({"region": region}),
                **fields,
                **history_before_change(ctx, history, region, "failed"),
                region=region,
                ratio=None if fields["rate_a"] == 0 else fields["rate_b"] / fields["rate_a"],
                extra=scalar_extra(
                    {
                        "failed_a": x_a,
                        "failed_b": x_b,
                        "not_activated_rate_a": 1 - counts(rest, "activated")[0] / n_a,
                        "not_activated_rate_b": 1 - counts(inside, "activated")[0] / n_b,
                        "activation_window_days": activation_window(ctx),
                    }
                ),
            )
        )
    return findings


def activation_drop(
    ctx: AnalysisContext, history: pd.DataFrame, region: str | None
) -> dict[str, Any]:
    """When the cut's weekly activation rate fell (the change-point scan over the history,
    matured onboardings by start week): `change_start`, `change_p_value` and `rate_before`,
    the rate before it. Nothing when the history is too short or the change was a rise."""
    cut = history if region is None else history[history["region"] == region]
    weekly = cut.groupby("week")["activated"].agg(["sum", "size"]).sort_index()
    if weekly.empty:
        return {}
    total, units = weekly["sum"].to_numpy(float), weekly["size"].to_numpy(float)
    rate = float(total.sum() / units.sum())
    change = scan_change(total, units, rate * (1 - rate), ctx.config.changepoint_min_weeks)
    if change is None or change.effect >= 0:
        return {}
    return {
        "change_start": weekly.index[change.index],
        "change_p_value": change.p_value,
        "rate_before": change.mean_before,
    }


def history_before_change(
    ctx: AnalysisContext, history: pd.DataFrame, region: str, flag: str
) -> dict[str, Any]:
    """Was the region's difference there before its rate changed?

    Scans the region's weekly rate of `flag` (matured onboardings of the history, by start
    week) for its most likely change, then compares the region (b) with the rest of the
    channel (a) on the onboardings started before that week. Fields: `change_start`,
    `change_p_value` (the scan's), `rate_a_before`, `rate_b_before`, `effect_before`,
    `p_value_before`; none of them when the history is too short to scan.
    """
    inside = history[history["region"] == region]
    weekly = inside.groupby("week")[flag].agg(["sum", "size"]).sort_index()
    if weekly.empty:
        return {}
    total, units = weekly["sum"].to_numpy(float), weekly["size"].to_numpy(float)
    rate = float(total.sum() / units.sum())
    change = scan_change(total, units, rate * (1 - rate), ctx.config.changepoint_min_weeks)
    if change is None:
        return {}
    start = weekly.index[change.index]
    before = history[history["week"] < start]
    mine = before["region"] == region
    x_b, n_b = counts(before[mine], flag)
    x_a, n_a = counts(before[~mine], flag)
    out: dict[str, Any] = {"change_start": start, "change_p_value": change.p_value}
    if n_a and n_b:
        compared = two_proportions(x_b, n_b, x_a, n_a)
        out |= {
            "rate_a_before": compared["rate_a"],
            "rate_b_before": compared["rate_b"],
            "effect_before": compared["effect"],
            "p_value_before": compared["p_value"],
        }
    return out


def analyze_onboarding_patterns(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Channel and per-region activation rate vs `target_activation_rate` (binomial, 'less'),
    and median activation days vs `max_activation_days` (sign test, 'median above').

    The activation-rate finding also says whether the cut's rate fell at some week of the
    change-point history (`activation_drop`): below target only since a drop is that drop's
    insight (metric_drift), not a second one.

    Activation days are those of matured onboardings that completed before the end
    (late completions included); onboardings that never completed have no duration.
    """
    cohort = onboarding_cohort(conn, ctx)
    matured = cohort[cohort["matured"]]
    history = onboarding_history(conn, ctx)
    history = history[history["matured"]]
    target = ctx.policies.get(f"{POLICY}.target_activation_rate", None)
    max_days = ctx.policies.get(f"{POLICY}.max_activation_days", None)
    cuts: list[tuple[str | None, pd.DataFrame]] = [(None, matured)]
    cuts += [(r, matured[matured["region"] == r]) for r in values_of(matured, "region")]
    findings: list[Finding] = []
    for region, group in cuts:
        if group.empty:
            continue
        base: dict[str, Any] = {
            **ctx.finding_fields(None if region is None else {"region": region}),
            "region": region,
            "policy": POLICY,
        }
        if target is not None:
            x, n = counts(group, "activated")
            fields = rate_vs_value(x, n, float(target), "less")
            findings.append(
                OnboardingTarget(
                    **base,
                    **fields,
                    parameter="target_activation_rate",
                    metric="activation_rate",
                    value=fields["rate_b"],
                    target=float(target),
                    gap=float(target) - fields["rate_b"],
                    **activation_drop(ctx, history, region),
                    extra=scalar_extra(
                        {"activated": x, "activation_window_days": activation_window(ctx)}
                    ),
                )
            )
        days = _days(group)
        if max_days is not None and days:
            limit = float(max_days)
            median, p_value = median_above(days, limit)
            low, high = median_interval(days)
            findings.append(
                OnboardingTarget(
                    **base,
                    n=len(days),
                    n_b=len(days),
                    p_value=p_value,
                    effect=median - limit,
                    relative_effect=None if limit == 0 else (median - limit) / limit,
                    ci_low=None if low is None else low - limit,
                    ci_high=None if high is None else high - limit,
                    parameter="max_activation_days",
                    policy_value=limit,
                    metric="median_activation_days",
                    value=median,
                    target=limit,
                    gap=median - limit,
                    extra=scalar_extra(
                        {
                            "above_limit": sum(1 for d in days if d > limit),
                            "below_limit": sum(1 for d in days if d < limit),
                            "median_ci_low": low,
                            "median_ci_high": high,
                            "matured": len(group),
                        }
                    ),
                )
            )
    return findings
