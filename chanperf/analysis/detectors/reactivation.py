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


def detect_discount_patterns(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Reincidence of matured wins with discount > the highest bucket edge (b) vs <= the lowest (a).

    Buckets come from `discount_bucket_edges_pct` (edges [5, 8]: <= 5, (5, 8], > 8).
    `suggested_max_discount_pct`: start at the lowest edge and raise it to the next
    edge while the bucket up to that edge relapses no more than the lowest bucket
    (observed rates); if the top bucket does not either, the suggestion is the current
    cap; never above the cap. Observed rates rather than a test, because the middle
    buckets hold a few dozen wins, too few to tell 20 % from 12 % either way; so the
    burden of proof stays on raising the cap. Each bucket's rate and its p-value
    against the lowest bucket are in `extra` (`reincidence_<bucket>`, `p_value_<bucket>`).
    `cost_difference`: money per month spent on high-discount wins that relapse
    beyond the low bucket's rate = high wins per month × (rate_b − rate_a) × mean
    cost of a high-discount attempt (cost includes the discount); lost revenue of
    relapsed accounts is not counted (`extra.cost_basis`).
    """
    edges = tuple(sorted(float(e) for e in ctx.config.discount_bucket_edges_pct))
    if not edges:
        return []
    cohort = reactivation_cohort(conn, ctx)
    matured = cohort[cohort["matured"]]
    buckets = _bucket_masks(matured["discount_pct"], edges)
    low, high = matured[buckets[0][1]], matured[buckets[-1][1]]
    if low.empty or high.empty:
        return []
    cap_value = ctx.policies.get(f"{POLICY}.max_discount_pct", None)
    cap = None if cap_value is None else float(cap_value)
    x_a, n_a = counts(low, "relapsed")
    x_b, n_b = counts(high, "relapsed")
    fields = two_proportions(x_b, n_b, x_a, n_a)
    extra: dict[str, Any] = {}
    suggested: float | None = edges[0]
    raising = True
    for (label, mask), upper in zip(buckets[1:], [*edges[1:], cap], strict=True):
        group = matured[mask]
        x, n = counts(group, "relapsed")
        extra[f"n_{label}"] = n
        if n == 0:
            raising = False  # no evidence that discounts up to `upper` are safe
            continue
        cmp = two_proportions(x, n, x_a, n_a)
        extra[f"reincidence_{label}"] = cmp["rate_b"]
        extra[f"p_value_{label}"] = cmp["p_value"]
        if raising and cmp["rate_b"] > cmp["rate_a"]:
            raising = False
        elif raising:
            suggested = upper
    if cap is not None and (suggested is None or suggested > cap):
        suggested = cap
    # Matured wins resolve over a span as long as the lookback (its start and end moved
    # back by the window).
    start, end = lookback_bounds(ctx)
    months = (end - start).total_seconds() / DAY_SECONDS / DAYS_PER_MONTH
    mean_cost = float(high["cost"].mean())
    extra_relapses = n_b / months * fields["effect"] if months > 0 else None
    cost_difference = None if extra_relapses is None else round(extra_relapses * mean_cost, 2)
    extra.update(
        {
            "relapsed_a": x_a,
            "relapsed_b": x_b,
            "high_wins_per_month": n_b / months if months > 0 else None,
            "extra_relapses_per_month": extra_relapses,
            "mean_cost_high": mean_cost,
            "mean_discount_high": float(high["discount_pct"].mean()),
            "cost_basis": "high_wins_per_month*reincidence_diff*mean_attempt_cost",
            "reincidence_window_days": reincidence_window(ctx),
            **wins_span(ctx),
        }
    )
    return [
        DiscountReincidence(
            **ctx.finding_fields(
                {"discount_gt": f"{edges[-1]:g}", "discount_lte": f"{edges[0]:g}"}
            ),
            **fields,
            policy=POLICY,
            parameter="max_discount_pct",
            policy_value=cap,
            high_threshold_pct=edges[-1],
            low_threshold_pct=edges[0],
            current_max_discount_pct=cap,
            suggested_max_discount_pct=suggested,
            cost_difference=cost_difference,
            extra=scalar_extra({f"n_{buckets[0][0]}": n_a, **extra}),
        )
    ]


def _most_used(group: pd.DataFrame) -> str:
    sizes = group.groupby("strategy").size()
    # Ties go to the first code in sort order so the choice is stable across runs.
    return str(sorted(sizes.index, key=lambda s: (-int(sizes[s]), str(s)))[0])


def analyze_strategy_effectiveness(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Per segment: win rate (WON among resolved) of each strategy (b) vs the most used one (a).

    The most used strategy is the one with the most resolved attempts in the segment
    over the lookback. Reincidence of both (matured wins, see cohorts) is reported with its own
    two-proportion comparison in `extra` (`reincidence_p_value`, `reincidence_ci_*`
    of b − a), so a rule can require "no worse reincidence".
    """
    cohort = reactivation_cohort(conn, ctx)
    resolved, matured = cohort[cohort["in_lookback"]], cohort[cohort["matured"]]
    findings: list[Finding] = []
    for segment in values_of(resolved, "segment"):
        group = resolved[resolved["segment"] == segment]
        wins = matured[matured["segment"] == segment]
        current = _most_used(group)
        won_a, n_a = counts(group[group["strategy"] == current], "won")
        ref_matured = wins[wins["strategy"] == current]
        for strategy in values_of(group, "strategy"):
            if strategy == current:
                continue
            won_b, n_b = counts(group[group["strategy"] == strategy], "won")
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
                    **two_proportions(won_b, n_b, won_a, n_a),
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
