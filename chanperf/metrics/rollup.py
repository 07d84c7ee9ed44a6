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

import numpy as np
import pandas as pd

from chanperf.core.enums import Dimension, PeriodType
from chanperf.core.periods import DAY_SECONDS, Period
from chanperf.metrics.health import HEALTH_MEASURES
from chanperf.metrics.onboarding import ONBOARDING_MEASURES
from chanperf.metrics.quality import QUALITY_MEASURES
from chanperf.metrics.reactivation import REACTIVATION_MEASURES
from chanperf.metrics.revenue import REVENUE_MEASURES
from chanperf.metrics.state import ENTRY_MEASURES, STATE_COLUMNS, STATE_MEASURES

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
    *ENTRY_MEASURES,
]
# Levels: a period takes the value at the end of its last day.
LEVELS = [*STATE_MEASURES, *HEALTH_MEASURES]
CENTS = {
    "reactivation_cost",
    "total_revenue",
    "cost_total",
    "revenue_from_new",
    "revenue_from_reactivated",
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
    merged["activation_days_e4"] = (seconds * 20000 + DAY_SECONDS) // (
        2 * DAY_SECONDS
    )  # half-up to 1e-4 day
    return merged[["day", *ROW_KEYS, *ADDITIVE]]


def daily_states(
    transitions: pd.DataFrame,
    base: Mapping[tuple[str, str], Mapping[str, int]],
    days: Sequence[date],
) -> pd.DataFrame:
    """State counts at the end of each of `days`: `base` plus the cumulative net moves.

    `base` maps (dimension, dimension_value) to {state: accounts} at the start of
    the first day. Returns day, dimension, dimension_value and STATE_MEASURES;
    states outside STATE_COLUMNS count in total_accounts only. Moves of days
    outside `days` are ignored. One (value x day x state) array per cut, summed
    along the days with one cumulative sum.
    """
    cuts: list[tuple[str, str | None]] = [
        (TOTAL, None),
        (Dimension.REGION.value, "region"),
        (Dimension.SEGMENT.value, "segment"),
    ]
    day_list = list(days)
    day_pos = {d: i for i, d in enumerate(day_list)}
    known = list(STATE_COLUMNS)
    parts = []
    for dim, col in cuts:
        start = {
            (value, state): n
            for (d, value), counts in base.items()
            if d == dim
            for state, n in counts.items()
        }
        values = (
            pd.Series(TOTAL, index=transitions.index, dtype=object)
            if col is None
            else transitions[col]
        )
        pos = transitions["day"].map(day_pos)
        ok = values.notna() & pos.notna() & transitions["state"].notna()
        mv_values = values[ok].astype(str)
        mv_states = transitions["state"][ok].astype(str)
        keys = sorted(set(mv_values) | {v for v, _ in start})
        if not keys or not day_list:
            continue
        states = known + sorted((set(mv_states) | {s for _, s in start}) - set(known))
        key_pos = {k: i for i, k in enumerate(keys)}
        state_pos = {st: i for i, st in enumerate(states)}
        grid = np.zeros((len(keys), len(day_list), len(states)), dtype="int64")
        np.add.at(
            grid,
            (
                mv_values.map(key_pos).to_numpy(dtype="int64"),
                pos[ok].to_numpy(dtype="int64"),
                mv_states.map(state_pos).to_numpy(dtype="int64"),
            ),
            transitions["delta"][ok].to_numpy(dtype="int64"),
        )
        grid = grid.cumsum(axis=1)
        for (value, state), n in start.items():
            grid[key_pos[value], :, state_pos[state]] += n
        flat = grid.reshape(len(keys) * len(day_list), len(states))
        frame = pd.DataFrame(
            {
                "day": day_list * len(keys),
                "dimension": dim,
                "dimension_value": np.repeat(np.array(keys, dtype=object), len(day_list)),
                "total_accounts": flat.sum(axis=1),
            }
        )
        for i, state in enumerate(known):
            frame[STATE_COLUMNS[state]] = flat[:, i]
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["day", *ROW_KEYS, *STATE_MEASURES])
    out = pd.concat(parts, ignore_index=True)
    return out.astype({m: "int64" for m in STATE_MEASURES})


def daily_health(
    created: pd.DataFrame,
    base: Mapping[tuple[str, str], tuple[int, int]],
    days: Sequence[date],
) -> pd.DataFrame:
    """Health levels at the end of each of `days`: `base` plus the scores of the accounts
    created up to that day (a frame of `collect_health_created`).

    `base` maps (dimension, dimension_value) to (score sum in tenths, scored accounts) at
    the start of the first day. Returns day, dimension, dimension_value, HEALTH_MEASURES.
    """
    cuts: list[tuple[str, str | None]] = [
        (TOTAL, None),
        (Dimension.REGION.value, "region"),
        (Dimension.SEGMENT.value, "segment"),
    ]
    day_list = list(days)
    parts = []
    for dim, col in cuts:
        frame = created if col is None else created[created[col].notna()]
        keys = ["day"] if col is None else ["day", col]
        sums = frame.groupby(keys)[list(HEALTH_MEASURES)].sum()
        if col is None:
            sums = pd.concat({TOTAL: sums}, names=["dimension_value"]).swaplevel()
        values = sorted(
            {str(v) for v in sums.index.get_level_values(1)} | {v for d, v in base if d == dim}
        )
        if not values or not day_list:
            continue
        index = pd.MultiIndex.from_product([day_list, values], names=["day", "dimension_value"])
        sums.index = sums.index.set_names(["day", "dimension_value"])
        grid = sums.reindex(index, fill_value=0)
        levels = grid.groupby(level="dimension_value").cumsum()
        for value in values:
            start = base.get((dim, value))
            if start:
                rows = levels.index.get_level_values("dimension_value") == value
                levels.loc[rows, list(HEALTH_MEASURES)] += np.array(start, dtype="int64")
        parts.append(levels.reset_index().assign(dimension=dim))
    if not parts:
        return pd.DataFrame(columns=["day", *ROW_KEYS, *HEALTH_MEASURES])
    out = pd.concat(parts, ignore_index=True)
    return out[["day", *ROW_KEYS, *HEALTH_MEASURES]].astype({m: "int64" for m in HEALTH_MEASURES})


def daily_levels(states: pd.DataFrame, health: pd.DataFrame) -> pd.DataFrame:
    """The state distribution and the health levels of each day, in one frame (LEVELS)."""
    merged = states.merge(health, on=["day", *ROW_KEYS], how="outer")
    for col in LEVELS:
        merged[col] = merged[col].fillna(0).astype("int64") if col in merged else 0
    return merged[["day", *ROW_KEYS, *LEVELS]]


def _period_dates(days: pd.Series, period_type: PeriodType) -> np.ndarray:
    """period_first_day of every day, vectorised (datetime64[D])."""
    d = pd.to_datetime(days).to_numpy(dtype="datetime64[D]")
    if period_type is PeriodType.DAILY:
        return d
    if period_type is PeriodType.WEEKLY:
        weekday = (d.astype("int64") - 4) % 7  # 1970-01-01 was a Thursday (ISO weekday 3)
        return d - weekday.astype("timedelta64[D]")
    return d.astype("datetime64[M]").astype("datetime64[D]")


def period_rows(
    additive: pd.DataFrame,
    states: pd.DataFrame,
    periods: Sequence[Period],
) -> pd.DataFrame:
    """Rows of the metrics tables for `periods` (whole periods inside the frames' days).

    `states` holds the daily LEVELS (`daily_levels`), or the state distribution alone.
    """
    out = []
    latest = max(states["day"]) if len(states) else None
    for period_type in PeriodType:
        targets = [p for p in periods if p.period_type is period_type]
        if not targets:
            continue
        wanted = np.array(sorted({p.period_date for p in targets}), dtype="datetime64[D]")
        flows = additive.drop(columns=["day"]).assign(
            period_date=_period_dates(additive["day"], period_type)
        )
        flows = flows[flows["period_date"].isin(wanted)]
        flows = flows.groupby(["period_date", *ROW_KEYS])[ADDITIVE].sum().reset_index()
        # A period still running ends, for the distribution, on the last day collected.
        last_days = {
            (p.last_day if latest is None else min(p.last_day, latest)): p.period_date
            for p in targets
        }
        levels = states[states["day"].isin(set(last_days))]
        levels = levels.assign(
            period_date=pd.to_datetime(levels["day"].map(last_days)).to_numpy(dtype="datetime64[D]")
        ).drop(columns=["day"])
        merged = flows.merge(levels, on=["period_date", *ROW_KEYS], how="outer")
        totals = pd.DataFrame({"period_date": wanted, "dimension": TOTAL, "dimension_value": TOTAL})
        merged = totals.merge(merged, on=["period_date", *ROW_KEYS], how="outer")
        for col in [*ADDITIVE, *LEVELS]:
            merged[col] = merged[col].fillna(0).astype("int64") if col in merged else 0
        measures = merged[[*ADDITIVE, *LEVELS]].to_numpy()
        keep = (merged["dimension"] == TOTAL).to_numpy() | (measures != 0).any(axis=1)
        out.append(merged[keep].assign(period_type=period_type.value))
    if not out:
        return pd.DataFrame(columns=["period_type", "period_date", *ROW_KEYS])
    rows = pd.concat(out, ignore_index=True)
    rows["period_date"] = [d.date() for d in pd.to_datetime(rows["period_date"])]
    return rows


# Measures used only to compute stored columns (scaled integers), not stored themselves.
INTERNAL = {"activation_days_e4", "discount_pct_sum", "health_score_e1"}
# A percentage column is DECIMAL(5,2): a margin beyond ±999.99 % (revenue near zero, cost
# not) is stored as NULL; total_revenue and cost_total keep the numbers.
LIMITS = {"avg_margin": Decimal("999.99")}


def _rates(n: Mapping[str, Any]) -> list[tuple[str, Any, Any, int]]:
    """Every derived column: (name, numerator, denominator, decimal places), from the
    summed counts `n` (ints, or int64 arrays); docs/metrics.md defines each one."""
    return [
        ("onboarding_rate", 100 * n["onboarding_activated_in_window"], n["onboarding_matured"], 2),
        ("avg_activation_days", n["activation_days_e4"], 10000 * n["onboarding_completed"], 1),
        ("reactivation_rate", 100 * n["reactivation_won"], n["reactivation_resolved"], 2),
        ("avg_reactivation_cost", n["reactivation_cost"], 100 * n["reactivation_attempts"], 2),
        ("reincidence_rate", 100 * n["reincidences"], n["reactivation_matured"], 2),
        ("avg_margin", 100 * (n["total_revenue"] - n["cost_total"]), n["total_revenue"], 2),
        ("avg_discount_pct", n["discount_pct_sum"], 100 * n["orders_count"], 2),
        ("avg_health_score", n["health_score_e1"], 10 * n["health_scored_accounts"], 1),
        ("nps_score", 100 * (n["nps_promoters"] - n["nps_detractors"]), n["nps_responses"], 1),
    ]


def _ratio(num: int, den: int, places: str) -> Decimal | None:
    if den == 0:
        return None
    return (Decimal(num) / Decimal(den)).quantize(Decimal(places), ROUND_HALF_UP)


def _money(units: int) -> Decimal:
    return (Decimal(units) / 100).quantize(Decimal("0.01"))


def finish(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row of `period_rows` as the stored values of every MeasureColumns column."""
    n = {k: int(row.get(k, 0)) for k in [*ADDITIVE, *LEVELS]}
    internal = {*CENTS, *INTERNAL}
    out: dict[str, Any] = {k: v for k, v in n.items() if k not in internal}
    for k in CENTS:
        out[k] = _money(n[k])
    days_sum = (Decimal(n["activation_days_e4"]) / 10000).quantize(Decimal("0.0001"))
    out["activation_days_sum"] = days_sum
    out["health_score_sum"] = (Decimal(n["health_score_e1"]) / 10).quantize(Decimal("0.1"))
    for name, num, den, places in _rates(n):
        value = _ratio(num, den, "1" if places == 0 else "0." + "0" * (places - 1) + "1")
        out[name] = (
            None if value is not None and abs(value) > LIMITS.get(name, abs(value)) else value
        )
    return out


_MAX_INT64_SAFE = 2**62


def _half_up(num: np.ndarray, den: np.ndarray, places: int) -> tuple[np.ndarray, np.ndarray]:
    """round_half_up(num / den, places) as integers scaled by 10**places, and den != 0.

    Exact integer arithmetic, so it agrees with `_ratio` (Decimal division at 28
    digits, then quantize): operands are far below 10**14, so no quotient lies
    within 10**-28 of a rounding tie without being one. Falls back to Python
    integers if a product could overflow int64.
    """
    valid = den != 0
    scale = 10**places
    mag, size = np.abs(num), np.abs(den)
    if len(num) and int(mag.max()) * 2 * scale + int(size.max()) >= _MAX_INT64_SAFE:
        mag, size = mag.astype(object), size.astype(object)
    d = np.where(valid, size, 1)
    q = (mag * (2 * scale) + d) // (2 * d)  # half away from zero, as ROUND_HALF_UP
    return np.where((num < 0) != (den < 0), -q, q), valid


def _decimals(units: np.ndarray, places: int, valid: np.ndarray | None = None) -> list[Any]:
    """Scaled integers as Decimals with exactly `places` places (None where not valid)."""
    exp = -places
    if valid is None:
        return [Decimal(int(u)).scaleb(exp) for u in units]
    return [Decimal(int(u)).scaleb(exp) if ok else None for u, ok in zip(units, valid, strict=True)]


def finish_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """`finish` applied to every row of `period_rows`, as column arithmetic.

    Returns period_type, period_date, dimension, dimension_value and every
    MeasureColumns column: counts as int64, money and rates as Decimal (None for
    an undefined rate), the same values `finish` gives row by row.
    """
    zeros = np.zeros(len(rows), dtype="int64")
    n = {k: rows[k].to_numpy(dtype="int64") if k in rows else zeros for k in [*ADDITIVE, *LEVELS]}
    internal = {*CENTS, *INTERNAL}
    out = rows[["period_type", "period_date", *ROW_KEYS]].reset_index(drop=True)
    for k, v in n.items():
        if k not in internal:
            out[k] = v
    for k in sorted(CENTS):
        out[k] = _decimals(n[k], 2)
    out["activation_days_sum"] = _decimals(n["activation_days_e4"], 4)
    out["health_score_sum"] = _decimals(n["health_score_e1"], 1)
    for name, num, den, places in _rates(n):
        units, valid = _half_up(num, den, places)
        limit = LIMITS.get(name)
        if limit is not None:
            valid = valid & (np.abs(units) <= int(limit * 10**places))
        out[name] = pd.Series(_decimals(units, places, valid), dtype=object)
    return out
