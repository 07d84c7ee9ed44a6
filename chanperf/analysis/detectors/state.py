"""Account-state detectors: time in a state and transition rates (churn risk: `churn.py`).

`detect_bottlenecks` gives two kinds of `StateBottleneck` finding:

- "time_in_state": for every state with a `states.max_days_in_state.<STATE>`, the
  accounts in that state at the end of the as-of day, their days in it (end of
  as-of − their latest transition, which is the transition into the current
  state), and a one-sided sign test that the median exceeds the policy maximum;
  channel-wide and per region. `accounts_affected` = accounts over the maximum,
  `rate_b` their share.
- "over_max_share": per state and region, the share of the region's accounts in
  the state that are over the maximum (b) against that share in the rest of the
  channel (a), two-proportion test. A region that leaves accounts stuck shows
  here even while fresh arrivals keep its median under the maximum.
- "transition_rate": for a state X and a target Y in {STALLED, CHURNED}, the
  share of accounts in X at the start of an ISO week that have a transition to Y
  during that week, week by week over the last `history_weeks` weeks; the
  change-point scan (`chanperf.core.changepoint.scan_change`) finds the week the
  rate changed: account-weeks from `change_start` on (b) against those before (a),
  channel-wide and per region. The same account appears in several weeks and
  weeks differ by more than binomial noise; the scan's dispersion, estimated from
  the weeks, covers both. A pair that never happened in the history gives no finding.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, and_, distinct, func, select

from chanperf.analysis.context import AnalysisContext
from chanperf.analysis.detectors.cohorts import history_mondays, states_at
from chanperf.analysis.detectors.comparisons import (
    days_between,
    relative,
    two_proportions,
    week_span,
)
from chanperf.analysis.findings import Finding, StateBottleneck
from chanperf.core.changepoint import scan_change
from chanperf.core.enums import AccountState
from chanperf.core.stats import median_above, median_interval
from chanperf.models.source import ChannelAccount, ChannelStateTransition
from chanperf.source.frames import frame, times
from chanperf.source.indexes import by_time

TARGETS = (AccountState.STALLED.value, AccountState.CHURNED.value)
CHANNEL = "__channel__"  # group key of the channel-wide comparison (never a region code)


def analyze_state_flows(conn: Connection, ctx: AnalysisContext) -> pd.DataFrame:
    """State → state transitions of the lookback period.

    Columns: `from_state` (None for an account's first state), `to_state`,
    `transitions` (count), `accounts` (distinct accounts), `share` (transitions /
    all transitions out of `from_state` in the period). Sorted by from/to state.
    """
    t = ChannelStateTransition.__table__
    stmt = (
        select(
            t.c.from_state,
            t.c.to_state,
            func.count().label("transitions"),
            func.count(distinct(t.c.account_id)).label("accounts"),
        )
        .where(
            t.c.org_id == ctx.org_id,
            t.c.transitioned_at >= ctx.utc(ctx.period_start),
            t.c.transitioned_at < ctx.end_utc,
        )
        .group_by(t.c.from_state, t.c.to_state)
    )
    flows = frame(conn, by_time(conn, stmt, t, t.c.transitioned_at))
    if flows.empty:
        return pd.DataFrame(columns=["from_state", "to_state", "transitions", "accounts", "share"])
    flows["transitions"] = flows["transitions"].astype(int)
    flows["accounts"] = flows["accounts"].astype(int)
    out_of = flows.groupby(flows["from_state"].fillna(""), dropna=False)["transitions"].transform(
        "sum"
    )
    flows["share"] = flows["transitions"] / out_of
    return flows.sort_values(["from_state", "to_state"], na_position="first").reset_index(drop=True)


def weekly_exposure(
    conn: Connection, ctx: AnalysisContext, weeks: list[date] | None = None
) -> pd.DataFrame:
    """Account-weeks of `weeks` (Mondays, consecutive; default the baseline and recent
    weeks), counted by the state they started in.

    One row per week (Monday), region and state at the week's start: `accounts` in that
    state then, and per target in TARGETS how many of them moved to it during the week.
    Columns: week, period ("baseline"/"recent", or "history" for given weeks), region,
    state, accounts, *TARGETS.

    Counted without a row per account and week (millions at 1M accounts): the accounts in
    a state at a week's start are those at the first week's start plus the entries and
    minus the exits of the transitions before it; a mover's state at its week's start is
    its own last move before it, else its state at the first week's start.
    """
    if weeks is None:
        baseline, recent = ctx.weeks()
        mondays = [*baseline, *recent]
        periods = ["baseline"] * len(baseline) + ["recent"] * len(recent)
    else:
        mondays, periods = list(weeks), ["history"] * len(weeks)
    columns = ["week", "period", "region", "state", "accounts", *TARGETS]
    if not mondays:
        return pd.DataFrame(columns=columns)
    starts = np.array([ctx.utc(m) for m in mondays], dtype="datetime64[ns]")
    ends = np.array([ctx.utc(m + timedelta(days=7)) for m in mondays], dtype="datetime64[ns]")
    start, end = week_span(ctx, mondays)
    at_start = states_at(conn, ctx, start)[["account_id", "region", "state"]]
    at_start["state"] = at_start["state"].astype(str)
    t = ChannelStateTransition.__table__
    a = ChannelAccount.__table__
    query = (
        select(t.c.account_id, a.c.region, t.c.to_state, t.c.transitioned_at, t.c.id)
        .select_from(t.join(a, and_(a.c.org_id == t.c.org_id, a.c.account_id == t.c.account_id)))
        .where(t.c.org_id == ctx.org_id, t.c.transitioned_at >= start, t.c.transitioned_at < end)
    )
    moves = frame(conn, by_time(conn, query, t, t.c.transitioned_at))
    moves["transitioned_at"] = times(moves["transitioned_at"]).astype("datetime64[ns]")
    moves["to_state"] = moves["to_state"].astype(str)
    moves = moves.sort_values(["account_id", "transitioned_at", "id"], kind="stable")
    # Each move leaves the account's previous state: its move before, else its state at the
    # start (none: the account enters the population with this move).
    start_state = moves["account_id"].map(at_start.set_index("account_id")["state"])
    previous = moves.groupby("account_id")["to_state"].shift(1)
    moves["from_state"] = previous.where(previous.notna(), start_state)
    at_ns = moves["transitioned_at"].to_numpy("datetime64[ns]")
    # A move counts at the start of every week that starts after it.
    moves["counts_from"] = np.searchsorted(starts, at_ns, side="right")

    weeks = pd.RangeIndex(len(mondays))
    exposed = _levels(at_start, moves, weeks)
    movers = _movers(at_start, moves, starts, ends)
    out = exposed.join(movers, how="left").fillna(0).astype(int).reset_index()
    out = out[out["accounts"] > 0]
    out["week"] = [mondays[i] for i in out["week_index"]]
    out["period"] = [periods[i] for i in out["week_index"]]
    return out[columns].reset_index(drop=True)


def _levels(at_start: pd.DataFrame, moves: pd.DataFrame, weeks: pd.RangeIndex) -> pd.DataFrame:
    """Accounts per (week_index, region, state) at each week's start."""
    entries = moves[["counts_from", "region", "to_state"]].set_axis(
        ["counts_from", "region", "state"], axis=1
    )
    exits = moves.loc[moves["from_state"].notna(), ["counts_from", "region", "from_state"]]
    exits = exits.set_axis(["counts_from", "region", "state"], axis=1)
    deltas = pd.concat([entries.assign(n=1), exits.assign(n=-1)], ignore_index=True)
    by_week = (
        deltas.groupby(["region", "state", "counts_from"])["n"]
        .sum()
        .unstack("counts_from")
        .reindex(columns=weeks, fill_value=0)
        .fillna(0)
    )
    initial = at_start.groupby(["region", "state"]).size()
    keys = by_week.index.union(initial.index)
    levels = (
        by_week.reindex(keys, fill_value=0)
        .cumsum(axis=1)
        .add(initial.reindex(keys, fill_value=0), axis=0)
    )
    levels.columns.name = "week_index"
    stacked = levels.stack()
    stacked.name = "accounts"
    return stacked.reorder_levels(["week_index", "region", "state"]).to_frame()


def _movers(
    at_start: pd.DataFrame, moves: pd.DataFrame, starts: np.ndarray, ends: np.ndarray
) -> pd.DataFrame:
    """Per (week_index, region, state at the week's start), the accounts that moved to each
    target during the week (an account counted once per week and target)."""
    at_ns = moves["transitioned_at"].to_numpy("datetime64[ns]")
    week = np.searchsorted(starts, at_ns, side="right") - 1
    inside = (week >= 0) & (at_ns < ends[np.clip(week, 0, None)])
    during = moves.loc[inside, ["account_id", "region", "to_state"]].assign(week_index=week[inside])
    during = during[during["to_state"].isin(TARGETS)].drop_duplicates()
    if during.empty:
        keys = pd.MultiIndex.from_arrays([[], [], []], names=["week_index", "region", "state"])
        return pd.DataFrame(columns=list(TARGETS), index=keys, dtype=int)
    during["week_start"] = starts[during["week_index"].to_numpy()]
    history = moves[["account_id", "transitioned_at", "id", "to_state"]].sort_values(
        ["transitioned_at", "id"], kind="stable"
    )
    found = pd.merge_asof(
        during.sort_values("week_start"),
        history.rename(columns={"to_state": "state"}),
        left_on="week_start",
        right_on="transitioned_at",
        by="account_id",
        allow_exact_matches=False,
    )
    initial = found["account_id"].map(at_start.set_index("account_id")["state"])
    found["state"] = found["state"].where(found["state"].notna(), initial)
    found = found[found["state"].notna()]  # not in the population when the week started
    counts = found.groupby(["week_index", "region", "state", "to_state"]).size().unstack("to_state")
    return counts.reindex(columns=list(TARGETS), fill_value=0)


def _time_in_state(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    limits: dict[str, Any] = ctx.policies.get("states.max_days_in_state", {}) or {}
    states = states_at(conn, ctx, ctx.end_utc)
    if states.empty or not limits:
        return []
    states["days"] = days_between(states["entered_at"], ctx.end_utc)
    findings: list[Finding] = []
    for state, limit in sorted(limits.items()):
        in_state = states[states["state"] == state]
        groups = [(CHANNEL, in_state), *sorted(in_state.groupby("region"), key=lambda g: str(g[0]))]
        for region, group in groups:
            if group.empty:
                continue
            days = group["days"].to_numpy(dtype=float)
            median, p = median_above(days, float(limit))
            low, high = median_interval(days)
            over = int((days > float(limit)).sum())
            effect = median - float(limit)
            where = (
                {"state": str(state)}
                if region == CHANNEL
                else {"state": str(state), "region": str(region)}
            )
            findings.append(
                StateBottleneck(
                    **ctx.finding_fields(where),
                    signal="time_in_state",
                    state=str(state),
                    region=None if region == CHANNEL else str(region),
                    median_days=median,
                    max_days=float(limit),
                    accounts_affected=over,
                    n=len(days),
                    n_b=len(days),
                    rate_b=over / len(days),
                    effect=effect,
                    relative_effect=relative(effect, float(limit)),
                    ci_low=None if low is None else low - float(limit),
                    ci_high=None if high is None else high - float(limit),
                    p_value=p,
                    policy="states",
                    parameter=f"max_days_in_state.{state}",
                    policy_value=float(limit),
                    extra={"mean_days": float(np.mean(days)), "test": "sign_test_median"},
                )
            )
            if region != CHANNEL:
                findings.extend(
                    _over_max_vs_rest(ctx, str(state), float(limit), str(region), in_state)
                )
    return findings


def _over_max_vs_rest(
    ctx: AnalysisContext, state: str, limit: float, region: str, in_state: pd.DataFrame
) -> list[Finding]:
    """Share of the region's accounts in `state` over the limit (b) against the rest of the channel (a)."""
    over = in_state["days"] > limit
    mine = in_state["region"] == region
    x_b, n_b = int(over[mine].sum()), int(mine.sum())
    x_a, n_a = int(over[~mine].sum()), int((~mine).sum())
    if n_a == 0 or x_a + x_b == 0:
        return []  # no other region, or nobody over the limit anywhere: nothing compared
    return [
        StateBottleneck(
            **ctx.finding_fields({"state": state, "region": region}),
            signal="over_max_share",
            state=state,
            region=region,
            median_days=float(in_state.loc[mine, "days"].median()),
            max_days=limit,
            accounts_affected=x_b,
            **two_proportions(x_b, n_b, x_a, n_a),
            policy="states",
            parameter=f"max_days_in_state.{state}",
            policy_value=limit,
            extra={
                "rest_over_max": x_a,
                "rest_median_days": float(in_state.loc[~mine, "days"].median()),
            },
        )
    ]


def _transition_rates(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    weeks = history_mondays(ctx)
    exposure = weekly_exposure(conn, ctx, weeks)
    if exposure.empty:
        return []
    flows = analyze_state_flows(conn, ctx)
    findings: list[Finding] = []
    channel = exposure.assign(region=CHANNEL)
    for region, rows in [
        (CHANNEL, channel),
        *sorted(exposure.groupby("region"), key=lambda g: str(g[0])),
    ]:
        for target in TARGETS:
            weekly = (
                rows[rows["state"] != target].groupby(["state", "week"])[[target, "accounts"]].sum()
            )
            for state in sorted({s for s, _ in weekly.index}):
                if state == AccountState.CHURNED.value:
                    continue  # nothing leaves CHURNED
                series = weekly.loc[state]
                series = series[series["accounts"] > 0].sort_index()
                moved, exposed = (series[c].to_numpy(float) for c in (target, "accounts"))
                if moved.sum() == 0:
                    continue  # the transition never happened: nothing to compare
                rate = float(moved.sum() / exposed.sum())
                change = scan_change(
                    moved, exposed, rate * (1 - rate), ctx.config.changepoint_min_weeks
                )
                if change is None:
                    continue
                mondays = list(series.index)
                where = {"state": state, "to_state": target}
                extra: dict[str, int | float | str] = {
                    "baseline_transitions": int(change.total_before),
                    "recent_transitions": int(change.total_after),
                    "baseline_weeks": change.weeks_before,
                    "recent_weeks": change.weeks_after,
                    "history_first_week": weeks[0].isoformat(),
                    "test": "change_point_scan",
                    "statistic": change.statistic,
                    "dispersion": change.dispersion,
                }
                if region == CHANNEL:
                    flow = flows[(flows["from_state"] == state) & (flows["to_state"] == target)]
                    extra["lookback_transitions"] = int(flow["transitions"].sum())
                else:
                    where["region"] = str(region)
                start = mondays[change.index]
                findings.append(
                    StateBottleneck(
                        org_id=ctx.org_id,
                        period_start=start,
                        period_end=mondays[-1] + timedelta(days=6),
                        filters=where,
                        signal="transition_rate",
                        state=state,
                        to_state=target,
                        region=None if region == CHANNEL else str(region),
                        accounts_affected=int(change.total_after),
                        change_start=start,
                        n=round(change.units_before + change.units_after),
                        n_a=round(change.units_before),
                        n_b=round(change.units_after),
                        rate_a=change.mean_before,
                        rate_b=change.mean_after,
                        effect=change.effect,
                        relative_effect=relative(change.effect, change.mean_before),
                        ci_low=change.ci_low,
                        ci_high=change.ci_high,
                        p_value=change.p_value,
                        extra=extra,
                    )
                )
    return findings


def detect_bottlenecks(conn: Connection, ctx: AnalysisContext) -> list[Finding]:
    """Accounts stuck in a state longer than the policy allows; transition rates jumping."""
    return _time_in_state(conn, ctx) + _transition_rates(conn, ctx)
