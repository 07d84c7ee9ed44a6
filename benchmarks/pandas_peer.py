"""The peer a data analyst would write: read the source tables into pandas and compute the
monthly metric rows with groupby, by the definitions of docs/metrics.md.

Used by analysis_benchmark.py, which times it beside chanperf's backfill and checks it
gives the same numbers as chanperf's stored MONTHLY totals rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

TZ = "America/Sao_Paulo"
ACTIVATION_WINDOW_DAYS = 30
REINCIDENCE_WINDOW_DAYS = 90
ATTRIBUTION_DAYS = 90
STATE_COLUMNS = {
    "NEW": "accounts_new",
    "ACTIVATING": "accounts_activating",
    "ACTIVE": "accounts_active",
    "STALLED": "accounts_stalled",
    "AT_RISK": "accounts_at_risk",
    "CHURNED": "accounts_churned",
}
ENTRIES = {"ACTIVE": "transitions_to_active", "STALLED": "transitions_to_stalled",
           "CHURNED": "transitions_to_churn"}  # fmt: skip


def _read(engine: Engine, sql: str) -> pd.DataFrame:
    return pd.read_sql_query(sql, engine)


def _month(ts: pd.Series) -> pd.Series:
    """The local month (first day) of naive-UTC timestamps."""
    local = pd.to_datetime(ts).dt.tz_localize("UTC").dt.tz_convert(TZ)
    return local.dt.tz_localize(None).dt.to_period("M").dt.to_timestamp().dt.date


def monthly_rows(engine: Engine, org_id: int, as_of: datetime) -> pd.DataFrame:
    """One row per local month: the interface columns of channel_performance_metrics."""
    org = f"org_id = {org_id}"
    asof = pd.Timestamp(as_of)
    out: dict[str, pd.Series] = {}

    o = _read(
        engine,
        f"SELECT started_at, status, completed_at, failed_at FROM channel_onboardings WHERE {org}",
    )
    for col in ("started_at", "completed_at", "failed_at"):
        o[col] = pd.to_datetime(o[col])
    o = o[o["started_at"] < asof]
    window = pd.Timedelta(days=ACTIVATION_WINDOW_DAYS)
    completed = (o["status"] == "COMPLETED") & (o["completed_at"] < asof)
    failed = (o["status"] == "FAILED") & (o["failed_at"] < asof)
    matured = o["started_at"] <= asof - window
    activated = matured & completed & (o["completed_at"] <= o["started_at"] + window)
    seconds = ((o["completed_at"] - o["started_at"]).dt.total_seconds()).where(completed, 0.0)
    g = pd.DataFrame({
        "m": _month(o["started_at"]), "started": 1, "completed": completed, "failed": failed,
        "matured": matured, "activated": activated, "seconds": seconds,
    }).groupby("m").sum()  # fmt: skip
    out["onboarding_started"] = g["started"]
    out["onboarding_completed"] = g["completed"]
    out["onboarding_failed"] = g["failed"]
    out["onboarding_matured"] = g["matured"]
    out["onboarding_activated_in_window"] = g["activated"]
    out["activation_days"] = g["seconds"] / 86400

    r = _read(
        engine,
        f"SELECT account_id, started_at, cost, status, resolved_at FROM channel_reactivations WHERE {org}",
    )
    r["started_at"] = pd.to_datetime(r["started_at"])
    r["resolved_at"] = pd.to_datetime(r["resolved_at"])
    started = r[r["started_at"] < asof]
    gs = (
        pd.DataFrame(
            {"m": _month(started["started_at"]), "n": 1, "cost": started["cost"].astype(float)}
        )
        .groupby("m")
        .sum()
    )
    out["reactivation_attempts"] = gs["n"]
    out["reactivation_cost"] = gs["cost"]
    resolved = r[
        r["resolved_at"].notna() & (r["resolved_at"] < asof) & r["status"].isin(["WON", "LOST"])
    ].copy()
    rwindow = pd.Timedelta(days=REINCIDENCE_WINDOW_DAYS)
    won = resolved["status"] == "WON"
    resolved["matured"] = won & (resolved["resolved_at"] <= asof - rwindow)
    t = _read(
        engine,
        f"SELECT account_id, to_state, transitioned_at FROM channel_state_transitions WHERE {org}",
    )
    t["transitioned_at"] = pd.to_datetime(t["transitioned_at"])
    relapse = t[t["to_state"].isin(["STALLED", "CHURNED"])]
    wins = resolved[resolved["matured"]].reset_index()
    pairs = wins.merge(relapse, on="account_id")
    hit = pairs[
        (pairs["transitioned_at"] > pairs["resolved_at"])
        & (pairs["transitioned_at"] <= pairs["resolved_at"] + rwindow)
    ]
    resolved["relapsed"] = resolved.index.isin(set(hit["index"]))
    gr = pd.DataFrame({
        "m": _month(resolved["resolved_at"]), "won": won, "lost": resolved["status"] == "LOST",
        "resolved": 1, "matured": resolved["matured"], "reinc": resolved["relapsed"],
    }).groupby("m").sum()  # fmt: skip
    out["reactivation_won"] = gr["won"]
    out["reactivation_lost"] = gr["lost"]
    out["reactivation_resolved"] = gr["resolved"]
    out["reactivation_matured"] = gr["matured"]
    out["reincidences"] = gr["reinc"]

    # States at each month's end (or the as-of), and transitions into a state in the month.
    a = _read(
        engine, f"SELECT account_id, created_at, health_score FROM channel_accounts WHERE {org}"
    )
    a["created_at"] = pd.to_datetime(a["created_at"])
    t = t[t["account_id"].isin(set(a["account_id"])) & (t["transitioned_at"] < asof)]
    entries = t[t["to_state"].isin(list(ENTRIES))]
    ge = pd.crosstab(_month(entries["transitioned_at"]), entries["to_state"])
    for state, col in ENTRIES.items():
        out[col] = ge[state] if state in ge else pd.Series(dtype=int)
    months = sorted(set().union(*[set(s.index) for s in out.values() if len(s)]))
    ends = {m: min(_local_month_end_utc(m), asof) for m in months}
    t_sorted = t.sort_values(["transitioned_at"], kind="stable")
    states: dict[str, dict[Any, int]] = {col: {} for col in STATE_COLUMNS.values()}
    health_sum: dict[Any, float] = {}
    health_n: dict[Any, int] = {}
    for m, end in ends.items():
        last = t_sorted[t_sorted["transitioned_at"] < end].groupby("account_id").tail(1)
        counts = last["to_state"].value_counts()
        for state, col in STATE_COLUMNS.items():
            states[col][m] = int(counts.get(state, 0))
        existing = a[(a["created_at"] < end) & a["health_score"].notna()]
        health_sum[m] = float(existing["health_score"].astype(float).sum())
        health_n[m] = len(existing)
    for col, values in states.items():
        out[col] = pd.Series(values)
    out["health_score_sum"] = pd.Series(health_sum)
    out["health_scored_accounts"] = pd.Series(health_n)

    lines = _read(
        engine, f"SELECT account_id, ordered_at, revenue, cost FROM channel_orders WHERE {org}"
    )
    lines["ordered_at"] = pd.to_datetime(lines["ordered_at"])
    lines = lines[lines["ordered_at"] < asof]
    lines = lines.merge(a[["account_id", "created_at"]], on="account_id", how="left")
    lines = lines.sort_values("ordered_at").reset_index(drop=True)  # merge_asof needs it sorted
    attribution = pd.Timedelta(days=ATTRIBUTION_DAYS)
    new = (lines["created_at"] <= lines["ordered_at"]) & (
        lines["ordered_at"] < lines["created_at"] + attribution
    )
    won_at = r[(r["status"] == "WON") & r["resolved_at"].notna() & (r["resolved_at"] < asof)][
        ["account_id", "resolved_at"]
    ]
    latest = pd.merge_asof(
        lines[["ordered_at", "account_id"]], won_at.sort_values("resolved_at"),
        left_on="ordered_at", right_on="resolved_at", by="account_id", direction="backward",
    )  # fmt: skip
    reactivated = latest["resolved_at"].notna() & (
        lines["ordered_at"] < latest["resolved_at"] + attribution
    )
    revenue = lines["revenue"].astype(float)
    go = pd.DataFrame({
        "m": _month(lines["ordered_at"]), "revenue": revenue, "cost": lines["cost"].astype(float),
        "new": revenue.where(new, 0.0), "reactivated": revenue.where(reactivated, 0.0),
    }).groupby("m").sum()  # fmt: skip
    out["total_revenue"] = go["revenue"]
    out["cost_total"] = go["cost"]
    out["revenue_from_new"] = go["new"]
    out["revenue_from_reactivated"] = go["reactivated"]

    e = _read(engine, f"SELECT requested_at FROM channel_policy_exceptions WHERE {org}")
    e["requested_at"] = pd.to_datetime(e["requested_at"])
    e = e[e["requested_at"] < asof]
    out["exceptions_count"] = _month(e["requested_at"]).value_counts()

    frame = pd.DataFrame(out).fillna(0)
    return _rates(frame)


def _local_month_end_utc(month_first: Any) -> pd.Timestamp:
    nxt = pd.Timestamp(month_first) + pd.offsets.MonthBegin(1)
    return nxt.tz_localize(TZ).tz_convert("UTC").tz_localize(None)


def _half_up(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _ratio(num: pd.Series, den: pd.Series, places: int) -> pd.Series:
    return pd.Series(
        [None if d == 0 else _half_up(float(n) / float(d), places) for n, d in zip(num, den, strict=True)],
        index=num.index, dtype=object,
    )  # fmt: skip


def _rates(f: pd.DataFrame) -> pd.DataFrame:
    f["onboarding_rate"] = _ratio(
        100 * f["onboarding_activated_in_window"], f["onboarding_matured"], 2
    )
    f["avg_activation_days"] = _ratio(f["activation_days"], f["onboarding_completed"], 1)
    f["reactivation_rate"] = _ratio(100 * f["reactivation_won"], f["reactivation_resolved"], 2)
    f["avg_reactivation_cost"] = _ratio(f["reactivation_cost"], f["reactivation_attempts"], 2)
    f["reincidence_rate"] = _ratio(100 * f["reincidences"], f["reactivation_matured"], 2)
    margin = _ratio(100 * (f["total_revenue"] - f["cost_total"]), f["total_revenue"], 2)
    f["avg_margin"] = [None if v is None or abs(v) > Decimal("999.99") else v for v in margin]
    f["avg_health_score"] = _ratio(f["health_score_sum"], f["health_scored_accounts"], 1)
    return f.drop(columns=["activation_days"])


# The columns compared with chanperf's MONTHLY totals rows.
COMPARED = (
    "onboarding_started", "onboarding_completed", "onboarding_failed", "onboarding_rate",
    "avg_activation_days", "reactivation_attempts", "reactivation_won", "reactivation_lost",
    "reactivation_rate", "avg_reactivation_cost", "reincidence_rate", *STATE_COLUMNS.values(),
    *ENTRIES.values(), "total_revenue", "avg_margin", "revenue_from_new",
    "revenue_from_reactivated", "avg_health_score", "exceptions_count",
)  # fmt: skip


def compare(peer: pd.DataFrame, stored: pd.DataFrame) -> list[str]:
    """Differences between the peer's rows and chanperf's stored MONTHLY rows (empty: none)."""
    problems = []
    by_month = {pd.Timestamp(r["period_date"]).date(): r for r in stored.to_dict("records")}
    for month, row in peer.iterrows():
        mine = by_month.get(month)
        if mine is None:
            problems.append(f"{month}: no stored row")
            continue
        for col in COMPARED:
            a, b = row[col], mine[col]
            if a is None or b is None or (isinstance(b, float) and np.isnan(b)):
                same = (a is None or (isinstance(a, float) and np.isnan(a))) == (
                    b is None or (isinstance(b, float) and np.isnan(b))
                )
            else:
                same = abs(Decimal(str(a)) - Decimal(str(b))) <= Decimal("0.011")
            if not same:
                problems.append(f"{month} {col}: peer {a} chanperf {b}")
    return problems


def last_day_before(as_of: datetime) -> datetime:
    return as_of - timedelta(days=1)
