"""Policy detectors: exceptions routinely granted, and activity no policy covers (margin and
share misalignment: `alignment.py`).

`detect_excessive_exceptions` (`ExcessiveExceptions`): exceptions requested in
the lookback, per (policy_key, sku). The rate's denominator is what the pricing
policy's `max_exception_rate` is defined on: the SKU's order lines in the lookback,
or, for an exception without a SKU, the accounts with orders in the lookback.
Exact one-sided binomial test against `max_exception_rate` ('greater'; the count
is capped at the denominator, since a rate above 1 is no longer a binomial
share). `granted_share` = GRANTED / (GRANTED + DENIED): pending requests are not
decided yet. A SKU without order lines in the lookback has no rate: no finding.

`detect_policy_gaps` (`UncoveredActivity`): what "covered" means per dimension:
- kit: covered by `onboarding.default_kit` and every `onboarding.regions.<R>.default_kit`;
  a kit seen in the onboardings of the lookback that none of them prescribes is
  uncovered. Compared on the activation rate (matured onboardings started in the
  lookback, activated within `activation_window_days`) with the covered kits pooled.
- strategy: covered by `reactivation.allowed_strategies`; an attempt with another
  strategy is uncovered. Compared on the win rate (WON / resolved in the lookback)
  with the allowed strategies pooled.
- region and segment: every shipped policy applies channel-wide defaults (the
  default kit, the reactivation caps and targets) to all regions and segments,
  so no region or segment is ever outside every policy; priority lists say what
  matters most, not what is allowed. They give no finding here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, case, distinct, func, select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.comparisons import rate_vs_value, two_proportions
from chanperf.analysis.findings import ExcessiveExceptions, Finding, UncoveredActivity
from chanperf.core.enums import ExceptionDecision, OnboardingStatus, ReactivationStatus
from chanperf.core.periods import DAY_SECONDS
from chanperf.models.source import (
    ChannelOnboarding,
    ChannelOrder,
    ChannelPolicyException,
    ChannelReactivation,
)
from chanperf.source.frames import frame, times
from chanperf.source.indexes import by_time


def _count_if(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


def detect_excessive_exceptions(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Exception rate per (policy_key, sku) against `pricing.max_exception_rate`."""
    max_rate = ctx.policies.get("pricing.max_exception_rate", None)
    if max_rate is None:
        return []
    start, end = ctx.utc(ctx.period_start), ctx.end_utc
    e = ChannelPolicyException.__table__
    exceptions = frame(
        conn,
        by_time(
            conn,
            select(
                e.c.policy_key,
                e.c.sku,
                func.count().label("exceptions"),
                _count_if(e.c.decision == ExceptionDecision.GRANTED.value).label("granted"),
                _count_if(e.c.decision == ExceptionDecision.DENIED.value).label("denied"),
                func.count(distinct(e.c.account_id)).label("accounts"),
            )
            .where(e.c.org_id == ctx.org_id, e.c.requested_at >= start, e.c.requested_at < end)
            .group_by(e.c.policy_key, e.c.sku),
            e,
            e.c.requested_at,
        ),
    )
    if exceptions.empty:
        return []
    o = ChannelOrder.__table__
    in_lookback = (o.c.org_id == ctx.org_id, o.c.ordered_at >= start, o.c.ordered_at < end)
    skus = sorted({str(s) for s in exceptions["sku"] if s is not None})
    lines: dict[str, int] = {}
    if skus:
        rows = conn.execute(
            by_time(
                conn,
                select(o.c.sku, func.count())
                .where(*in_lookback, o.c.sku.in_(skus))
                .group_by(o.c.sku),
                o,
                o.c.ordered_at,
            )
        )
        lines = {str(r[0]): int(r[1]) for r in rows}
    buyers = int(
        conn.execute(
            by_time(
                conn,
                select(func.count(distinct(o.c.account_id))).where(*in_lookback),
                o,
                o.c.ordered_at,
            )
        ).scalar()
        or 0
    )

    findings: list[Finding] = []
    for row in exceptions.sort_values(["policy_key", "sku"], na_position="first").itertuples():
        sku = None if row.sku is None or pd.isna(row.sku) else str(row.sku)
        n = lines.get(sku, 0) if sku is not None else buyers
        if n == 0:
            continue
        count, granted, denied = int(row.exceptions), int(row.granted or 0), int(row.denied or 0)
        where = {"policy_key": str(row.policy_key)} | ({"sku": sku} if sku else {})
        findings.append(
            ExcessiveExceptions(
                **ctx.finding_fields(where),
                **rate_vs_value(min(count, n), n, float(max_rate), "greater"),
                policy="pricing",
                parameter="max_exception_rate",
                policy_key=str(row.policy_key),
                sku=sku,
                exception_rate=count / n,
                max_rate=float(max_rate),
                exceptions=count,
                granted_share=granted / (granted + denied) if granted + denied else None,
                extra={
                    "granted": granted,
                    "denied": denied,
                    "pending": count - granted - denied,
                    "accounts_excepted": int(row.accounts),
                    "denominator": "order_lines" if sku else "accounts_with_orders",
                },
            )
        )
    return findings


def covered_kits(ctx: AnalysisContext) -> set[str]:
    """Kits some onboarding parameter prescribes: the default and every region's override."""
    kits = {str(ctx.policies.get("onboarding.default_kit", ""))}
    regions = ctx.policies.get("onboarding.regions", {}) or {}
    kits |= {
        str(v["default_kit"])
        for v in regions.values()
        if isinstance(v, dict) and "default_kit" in v
    }
    return kits - {""}


def _gap_findings(
    ctx: AnalysisContext,
    counts: pd.DataFrame,
    covered: set[str],
    dimension: str,
    metric: str,
    policy: str,
    parameter: str,
) -> list[Finding]:
    """`counts` has columns value, x, n; each uncovered value (b) against the covered ones pooled (a)."""
    is_covered = counts["value"].isin(covered)
    x_a, n_a = int(counts.loc[is_covered, "x"].sum()), int(counts.loc[is_covered, "n"].sum())
    if n_a == 0:
        return []
    findings: list[Finding] = []
    for row in counts[~is_covered].sort_values("value").itertuples():
        if int(row.n) == 0:
            continue
        findings.append(
            UncoveredActivity(
                **ctx.finding_fields({dimension: str(row.value)}),
                **two_proportions(int(row.x), int(row.n), x_a, n_a),
                dimension=dimension,
                value=str(row.value),
                metric=metric,
                policy=policy,
                parameter=parameter,
                policy_value=",".join(sorted(covered)),
                extra={"covered_values": ",".join(sorted(covered)), f"{metric}_count": int(row.x)},
            )
        )
    return findings


def _kit_counts(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """Matured onboardings of the lookback per kit: x activated within the window, n matured."""
    window = int(ctx.policies.get("onboarding.activation_window_days"))
    ob = ChannelOnboarding.__table__
    # Younger onboardings may still activate: censored, as in the source contract.
    matured_before = ctx.end_utc - timedelta(days=window)
    rows = frame(
        conn,
        by_time(
            conn,
            select(ob.c.kit, ob.c.status, ob.c.started_at, ob.c.completed_at).where(
                ob.c.org_id == ctx.org_id,
                ob.c.started_at >= ctx.utc(ctx.period_start),
                ob.c.started_at <= matured_before,
            ),
            ob,
            ob.c.started_at,
        ),
    )
    if rows.empty:
        return pd.DataFrame(columns=["value", "x", "n"])
    completed = times(rows["completed_at"])
    took = (completed - times(rows["started_at"])).dt.total_seconds() / DAY_SECONDS
    rows["x"] = (
        (rows["status"] == OnboardingStatus.COMPLETED.value)
        & (took <= window)
        & (completed < pd.Timestamp(ctx.end_utc))
    ).astype(int)
    grouped = rows.groupby("kit").agg(x=("x", "sum"), n=("x", "size")).reset_index()
    return grouped.rename(columns={"kit": "value"})


def _strategy_counts(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    r = ChannelReactivation.__table__
    decided = (ReactivationStatus.WON.value, ReactivationStatus.LOST.value)
    return frame(
        conn,
        by_time(
            conn,
            select(
                r.c.strategy.label("value"),
                _count_if(r.c.status == ReactivationStatus.WON.value).label("x"),
                func.count().label("n"),
            )
            .where(
                r.c.org_id == ctx.org_id,
                r.c.status.in_(decided),
                r.c.resolved_at >= ctx.utc(ctx.period_start),
                r.c.resolved_at < ctx.end_utc,
            )
            .group_by(r.c.strategy),
            r,
            r.c.resolved_at,
        ),
    )


def detect_policy_gaps(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Kits and strategies no policy parameter covers, compared with the covered ones."""
    findings = _gap_findings(
        ctx,
        _kit_counts(conn, ctx),
        covered_kits(ctx),
        "kit",
        "activation_rate",
        "onboarding",
        "default_kit",
    )
    allowed = {str(s) for s in ctx.policies.get("reactivation.allowed_strategies", []) or []}
    findings += _gap_findings(
        ctx,
        _strategy_counts(conn, ctx),
        allowed,
        "strategy",
        "win_rate",
        "reactivation",
        "allowed_strategies",
    )
    return findings
