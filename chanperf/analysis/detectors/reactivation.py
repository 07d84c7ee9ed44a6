"""Reactivation detectors: discounts, strategies,
reincidence against the policy, and discounts over the cap.

Rows 4–6 read resolved reactivations (analyzers/cohorts.py): win rates over the
WON/LOST attempts resolved in the lookback; reincidence over *matured* wins only,
those whose `reincidence_window_days` closed inside the lookback, so a recent win
never counts as "did not relapse". Each detector returns a finding for every comparison it could
compute; the rules decide which are insights.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, case, func, select
from sqlalchemy.sql import Select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.cohorts import (
    DAYS_PER_MONTH,
    counts,
    lookback_bounds,
    reactivation_cohort,
    reincidence_window,
    scalar_extra,
    values_of,
    wins_span,
)
from chanperf.analysis.detectors.comparisons import rate_vs_value, two_proportions
from chanperf.analysis.findings import (
    DiscountComplianceDrift,
    DiscountReincidence,
    Finding,
    ReincidenceAboveMax,
    StrategyEffectiveness,
)
from chanperf.core.periods import DAY_SECONDS
from chanperf.core.scan import SplitScan, holm, level_of, scan_split
from chanperf.models.source import ChannelReactivation
from chanperf.source.indexes import by_time

POLICY = "reactivation"


def _label(edge: float) -> str:
    return f"{edge:g}".replace(".", "_")


def _bucket_masks(discount: pd.Series, edges: tuple[float, ...]) -> list[tuple[str, pd.Series]]:
    """(label, mask) per bucket: <= e1, (e1, e2], ..., > ek."""
    out = [(f"le_{_label(edges[0])}", discount <= edges[0])]
    for low, high in itertools.pairwise(edges):
        out.append((f"{_label(low)}_to_{_label(high)}", (discount > low) & (discount <= high)))
    out.append((f"gt_{_label(edges[-1])}", discount > edges[-1]))
    return out


def _configured_buckets(matured: pd.DataFrame, edges: tuple[float, ...]) -> dict[str, Any]:
    """The configured buckets' sizes and reincidence, quoted next to what the scan found."""
    out: dict[str, Any] = {}
    if not edges:
        return out
    for label, mask in _bucket_masks(matured["discount_pct"], edges):
        x, n = counts(matured[mask], "relapsed")
        out[f"n_{label}"] = n
        out[f"reincidence_{label}"] = x / n if n else None
    return out


def _scan(levels: np.ndarray, relapsed: np.ndarray, ctx: AnalysisContext) -> SplitScan | None:
    cfg = ctx.config
    return scan_split(
        levels,
        relapsed,
        min_group=cfg.split_min_group_size,
        permutations=cfg.scan_permutations,
        prior=tuple(float(e) for e in cfg.discount_bucket_edges_pct),
        prior_margin=cfg.split_prior_margin,
    )


def _reference_level(
    levels: np.ndarray, relapsed: np.ndarray, threshold: float, ctx: AnalysisContext
) -> tuple[float, SplitScan | None]:
    """The top of the reference group: `threshold`, or a lower level if the wins between
    relapse materially more (see `detect_discount_patterns`)."""
    below = levels <= threshold
    inner = _scan(levels[below], relapsed[below], ctx)
    if inner is None or inner.rate_b - inner.rate_a < ctx.config.split_band_min_effect:
        return threshold, inner
    if inner.threshold <= 0:
        # "no discount vs any" sets wins of other strategies against discounted ones: a
        # strategy question, not grounds for a cap of 0.
        return threshold, inner
    return inner.threshold, inner


def detect_discount_patterns(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Reincidence of matured wins with discount > a threshold found in the data (b) vs
    those at or below a reference level (a).

    Levels: each matured win's discount rounded up to a multiple of
    `discount_level_step_pct` or to a configured `discount_bucket_edges_pct` edge
    (`chanperf.core.scan.level_of`), so the configured question is among those asked.
    Threshold (`high_threshold_pct`): the split "<= t vs > t" over the levels seen, with
    at least `split_min_group_size` wins on each side, whose reincidence differs most
    (pooled z of rate above − rate at or below; `chanperf.core.scan.scan_split`). Its
    `p_value` is the max-statistic permutation p-value over `scan_permutations`
    shuffles (one-sided: whether higher discounts relapse more), so picking the best
    of many splits does not make noise significant. The configured edges are a prior:
    the best of them is reported instead when its statistic is within
    `split_prior_margin` of the best split's (the data cannot tell them apart).

    Reference level (`low_threshold_pct`): the same scan inside the wins at or below t;
    when the wins above its best split relapse at least `split_band_min_effect` more
    than those at or below it, that split is the reference level and the band between
    belongs to neither group (`extra.n_between`, `extra.reincidence_between`);
    otherwise (or when that split is at 0, no discount) it is t. A band relapsing in
    between is no proof the cap can include it: the burden of proof stays on raising
    the cap. Leaving a worse band out only widens
    the difference, so the threshold's p-value stays a conservative test of the
    reported comparison; `effect`, `ci_low`/`ci_high` are that comparison's (nominal,
    not adjusted for the choice), its own two-proportion p in `extra.p_value_pair`.

    `suggested_max_discount_pct` = the reference level, never above the policy's cap.
    `cost_difference`: money per month spent on high-discount wins that relapse
    beyond the reference rate = high wins per month × (rate_b − rate_a) × mean cost of
    a high-discount attempt (cost includes the discount); lost revenue of relapsed
    accounts is not counted (`extra.cost_basis`).
    """
    cfg = ctx.config
    edges = tuple(sorted(float(e) for e in cfg.discount_bucket_edges_pct))
    cohort = reactivation_cohort(conn, ctx)
    matured = cohort[cohort["matured"]]
    if matured.empty:
        return []
    discount = matured["discount_pct"].to_numpy(float)
    relapsed = matured["relapsed"].to_numpy(bool)
    levels = level_of(discount, cfg.discount_level_step_pct, edges)
    scan = _scan(levels, relapsed, ctx)
    if scan is None:
        return []
    low, inner = _reference_level(levels, relapsed, scan.threshold, ctx)
    low_mask, high_mask = levels <= low, levels > scan.threshold
    between = ~low_mask & ~high_mask
    high = matured[high_mask]
    x_a, n_a = int(relapsed[low_mask].sum()), int(low_mask.sum())
    cap_value = ctx.policies.get(f"{POLICY}.max_discount_pct", None)
    cap = None if cap_value is None else float(cap_value)
    suggested = low if cap is None else min(low, cap)
    fields = two_proportions(scan.x_b, scan.n_b, x_a, n_a)
    p_value_pair = fields.pop("p_value")
    # Matured wins resolve over a span as long as the lookback (its start and end moved
    # back by the window).
    start, end = lookback_bounds(ctx)
    months = (end - start).total_seconds() / DAY_SECONDS / DAYS_PER_MONTH
    mean_cost = float(high["cost"].mean())
    n_b = scan.n_b
    extra_relapses = n_b / months * fields["effect"] if months > 0 else None
    cost_difference = None if extra_relapses is None else round(extra_relapses * mean_cost, 2)
    n_between = int(between.sum())
    extra: dict[str, Any] = {
        "relapsed_a": x_a,
        "relapsed_b": scan.x_b,
        "n_between": n_between,
        "reincidence_between": relapsed[between].mean() if n_between else None,
        # the split itself, before the reference level was looked for
        "reincidence_le_threshold": scan.rate_a,
        "n_le_threshold": scan.n_a,
        "max_discount_a": float(discount[low_mask].max()),
        "min_discount_b": float(discount[high_mask].min()),
        "scan_statistic": scan.statistic,
        "scan_max_statistic": scan.max_statistic,
        "scan_candidates": scan.candidates,
        "scan_permutations": scan.permutations,
        "scan_level_step_pct": cfg.discount_level_step_pct,
        "p_value_split_one_sided": scan.p_value_split,
        "p_value_pair": p_value_pair,
        "reference_scan_level": None if inner is None else inner.threshold,
        "reference_scan_effect": None if inner is None else inner.rate_b - inner.rate_a,
        "reference_scan_p_value": None if inner is None else inner.p_value,
        "test": "max_statistic_permutation_split_scan",
        **_configured_buckets(matured, edges),
        "high_wins_per_month": n_b / months if months > 0 else None,
        "extra_relapses_per_month": extra_relapses,
        "mean_cost_high": mean_cost,
        "mean_discount_high": float(high["discount_pct"].mean()),
        "cost_basis": "high_wins_per_month*reincidence_diff*mean_attempt_cost",
        "reincidence_window_days": reincidence_window(ctx),
        **wins_span(ctx),
    }
    return [
        DiscountReincidence(
            **ctx.finding_fields(
                {"discount_gt": f"{scan.threshold:g}", "discount_lte": f"{low:g}"}
            ),
            **fields,
            p_value=scan.p_value,
            policy=POLICY,
            parameter="max_discount_pct",
            policy_value=cap,
            high_threshold_pct=scan.threshold,
            low_threshold_pct=low,
            current_max_discount_pct=cap,
            suggested_max_discount_pct=suggested,
            cost_difference=cost_difference,
            extra=scalar_extra(extra),
        )
    ]


def _most_used(group: pd.DataFrame) -> str:
    sizes = group.groupby("strategy").size()
    # Ties go to the first code in sort order so the choice is stable across runs.
    return str(sorted(sizes.index, key=lambda s: (-int(sizes[s]), str(s)))[0])


def analyze_strategy_effectiveness(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Per segment: win rate (WON among resolved) of each strategy seen (b) vs the most used one (a).

    The most used strategy is the one with the most resolved attempts in the segment
    over the lookback. Every other strategy seen in the segment is compared with it,
    so a segment with k strategies asks k − 1 questions: `p_value` is Holm-adjusted
    over those comparisons (`chanperf.core.scan.holm`), the comparison's own
    two-proportion p in `extra.p_value_unadjusted`; with one comparison they are equal. Reincidence of both (matured wins, see cohorts) is
    reported with its own two-proportion comparison in `extra` (`reincidence_p_value`,
    `reincidence_ci_*` of b − a), so a rule can require "no worse reincidence".
    """
    cohort = reactivation_cohort(conn, ctx)
    resolved, matured = cohort[cohort["in_lookback"]], cohort[cohort["matured"]]
    findings: list[Finding] = []
    for segment in values_of(resolved, "segment"):
        group = resolved[resolved["segment"] == segment]
        wins = matured[matured["segment"] == segment]
        current = _most_used(group)
        strategies = values_of(group, "strategy")
        won_n = [counts(group[group["strategy"] == s], "won") for s in strategies]
        won_a, n_a = won_n[strategies.index(current)]
        raw = [
            np.nan if s == current else two_proportions(w, n, won_a, n_a)["p_value"]
            for s, (w, n) in zip(strategies, won_n, strict=True)
        ]
        adjusted = holm(np.array(raw))
        ref_matured = wins[wins["strategy"] == current]
        for k, strategy in enumerate(strategies):
            if strategy == current:
                continue
            won_b, n_b = won_n[k]
            other_matured = wins[wins["strategy"] == strategy]
            rel_a, mat_a = counts(ref_matured, "relapsed")
            rel_b, mat_b = counts(other_matured, "relapsed")
            extra: dict[str, Any] = {
                "won_a": won_a,
                "won_b": won_b,
                "matured_a": mat_a,
                "matured_b": mat_b,
                "relapsed_a": rel_a,
                "relapsed_b": rel_b,
                "strategies_compared": len(strategies) - 1,
                "p_value_unadjusted": raw[k],
            }
            rel = two_proportions(rel_b, mat_b, rel_a, mat_a) if mat_a and mat_b else None
            if rel is not None:
                extra.update(
                    reincidence_p_value=rel["p_value"],
                    reincidence_ci_low=rel["ci_low"],
                    reincidence_ci_high=rel["ci_high"],
                )
            findings.append(
                StrategyEffectiveness(
                    **ctx.finding_fields({"segment": segment}),
                    **{
                        **two_proportions(won_b, n_b, won_a, n_a),
                        "p_value": float(adjusted[k]),
                    },
                    segment=segment,
                    current_strategy=current,
                    better_strategy=strategy,
                    reincidence_a=rel_a / mat_a if mat_a else None,
                    reincidence_b=rel_b / mat_b if mat_b else None,
                    reincidence_diff_ci_low=None if rel is None else rel["ci_low"],
                    extra=scalar_extra(extra),
                )
            )
    return findings


def detect_reincidence_patterns(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Per segment and per region: reincidence of matured wins vs `max_reincidence_rate`
    (exact binomial, one-sided 'greater')."""
    max_rate = ctx.policies.get(f"{POLICY}.max_reincidence_rate", None)
    if max_rate is None:
        return []
    limit = float(max_rate)
    cohort = reactivation_cohort(conn, ctx)
    matured = cohort[cohort["matured"]]
    findings: list[Finding] = []
    for dimension in ("segment", "region"):
        for value in values_of(matured, dimension):
            x, n = counts(matured[matured[dimension] == value], "relapsed")
            findings.append(
                ReincidenceAboveMax(
                    **ctx.finding_fields({dimension: value}),
                    **rate_vs_value(x, n, limit, "greater"),
                    region=value if dimension == "region" else None,
                    segment=value if dimension == "segment" else None,
                    policy=POLICY,
                    parameter="max_reincidence_rate",
                    dimension=dimension,
                    group=value,
                    max_rate=limit,
                    extra=scalar_extra(
                        {
                            "relapsed": x,
                            "reincidence_window_days": reincidence_window(ctx),
                            **wins_span(ctx),
                        }
                    ),
                )
            )
    return findings


def detect_compliance_drift(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Share of reactivations started in the lookback whose discount exceeds `max_discount_pct`,
    vs `discount_tolerance_rate` (exact binomial, one-sided 'greater').

    Every attempt started counts, whatever its status: the discount is granted when
    the attempt is made. The lookback rather than the recent weeks, because the
    tolerance is about the share of attempts over the cap and a few weeks rarely
    hold enough attempts to tell 12 % from 5 %; whether the share *moves* between
    recent and baseline weeks is the metric-drift detector's question.
    """
    cap_value = ctx.policies.get(f"{POLICY}.max_discount_pct", None)
    tolerance_value = ctx.policies.get(f"{POLICY}.discount_tolerance_rate", None)
    if cap_value is None or tolerance_value is None:
        return []
    cap, tolerance = float(cap_value), float(tolerance_value)
    r = ChannelReactivation.__table__
    start, end = lookback_bounds(ctx)
    over = r.c.discount_pct > Decimal(str(cap_value))
    query: Select[Any] = select(  # type: ignore[assignment]
        func.count(),
        func.sum(case((over, 1), else_=0)),
        func.sum(case((over, r.c.discount_pct), else_=0)),
    ).where(r.c.org_id == ctx.org_id, r.c.started_at >= start, r.c.started_at < end)
    row: Any = conn.execute(by_time(conn, query, r, r.c.started_at)).one()
    total, over_cap, over_discount = row
    n, x = int(total or 0), int(over_cap or 0)
    if n == 0:
        return []
    return [
        DiscountComplianceDrift(
            **ctx.finding_fields(),
            **rate_vs_value(x, n, tolerance, "greater"),
            policy=POLICY,
            parameter="discount_tolerance_rate",
            over_cap_count=x,
            tolerance=tolerance,
            max_discount_pct=cap,
            extra=scalar_extra({"mean_discount_over_cap": float(over_discount) / x if x else None}),
        )
    ]
