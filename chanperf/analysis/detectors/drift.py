"""Weekly KPI drift: `detect_metric_drift` → `MetricDrift`.

Reads the WEEKLY rows of channel_performance_metrics (the channel) and of
channel_performance_segment_metrics (dimension region and segment) over each KPI's last
`history_weeks` matured weeks, and finds, per KPI and cut, the week its level changed
(`chanperf.core.changepoint.scan_change`: one change point over the whole history, the
overdispersion across weeks estimated, the maximally selected statistic's p-value
bounded). Comparing only the last weeks with the few before misses a change that began
before that baseline: the baseline is then already affected.

| metric | weekly totals / units | unit variance under no change | worse when | category |
|---|---|---|---|---|
| activation_rate | onboarding_activated_in_window / onboarding_matured | binomial p(1 − p) | lower | onboarding |
| avg_activation_days | activation_days_sum / onboarding_completed | estimated from the weeks | higher | onboarding |
| win_rate | reactivation_won / reactivation_resolved | binomial | lower | reactivation |
| reincidence_rate | reincidences / reactivation_matured | binomial | higher | reactivation |
| nps | (nps_promoters − nps_detractors) / nps_responses, in points | (P + D)/N − NPS² | lower | quality |

The finding's a side is the weeks before the change, b the weeks from it on:
`rate_a`/`rate_b` their pooled rates, `n_a`/`n_b` their units, `baseline_weeks` and
`recent_weeks` their weeks with data, `change_start` the Monday of the first week after
the change (the pt-BR text says "caiu de 62% para 36% a partir de <data>"). `effect` =
rate_b − rate_a with its dispersion-inflated 95 % interval; `extra` holds the scan's
statistic, dispersion and number of splits tried. Average activation days follows the
activation rate: fewer activations within the window leave more late ones, so when the
activation rate of the same cut got worse, its change is quoted (`follows_metric`,
`follows_p_value`, `follows_weeks_apart`) and the rule can tell one cause from two.

Cohort KPIs mature: an onboarding cohort needs `activation_window_days`, a won
reactivation `reincidence_window_days`, before its rate is final, and the completions of
a young cohort are its fastest ones. Those KPIs therefore end their history at the latest
*matured* week: their weeks are moved back by ceil(window / 7) (`extra.lag_weeks`).
Average activation days counts every completion, late ones included (they may come well
after the window), so it waits two windows. Weeks without a row (or with an empty
denominator) are left out; a cut with fewer than twice `changepoint_min_weeks` weeks of
data gives no finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Connection, select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.cohorts import history_mondays
from chanperf.analysis.detectors.comparisons import relative
from chanperf.analysis.findings import Finding, MetricDrift
from chanperf.core.changepoint import ChangePoint, scan_change
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
    # A KPI that moves with another when that one changes (scanned before it in KPIS): its
    # finding quotes the other's change in the same cut (`follows_*`), so a rule can say
    # "the same cause" and raise one insight.
    follows: str | None = None


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
        # Fewer activations within the window leave more late ones: the mean rises with it.
        follows="activation_rate",
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


def first_week_needed(ctx: AnalysisContext) -> date:
    """Monday of the earliest WEEKLY row any KPI reads (its history, shifted by its lag)."""
    return min(history_mondays(ctx, _lag_weeks(ctx, kpi))[0] for kpi in KPIS)


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


def _series(kpi: Kpi, weeks: pd.DataFrame) -> tuple[pd.DataFrame, float | None, float]:
    """The weeks with units and their `total` column, the unit variance under no change
    (None: the scan estimates it) and the scale the KPI is reported in."""
    weeks = weeks[weeks[kpi.denominator] > 0].sort_values("period_date")
    n = float(weeks[kpi.denominator].sum())
    if kpi.test == "nps":
        weeks = weeks.assign(total=weeks["nps_promoters"] - weeks["nps_detractors"])
        if n == 0:
            return weeks, 0.0, 100.0
        share = float((weeks["nps_promoters"] + weeks["nps_detractors"]).sum()) / n
        mean = float(weeks["total"].sum()) / n
        return weeks, share - mean**2, 100.0
    weeks = weeks.assign(total=weeks[kpi.numerator])
    if kpi.test == "weekly_mean":
        return weeks, None, 1.0
    rate = float(weeks["total"].sum()) / n if n else 0.0
    return weeks, rate * (1 - rate), 1.0


def _scan(
    ctx: AnalysisContext, kpi: Kpi, weeks: pd.DataFrame
) -> tuple[pd.DataFrame, ChangePoint, float] | None:
    weeks, variance, scale = _series(kpi, weeks)
    change = scan_change(
        weeks["total"].to_numpy(float),
        weeks[kpi.denominator].to_numpy(float),
        variance,
        ctx.config.changepoint_min_weeks,
    )
    return None if change is None else (weeks, change, scale)


def _direction(kpi: Kpi, effect: float) -> str:
    if effect == 0:
        return "unchanged"
    higher = effect > 0
    return "worse" if higher == (kpi.worse_when == "higher") else "better"


def _worsening(kpi: Kpi, effect: float, base: float) -> tuple[float, float | None]:
    """The change in the bad direction (positive = worse), absolute and relative to before."""
    worse = effect if kpi.worse_when == "higher" else -effect
    return worse, (worse / abs(base) if base != 0 else None)


def detect_metric_drift(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Every KPI of KPIS, channel-wide and per region and segment: the week its level changed."""
    plans = {kpi.metric: (kpi, _lag_weeks(ctx, kpi)) for kpi in KPIS}
    weeks_of = {metric: history_mondays(ctx, lag) for metric, (_kpi, lag) in plans.items()}
    first = min(w[0] for w in weeks_of.values())
    last = max(w[-1] for w in weeks_of.values())
    rows = weekly_kpi_rows(conn, ctx, first, last)
    if rows.empty:
        return []
    groups = sorted(rows.groupby(["cut", "value"]), key=lambda g: (g[0][0] != "channel", g[0]))
    findings: list[Finding] = []
    worse_changes: dict[tuple[str, str, str], tuple[date, float]] = {}
    for kpi, lag in plans.values():
        mondays = weeks_of[kpi.metric]
        for (cut, value), group in groups:
            scanned = _scan(ctx, kpi, group[group["period_date"].isin(mondays)])
            if scanned is None:
                continue
            weeks, change, scale = scanned
            dates = list(weeks["period_date"])
            before, after = scale * change.mean_before, scale * change.mean_after
            effect = scale * change.effect
            worsening, relative_worsening = _worsening(kpi, effect, before)
            start = dates[change.index]
            if _direction(kpi, effect) == "worse":
                worse_changes[(kpi.metric, str(cut), str(value))] = (start, change.p_value)
            followed = (
                worse_changes.get((kpi.follows, str(cut), str(value))) if kpi.follows else None
            )
            filters = {"metric": kpi.metric} | ({} if cut == "channel" else {str(cut): str(value)})
            findings.append(
                MetricDrift(
                    org_id=ctx.org_id,
                    # The drift's period is the weeks since the change (what its
                    # impact is measured over); the weeks before are its baseline.
                    period_start=start,
                    period_end=dates[-1] + timedelta(days=6),
                    filters=filters,
                    metric=kpi.metric,
                    category=kpi.category,
                    direction=_direction(kpi, effect),
                    worsening=worsening,
                    relative_worsening=relative_worsening,
                    recent_weeks=change.weeks_after,
                    baseline_weeks=change.weeks_before,
                    change_start=start,
                    follows_metric=kpi.follows if followed else None,
                    follows_p_value=followed[1] if followed else None,
                    follows_weeks_apart=abs((start - followed[0]).days) // 7 if followed else None,
                    region=str(value) if cut == Dimension.REGION.value else None,
                    segment=str(value) if cut == Dimension.SEGMENT.value else None,
                    n=round(change.units_before + change.units_after),
                    n_a=round(change.units_before),
                    n_b=round(change.units_after),
                    rate_a=before,
                    rate_b=after,
                    effect=effect,
                    relative_effect=relative(effect, abs(before)),
                    ci_low=scale * change.ci_low,
                    ci_high=scale * change.ci_high,
                    p_value=change.p_value,
                    extra={
                        "test": "change_point_scan",
                        "statistic": change.statistic,
                        "dispersion": change.dispersion,
                        "splits": change.splits,
                        "lag_weeks": lag,
                        "history_first_week": mondays[0].isoformat(),
                        "last_week_before_change": dates[change.index - 1].isoformat(),
                        "worse_when": kpi.worse_when,
                    },
                )
            )
    return findings
