"""Weekly KPI drift: `detect_metric_drift` → `MetricDrift`.

Reads the WEEKLY rows of channel_performance_metrics (the channel) and of
channel_performance_segment_metrics (dimension region and segment) and compares,
per KPI and cut, the recent weeks (b) with the baseline weeks (a) of
`ctx.weeks()`, each side pooled:

| metric | numerator / denominator | test | worse when | category |
|---|---|---|---|---|
| activation_rate | onboarding_activated_in_window / onboarding_matured | two proportions | lower | onboarding |
| avg_activation_days | activation_days_sum / onboarding_completed, per week | Welch t on the weekly means | higher | onboarding |
| win_rate | reactivation_won / reactivation_resolved | two proportions | lower | reactivation |
| reincidence_rate | reincidences / reactivation_matured | two proportions | higher | reactivation |
| nps | (nps_promoters − nps_detractors) / nps_responses, in points | z test of a difference of NPS | lower | quality |

Cohort KPIs mature: an onboarding cohort needs `activation_window_days`, a won
reactivation `reincidence_window_days`, before its rate is final, and the
completions of a young cohort are its fastest ones. Those KPIs therefore compare
the latest *matured* weeks: both week lists are moved back by
ceil(window / 7) weeks (`extra.lag_weeks`), so recent and baseline cohorts are
equally complete. Average activation days counts every completion, late ones
included (they may come well after the window), so it waits two windows: one
window would leave the slowest completions of the recent cohorts out and make
them look faster. Weeks without a row (or with an empty denominator) are left
out; a cut without data on either side gives no finding.

NPS test: an answer scores +1 (promoter), 0 or −1 (detractor); NPS is their mean
with variance (P + D)/N − NPS², so the difference of two NPS has the normal
standard error sqrt(var_a/N_a + var_b/N_b). Reported in points (× 100) like
`nps_score`; relative_effect divides by |NPS_a|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from scipy import stats as sps
from sqlalchemy import Connection, select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.comparisons import num, relative, two_proportions
from chanperf.analysis.findings import Finding, MetricDrift
from chanperf.core.enums import Dimension, PeriodType
from chanperf.models.performance import PerformanceMetric, SegmentMetric
from chanperf.source.frames import floats, frame

__all__ = ["KPIS", "Kpi", "detect_metric_drift", "weekly_kpi_rows"]


@dataclass(frozen=True)
class Kpi:
    metric: str
    category: str
    test: str  # "proportion", "weekly_mean" or "nps"
    numerator: str
    denominator: str
    worse_when: str  # "higher" or "lower"
    maturity_param: str | None = None  # policy parameter holding the maturation window (days)
    maturity_factor: int = 1  # how many windows a cohort needs before the KPI is final


KPIS = (
    Kpi(
        "activation_rate",
        "onboarding",
        "proportion",
        "onboarding_activated_in_window",
        "onboarding_matured",
        "lower",
        "onboarding.activation_window_days",
    ),
    Kpi(
        "avg_activation_days",
        "onboarding",
        "weekly_mean",
        "activation_days_sum",
        "onboarding_completed",
        "higher",
        "onboarding.activation_window_days",
        maturity_factor=2,
    ),
    Kpi(
        "win_rate",
        "reactivation",
        "proportion",
        "reactivation_won",
        "reactivation_resolved",
        "lower",
    ),
    Kpi(
        "reincidence_rate",
        "reactivation",
        "proportion",
        "reincidences",
        "reactivation_matured",
        "higher",
        "reactivation.reincidence_window_days",
    ),
    Kpi("nps", "quality", "nps", "nps_promoters", "nps_responses", "lower"),
)
MEASURES = sorted({c for k in KPIS for c in (k.numerator, k.denominator)} | {"nps_detractors"})
CUTS = (Dimension.REGION.value, Dimension.SEGMENT.value)


def _lag_weeks(ctx: AnalysisContext, kpi: Kpi) -> int:
    if kpi.maturity_param is None:
        return 0
    window = float(ctx.policies.get(kpi.maturity_param, 0) or 0)
    return math.ceil(kpi.maturity_factor * window / 7)


def _weeks(ctx: AnalysisContext, lag: int) -> tuple[list[date], list[date]]:
    baseline, recent = ctx.weeks()
    shift = timedelta(days=7 * lag)
    return [d - shift for d in baseline], [d - shift for d in recent]


def first_week_needed(ctx: AnalysisContext) -> date:
    """Monday of the earliest WEEKLY row any KPI reads (its baseline, shifted by its lag)."""
    return min(_weeks(ctx, _lag_weeks(ctx, kpi))[0][0] for kpi in KPIS)


def weekly_kpi_rows(
    conn: Connection, ctx: AnalysisContext, first: date, last: date
) -> pd.DataFrame:
    """WEEKLY rows with period_date in [first, last]: columns cut ("channel"/region/segment), value, period_date, MEASURES."""
    m, s = PerformanceMetric.__table__, SegmentMetric.__table__
    channel = frame(
        conn,
        select(m.c.period_date, *(m.c[c] for c in MEASURES)).where(
            m.c.org_id == ctx.org_id,
            m.c.period_type == PeriodType.WEEKLY.value,
            m.c.period_date >= first,
            m.c.period_date <= last,
        ),
    ).assign(cut="channel", value="")
    cuts = frame(
        conn,
        select(
            s.c.dimension.label("cut"),
            s.c.dimension_value.label("value"),
            s.c.period_date,
            *(s.c[c] for c in MEASURES),
        ).where(
            s.c.org_id == ctx.org_id,
            s.c.period_type == PeriodType.WEEKLY.value,
            s.c.dimension.in_(CUTS),
            s.c.period_date >= first,
            s.c.period_date <= last,
        ),
    )
    rows = pd.concat([channel, cuts], ignore_index=True) if not cuts.empty else channel
    if rows.empty:
        return pd.DataFrame(columns=["cut", "value", "period_date", *MEASURES])
    rows["cut"] = [str(getattr(c, "value", c)) for c in rows["cut"]]
    rows["period_date"] = [
        d if isinstance(d, date) else date.fromisoformat(str(d)[:10]) for d in rows["period_date"]
    ]
    for col in MEASURES:
        rows[col] = floats(rows[col]).fillna(0.0)
    return rows


def _proportion(kpi: Kpi, a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any] | None:
    n_a, n_b = int(a[kpi.denominator].sum()), int(b[kpi.denominator].sum())
    if n_a == 0 or n_b == 0:
        return None
    x_a, x_b = int(a[kpi.numerator].sum()), int(b[kpi.numerator].sum())
    return {
        **two_proportions(x_b, n_b, x_a, n_a),
        "extra": {"x_a": x_a, "x_b": x_b, "test": "two_proportions"},
    }


def _weekly_mean(kpi: Kpi, a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any] | None:
    a, b = a[a[kpi.denominator] > 0], b[b[kpi.denominator] > 0]
    if len(a) < 2 or len(b) < 2:
        return None  # a variance needs two weeks on each side
    mean_a = (a[kpi.numerator] / a[kpi.denominator]).to_numpy(float)
    mean_b = (b[kpi.numerator] / b[kpi.denominator]).to_numpy(float)
    res = sps.ttest_ind(mean_b, mean_a, equal_var=False)
    ci = res.confidence_interval(0.95)
    effect = float(mean_b.mean() - mean_a.mean())
    return {
        "n": int(a[kpi.denominator].sum() + b[kpi.denominator].sum()),
        "n_a": int(a[kpi.denominator].sum()),
        "n_b": int(b[kpi.denominator].sum()),
        "rate_a": float(mean_a.mean()),
        "rate_b": float(mean_b.mean()),
        "effect": effect,
        "relative_effect": relative(effect, float(mean_a.mean())),
        "ci_low": num(ci.low),
        "ci_high": num(ci.high),
        "p_value": num(res.pvalue)
        if not math.isnan(float(res.pvalue))
        else (1.0 if effect == 0 else 0.0),
        "extra": {
            "pooled_mean_a": float(a[kpi.numerator].sum() / a[kpi.denominator].sum()),
            "pooled_mean_b": float(b[kpi.numerator].sum() / b[kpi.denominator].sum()),
            "test": "welch_t_weekly_means",
        },
    }


def _nps(kpi: Kpi, a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any] | None:
    n_a, n_b = int(a["nps_responses"].sum()), int(b["nps_responses"].sum())
    if n_a == 0 or n_b == 0:
        return None
    p_a, d_a = a["nps_promoters"].sum() / n_a, a["nps_detractors"].sum() / n_a
    p_b, d_b = b["nps_promoters"].sum() / n_b, b["nps_detractors"].sum() / n_b
    nps_a, nps_b = float(p_a - d_a), float(p_b - d_b)
    var_a, var_b = float(p_a + d_a - nps_a**2), float(p_b + d_b - nps_b**2)
    se = math.sqrt(var_a / n_a + var_b / n_b)
    diff = nps_b - nps_a
    p = float(2 * sps.norm.sf(abs(diff) / se)) if se > 0 else (1.0 if diff == 0 else 0.0)
    z = float(sps.norm.ppf(0.975))
    return {
        "n": n_a + n_b,
        "n_a": n_a,
        "n_b": n_b,
        "rate_a": 100 * nps_a,
        "rate_b": 100 * nps_b,
        "effect": 100 * diff,
        "relative_effect": relative(diff, abs(nps_a)),
        "ci_low": 100 * (diff - z * se),
        "ci_high": 100 * (diff + z * se),
        "p_value": p,
        "extra": {
            "promoters_a": int(a["nps_promoters"].sum()),
            "detractors_a": int(a["nps_detractors"].sum()),
            "promoters_b": int(b["nps_promoters"].sum()),
            "detractors_b": int(b["nps_detractors"].sum()),
            "test": "z_test_nps_difference",
        },
    }


TESTS = {"proportion": _proportion, "weekly_mean": _weekly_mean, "nps": _nps}


def _direction(kpi: Kpi, effect: float) -> str:
    if effect == 0:
        return "unchanged"
    higher = effect > 0
    return "worse" if higher == (kpi.worse_when == "higher") else "better"


def _worsening(kpi: Kpi, stats: dict[str, Any]) -> tuple[float, float | None]:
    """The change in the bad direction (positive = worse), absolute and relative to baseline."""
    effect = float(stats["effect"])
    worse = effect if kpi.worse_when == "higher" else -effect
    base = stats.get("rate_a")
    relative = worse / abs(float(base)) if base is not None and base != 0 else None
    return worse, relative


def detect_metric_drift(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Every KPI of KPIS, channel-wide and per region and segment: recent weeks vs baseline weeks."""
    plans = {
        kpi.metric: (kpi, _lag_weeks(ctx, kpi), *_weeks(ctx, _lag_weeks(ctx, kpi))) for kpi in KPIS
    }
    first = min(base_weeks[0] for _, _, base_weeks, _ in plans.values())
    last = max(recent[-1] for _, _, _, recent in plans.values())
    rows = weekly_kpi_rows(conn, ctx, first, last)
    if rows.empty:
        return []
    findings: list[Finding] = []
    for kpi, lag, baseline, recent in plans.values():
        in_base, in_recent = rows["period_date"].isin(baseline), rows["period_date"].isin(recent)
        for (cut, value), group in sorted(
            rows.groupby(["cut", "value"]), key=lambda g: (g[0][0] != "channel", g[0])
        ):
            a, b = group[in_base.loc[group.index]], group[in_recent.loc[group.index]]
            stats = TESTS[kpi.test](kpi, a, b)
            if stats is None:
                continue
            extra = {
                **stats.pop("extra"),
                "lag_weeks": lag,
                "recent_first_week": recent[0].isoformat(),
                "baseline_first_week": baseline[0].isoformat(),
                "worse_when": kpi.worse_when,
            }
            filters = {"metric": kpi.metric} | ({} if cut == "channel" else {str(cut): str(value)})
            worsening, relative_worsening = _worsening(kpi, stats)
            findings.append(
                MetricDrift(
                    org_id=ctx.org_id,
                    period_start=baseline[0],
                    period_end=recent[-1] + timedelta(days=6),
                    filters=filters,
                    metric=kpi.metric,
                    category=kpi.category,
                    direction=_direction(kpi, float(stats["effect"])),
                    worsening=worsening,
                    relative_worsening=relative_worsening,
                    recent_weeks=int(b[b[kpi.denominator] > 0]["period_date"].nunique()),
                    baseline_weeks=int(a[a[kpi.denominator] > 0]["period_date"].nunique()),
                    region=str(value) if cut == Dimension.REGION.value else None,
                    segment=str(value) if cut == Dimension.SEGMENT.value else None,
                    **stats,
                    extra=extra,
                )
            )
    return findings
