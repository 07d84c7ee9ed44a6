"""Channel misalignment: `detect_misalignments` → `Misalignment`.

"margin": per segment and per region, the margin of the lookback's orders,
m = Σ(revenue − cost) / Σ revenue, against `strategy.min_margin`, with the
group's `revenue_share` of the channel's revenue. Order lines of one account are
not independent (same prices, same discounts), so the unit is the account: with
R_i, C_i an account's revenue and cost, H0 "margin = min_margin" says the
account residuals d_i = (R_i − C_i) − min_margin × R_i have mean 0; the p-value
is a one-sided one-sample t-test that their mean is below 0 (margin below the
minimum). The CI is the ratio estimator's delta-method interval:
se(m) = sqrt(n/(n−1) × Σ e_i²) / Σ R_i with e_i = (R_i − C_i) − m × R_i, and a t
quantile with n − 1 degrees of freedom. Groups with fewer than two accounts or
no revenue cannot be tested.

"priority_share": share of new activations (onboardings COMPLETED in the week)
whose account is in `strategy.priority_regions`, recent weeks (b) against
baseline weeks (a), two-proportion test; `policy_value` = `min_priority_share`,
and `extra.p_value_vs_min` the exact binomial p of the recent share being below it.
"priority_share_vs_min": the same recent share against `min_priority_share`
(exact binomial, 'less') as a finding of its own, so that the run-wide
adjustment covers it. "priority_segment_share": the same recent-vs-baseline
comparison for `strategy.priority_segments` (the policy sets no minimum for them).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sqlalchemy import Connection, and_, func, select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors import cohorts
from chanperf.analysis.detectors.cohorts import account_orders_read
from chanperf.analysis.detectors.comparisons import (
    num,
    rate_vs_value,
    relative,
    two_proportions,
    week_span,
)
from chanperf.analysis.findings import Finding, Misalignment
from chanperf.core.enums import OnboardingStatus
from chanperf.core.stats import compare_to_target
from chanperf.models.source import ChannelAccount, ChannelOnboarding
from chanperf.source.frames import floats, frame

__all__ = ["detect_misalignments", "margin_test"]


def margin_test(
    revenue: np.ndarray, cost: np.ndarray, min_margin: float
) -> dict[str, float | None]:
    """Margin of accounts' totals against `min_margin` (see the module doc)."""
    n, total = len(revenue), float(revenue.sum())
    margin = float((revenue - cost).sum()) / total
    resid = (revenue - cost) - margin * revenue
    se = math.sqrt(n / (n - 1) * float((resid**2).sum())) / total
    t = float(sps.t.ppf(0.975, n - 1))
    d = (revenue - cost) - min_margin * revenue
    p = (
        float(sps.ttest_1samp(d, 0.0, alternative="less").pvalue)
        if float(d.std()) > 0
        else math.nan
    )
    if math.isnan(p):  # every account has the same residual: the sign says it all
        p = 0.0 if float(d.mean()) < 0 else 1.0
    return {"margin": margin, "ci_low": margin - t * se, "ci_high": margin + t * se, "p_value": p}


def _margins(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    min_margin = ctx.policies.get("strategy.min_margin", None)
    if min_margin is None:
        return []
    m0 = float(min_margin)
    key, read = account_orders_read(ctx)
    orders = ctx.once(key, lambda: read(conn))
    orders = orders.loc[orders["lines"] > 0, ["account_id", "revenue", "cost", "lines"]]
    accounts = cohorts.accounts(conn, ctx)[["account_id", "region", "segment"]].merge(
        orders, on="account_id"
    )
    if accounts.empty:
        return []
    accounts["revenue"], accounts["cost"] = floats(accounts["revenue"]), floats(accounts["cost"])
    channel_revenue = float(accounts["revenue"].sum())
    findings: list[Finding] = []
    for dimension in ("segment", "region"):
        for value, group in sorted(accounts.groupby(dimension), key=lambda g: str(g[0])):
            revenue, cost = group["revenue"].to_numpy(float), group["cost"].to_numpy(float)
            if len(group) < 2 or revenue.sum() <= 0:
                continue
            test = margin_test(revenue, cost, m0)
            margin = float(test["margin"] or 0.0)
            effect = margin - m0
            findings.append(
                Misalignment(
                    **ctx.finding_fields({dimension: str(value)}),
                    signal="margin",
                    segment=str(value) if dimension == "segment" else None,
                    region=str(value) if dimension == "region" else None,
                    margin=margin,
                    min_margin=m0,
                    revenue=float(revenue.sum()),
                    revenue_share=float(revenue.sum()) / channel_revenue
                    if channel_revenue > 0
                    else None,
                    n=len(group),
                    n_b=len(group),
                    rate_b=margin,
                    effect=effect,
                    relative_effect=relative(effect, m0),
                    ci_low=num((test["ci_low"] or 0.0) - m0),
                    ci_high=num((test["ci_high"] or 0.0) - m0),
                    p_value=test["p_value"],
                    policy="strategy",
                    parameter="min_margin",
                    policy_value=m0,
                    extra={
                        "cost": float(cost.sum()),
                        "order_lines": int(group["lines"].sum()),
                        "test": "t_test_account_margin_residuals",
                    },
                )
            )
    return findings


def _activations(conn: Connection, ctx: AnalysisContext, mondays: list) -> pd.DataFrame:
    """Onboardings completed in the weeks, counted per region and segment of the account."""
    start, end = week_span(ctx, mondays)
    ob, a = ChannelOnboarding.__table__, ChannelAccount.__table__
    return frame(
        conn,
        select(a.c.region, a.c.segment, func.count().label("activations"))
        .select_from(ob.join(a, and_(a.c.org_id == ob.c.org_id, a.c.account_id == ob.c.account_id)))
        .where(
            ob.c.org_id == ctx.org_id,
            ob.c.status == OnboardingStatus.COMPLETED.value,
            ob.c.completed_at >= start,
            ob.c.completed_at < end,
        )
        .group_by(a.c.region, a.c.segment),
    )


def _priority(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    baseline, recent = ctx.weeks()
    then, now = _activations(conn, ctx, baseline), _activations(conn, ctx, recent)
    n_a, n_b = int(then["activations"].sum()), int(now["activations"].sum())
    if n_a == 0 or n_b == 0:
        return []
    shared: dict[str, Any] = {
        "org_id": ctx.org_id,
        "period_start": baseline[0],
        "period_end": recent[-1] + timedelta(days=6),
    }
    weeks: dict[str, float | int | str] = {
        "baseline_weeks": len(baseline),
        "recent_weeks": len(recent),
        "recent_first_week": recent[0].isoformat(),
    }
    findings: list[Finding] = []
    regions = sorted(str(r) for r in ctx.policies.get("strategy.priority_regions", []) or [])
    min_share = ctx.policies.get("strategy.min_priority_share", None)
    if regions:
        x_a = int(then.loc[then["region"].isin(regions), "activations"].sum())
        x_b = int(now.loc[now["region"].isin(regions), "activations"].sum())
        one = regions[0] if len(regions) == 1 else None
        filters = {"priority_regions": ",".join(regions)}
        extra: dict[str, float | int | str] = dict(weeks)
        if min_share is not None:
            vs_min = compare_to_target(x_b, n_b, float(min_share), "less")
            extra["p_value_vs_min"] = vs_min.p_value
            extra["gap_vs_min"] = x_b / n_b - float(min_share)
        findings.append(
            Misalignment(
                **shared,
                filters=filters,
                signal="priority_share",
                region=one,
                priority_share=x_b / n_b,
                min_priority_share=None if min_share is None else float(min_share),
                **two_proportions(x_b, n_b, x_a, n_a),
                policy="strategy",
                parameter="min_priority_share" if min_share is not None else "priority_regions",
                policy_value=None if min_share is None else float(min_share),
                extra=extra,
            )
        )
        if min_share is not None:
            findings.append(
                Misalignment(
                    **shared,
                    filters=filters,
                    signal="priority_share_vs_min",
                    region=one,
                    priority_share=x_b / n_b,
                    min_priority_share=float(min_share),
                    **rate_vs_value(x_b, n_b, float(min_share), "less"),
                    policy="strategy",
                    parameter="min_priority_share",
                    extra=dict(weeks),
                )
            )
    segments = sorted(str(s) for s in ctx.policies.get("strategy.priority_segments", []) or [])
    if segments:
        x_a = int(then.loc[then["segment"].isin(segments), "activations"].sum())
        x_b = int(now.loc[now["segment"].isin(segments), "activations"].sum())
        findings.append(
            Misalignment(
                **shared,
                filters={"priority_segments": ",".join(segments)},
                signal="priority_segment_share",
                segment=segments[0] if len(segments) == 1 else None,
                priority_share=x_b / n_b,
                **two_proportions(x_b, n_b, x_a, n_a),
                policy="strategy",
                parameter="priority_segments",
                policy_value=",".join(segments),
                extra=dict(weeks),
            )
        )
    return findings


def detect_misalignments(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Margins below the strategy's minimum; priority regions/segments losing new activations."""
    return _margins(conn, ctx) + _priority(conn, ctx)
