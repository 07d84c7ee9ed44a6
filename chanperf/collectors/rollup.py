"""From daily collector frames to the rows of the two metrics tables.

Every additive measure of a week or month is the sum of its days, computed here
from the same daily frame, so stored daily rows always sum to the stored weekly
and monthly rows. The state distribution is a level, not a flow: a period takes
the value at the end of its last day. Rates are derived last, from the summed
numerators and denominators, exactly as a reader of the stored rows would.

Row frame columns (both tables): period_type, period_date, dimension,
dimension_value ("" for the totals row), then every MeasureColumns column with
its stored type (int, Decimal, or None for an undefined rate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from chanperf.collectors.onboarding import ONBOARDING_MEASURES
from chanperf.collectors.quality import QUALITY_MEASURES
from chanperf.collectors.reactivation import REACTIVATION_MEASURES
from chanperf.collectors.revenue import REVENUE_MEASURES
from chanperf.collectors.state import STATE_COLUMNS, STATE_MEASURES
from chanperf.enums import Dimension, PeriodType
from chanperf.periods import Period, period_first_day

TOTAL = ""  # dimension and dimension_value of the totals row
ROW_KEYS = ["dimension", "dimension_value"]
# activation_days_sum is stored as DECIMAL(15,4): each day's value is rounded to
# 1e-4 day once, and periods sum the rounded daily values so the tables agree.
ADDITIVE = [
    *[m for m in ONBOARDING_MEASURES if m != "activation_seconds_sum"],
    "activation_days_e4",
    *REACTIVATION_MEASURES,
    *REVENUE_MEASURES,
    *QUALITY_MEASURES,
]
CENTS = {
    "reactivation_cost",
    "revenue_total",
    "cost_total",
    "revenue_new_accounts",
    "revenue_reactivated",
}


def cut(frame: pd.DataFrame, measures: Sequence[str], extra: Dimension | None) -> pd.DataFrame:
    """A (day, region, segment[, extra]) frame summed into totals and per-dimension rows."""
    parts = [
        frame.groupby("day")[list(measures)]
        .sum()
        .reset_index()
        .assign(dimension=TOTAL, dimension_value=TOTAL)
    ]
    dims = [Dimension.REGION, Dimension.SEGMENT, *([extra] if extra else [])]
    for dim in dims:
        grouped = frame.groupby(["day", dim.value])[list(measures)].sum().reset_index()
        parts.append(
            grouped.rename(columns={dim.value: "dimension_value"}).assign(dimension=dim.value)
        )
    return pd.concat(parts, ignore_index=True)


def daily_additive(
    families: Sequence[tuple[pd.DataFrame, Sequence[str], Dimension | None]],
) -> pd.DataFrame:
    """Stack the families' cuts into one frame keyed by (day, dimension, dimension_value)."""
    stacked = [cut(frame, measures, extra) for frame, measures, extra in families if len(frame)]
    if not stacked:
        return pd.DataFrame(columns=["day", *ROW_KEYS, *ADDITIVE])
    merged = pd.concat(stacked, ignore_index=True)
    merged = merged.groupby(["day", *ROW_KEYS]).sum(min_count=0).reset_index()
    for col in [*ONBOARDING_MEASURES, *ADDITIVE]:
        if col not in merged:
            merged[col] = 0
        merged[col] = merged[col].fillna(0).astype("int64")
    seconds = merged["activation_seconds_sum"]
    merged["activation_days_e4"] = (seconds * 20000 + 86400) // 172800  # half-up to 1e-4 day
    return merged[["day", *ROW_KEYS, *ADDITIVE]]


def daily_states(
    transitions: pd.DataFrame,
    base: Mapping[tuple[str, str], Mapping[str, int]],
    days: Sequence[date],
) -> pd.DataFrame:
    """State counts at the end of each of `days`: `base` plus the cumulative net moves.

    `base` maps (dimension, dimension_value) to {state: accounts} at the start of
    the first day. Returns day, dimension, dimension_value and STATE_MEASURES;
    states outside STATE_COLUMNS count in total_accounts only.
    """
    cuts: list[tuple[str, str | None]] = [
        (TOTAL, None),
        (Dimension.REGION.value, "region"),
        (Dimension.SEGMENT.value, "segment"),
    ]
    longs = []
    for dim, col in cuts:
        moves = transitions.assign(
            dimension_value=TOTAL if col is None else transitions[col]
        ).dropna(subset=["dimension_value"])
        grid = moves.pivot_table(
            index="day",
            columns=["dimension_value", "state"],
            values="delta",
            aggfunc="sum",
            fill_value=0,
        )
        grid = grid.reindex(index=list(days), fill_value=0).cumsum()
        start = {
            (value, state): n
            for (d, value), counts in base.items()
            if d == dim
            for state, n in counts.items()
        }
        for key, n in start.items():
            grid[key] = (grid[key] if key in grid.columns else 0) + n
        if grid.shape[1] == 0:
            continue
        grid.index.name = "day"
        grid.columns = grid.columns.set_names(["dimension_value", "state"])
        long = grid.stack(["dimension_value", "state"]).rename("n").reset_index()
        longs.append(long.assign(dimension=dim))
    if not longs:
        return pd.DataFrame(columns=["day", *ROW_KEYS, *STATE_MEASURES])
    wide = pd.concat(longs, ignore_index=True).pivot_table(
        index=["day", *ROW_KEYS], columns="state", values="n", aggfunc="sum", fill_value=0
    )
    out = pd.DataFrame(index=wide.index)
    out["total_accounts"] = wide.sum(axis=1)
    for state, name in STATE_COLUMNS.items():
        out[name] = wide[state] if state in wide.columns else 0
    return out.reset_index().astype({m: "int64" for m in STATE_MEASURES})


def period_rows(
    additive: pd.DataFrame,
    states: pd.DataFrame,
    periods: Sequence[Period],
) -> pd.DataFrame:
    """Rows of the metrics tables for `periods` (whole periods inside the frames' days)."""
    out = []
    for period_type in PeriodType:
        targets = [p for p in periods if p.period_type is period_type]
        if not targets:
            continue
        wanted = {p.period_date for p in targets}
        flows = additive.assign(
            period_date=[period_first_day(d, period_type) for d in additive["day"]]
        )
        flows = flows[flows["period_date"].isin(wanted)]
        flows = flows.groupby(["period_date", *ROW_KEYS])[ADDITIVE].sum().reset_index()
        last_days = {p.last_day: p.period_date for p in targets}
        if len(states):
            # A period still running ends, for the distribution, on the last day collected.
            latest = max(states["day"])
            last_days = {min(p.last_day, latest): p.period_date for p in targets}
        levels = states[states["day"].isin(set(last_days))]
        levels = levels.assign(period_date=[last_days[d] for d in levels["day"]])
        levels = levels.drop(columns=["day"])
        merged = flows.merge(levels, on=["period_date", *ROW_KEYS], how="outer")
        totals = pd.DataFrame(
            {"period_date": sorted(wanted), "dimension": TOTAL, "dimension_value": TOTAL}
        )
        merged = totals.merge(merged, on=["period_date", *ROW_KEYS], how="outer")
        for col in [*ADDITIVE, *STATE_MEASURES]:
            merged[col] = merged[col].fillna(0).astype("int64") if col in merged else 0
        measures = merged[[*ADDITIVE, *STATE_MEASURES]]
        keep = (merged["dimension"] == TOTAL) | (measures != 0).any(axis=1)
        out.append(merged[keep].assign(period_type=period_type.value))
    if not out:
        return pd.DataFrame(columns=["period_type", "period_date", *ROW_KEYS])
    return pd.concat(out, ignore_index=True)


def _ratio(num: int, den: int, places: str) -> Decimal | None:
    if den == 0:
        return None
    return (Decimal(num) / Decimal(den)).quantize(Decimal(places), ROUND_HALF_UP)


def _money(units: int) -> Decimal:
    return (Decimal(units) / 100).quantize(Decimal("0.01"))


def finish(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row of `period_rows` as the stored values of every MeasureColumns column."""
    n = {k: int(row[k]) for k in [*ADDITIVE, *STATE_MEASURES]}
    internal = {*CENTS, "activation_days_e4", "discount_pct_sum"}
    out: dict[str, Any] = {k: v for k, v in n.items() if k not in internal}
    for k in CENTS:
        out[k] = _money(n[k])
    days_sum = (Decimal(n["activation_days_e4"]) / 10000).quantize(Decimal("0.0001"))
    out["activation_days_sum"] = days_sum
    out["activation_rate"] = _ratio(
        n["onboardings_activated_in_window"], n["onboardings_matured"], "0.0001"
    )
    out["avg_activation_days"] = (
        None
        if n["onboardings_completed"] == 0
        else (days_sum / n["onboardings_completed"]).quantize(Decimal("0.01"), ROUND_HALF_UP)
    )
    out["reactivation_rate"] = _ratio(n["reactivations_won"], n["reactivations_resolved"], "0.0001")
    out["reincidence_rate"] = _ratio(n["reincidences"], n["reactivations_matured"], "0.0001")
    out["avg_margin"] = _ratio(n["revenue_total"] - n["cost_total"], n["revenue_total"], "0.0001")
    out["avg_discount_pct"] = _ratio(n["discount_pct_sum"], 100 * n["orders_count"], "0.01")
    out["nps_score"] = _ratio(
        100 * (n["nps_promoters"] - n["nps_detractors"]), n["nps_responses"], "0.1"
    )
    return out
