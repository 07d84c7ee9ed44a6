"""Account state: transitions per local day, and the distribution at an instant.

The distribution at the end of a period is never computed from "the latest
transition of each account before the end" (a scan of the whole history).
Instead, `chanperf.metrics.collect` carries it forward:

    distribution(end of day d) = distribution(start of the span) + sum of the net
    transitions of the days of the span up to d

and the starting distribution is, in order of preference: zero when no
transition precedes the span; the stored DAILY rows of the day before the span
(written by the previous collect); or `collect_state_distribution`, which rolls
the current `channel_accounts.state` back over the transitions since the span
started (one accounts scan plus an index range on the transitions since then).

Only accounts present in channel_accounts are counted (inner join), so both
paths agree. The transitions are assumed to chain (`from_state` of one equals
`to_state` of the previous), as the contract says the latest one equals the
account's state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, func, literal, select, union_all

from chanperf.core.enums import AccountState
from chanperf.core.periods import DayRun
from chanperf.metrics.common import (
    Span,
    account_cuts,
    flag,
    ints,
    long_span,
    on_time_index,
    run_by_cut,
    run_by_day,
)
from chanperf.models.source import ChannelAccount, ChannelStateTransition

# Measure column of each state, in MeasureColumns.
STATE_COLUMNS: dict[str, str] = {
    AccountState.NEW.value: "accounts_new",
    AccountState.ACTIVATING.value: "accounts_activating",
    AccountState.ACTIVE.value: "accounts_active",
    AccountState.STALLED.value: "accounts_stalled",
    AccountState.AT_RISK.value: "accounts_at_risk",
    AccountState.CHURNED.value: "accounts_churned",
}
STATE_MEASURES = ("total_accounts", *STATE_COLUMNS.values())
TRANSITION_KEYS = ("day", "region", "segment", "state")
# Flow measures: transitions into these states during the period.
ENTRY_COLUMNS: dict[str, str] = {
    AccountState.ACTIVE.value: "transitions_to_active",
    AccountState.STALLED.value: "transitions_to_stalled",
    AccountState.CHURNED.value: "transitions_to_churn",
}
ENTRY_MEASURES = tuple(ENTRY_COLUMNS.values())


def transition_entries(transitions: pd.DataFrame) -> pd.DataFrame:
    """The moves into ACTIVE, STALLED and CHURNED per (day, region, segment), as the
    additive ENTRY_MEASURES columns (a frame of `collect_state_transitions`)."""
    keys = ["day", "region", "segment"]
    into = transitions[transitions["state"].isin(list(ENTRY_COLUMNS))]
    grouped = into.groupby([*keys, "state"], dropna=False, sort=False)["entered"].sum()
    wide = grouped.unstack("state", fill_value=0).rename(columns=ENTRY_COLUMNS).reset_index()
    for col in ENTRY_MEASURES:
        if col not in wide:
            wide[col] = 0
    return ints(wide[[*keys, *ENTRY_MEASURES]], list(ENTRY_MEASURES))


def collect_state_transitions(conn: Connection, span: Span) -> pd.DataFrame:
    """Net change of the number of accounts in each state, per (day, region, segment, state).

    Columns: day, region, segment, state, delta and entered (int64): `delta` the net
    change, `entered` the moves into the state. A first transition (from_state NULL)
    adds an account; later ones move it between states.
    SQL counts, in one pass over the span's transitions (one account lookup each,
    or the numbered cuts of `account_cuts` for a long span), the moves into and out
    of each known state per (day, region, segment), one row each; they are split
    here into +n for to_state and -n for from_state. A span with a move from or to
    a state outside STATE_COLUMNS (or a NULL to_state) is counted again per (day,
    region, segment, from_state, to_state) instead.
    """
    t = ChannelStateTransition.__table__
    a = ChannelAccount.__table__
    joined = t.join(a, and_(a.c.account_id == t.c.account_id, a.c.org_id == t.c.org_id))
    by_cut = long_span(conn, span)
    m = account_cuts(span.org_id)
    cut_keys = [m.c.cut] if by_cut else [a.c.region, a.c.segment]

    known = list(STATE_COLUMNS)
    where = (t.c.org_id == span.org_id,)
    keys = ["day", "region", "segment"]

    def pivoted(bucket: Any, run: DayRun) -> Any:
        # One row per (day, cut): moves into and out of each known state as columns
        # (COUNT of a CASE: plain integers), and all moves and all moves from a state:
        # what the known columns leave over are moves touching another state, which
        # send the span to `pairs` instead.
        day = bucket(t.c.transitioned_at).label("day")
        query = (
            select(
                day,
                *cut_keys,
                func.count(),
                func.count(t.c.from_state),
                *[flag(t.c.to_state == st) for st in known],
                *[flag(t.c.from_state == st) for st in known],
            )
            .select_from(t.join(m, m.c.account_id == t.c.account_id) if by_cut else joined)
            .where(*where, t.c.transitioned_at >= run.start, t.c.transitioned_at < run.end)
            .group_by(day, *cut_keys)
        )
        return on_time_index(query, t, t.c.transitioned_at)

    def pairs(bucket: Any, run: DayRun) -> Any:
        day = bucket(t.c.transitioned_at).label("day")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                t.c.from_state,
                t.c.to_state,
                func.count().label("moves"),
            )
            .select_from(joined)
            .where(*where, t.c.transitioned_at >= run.start, t.c.transitioned_at < run.end)
            .group_by(day, a.c.region, a.c.segment, t.c.from_state, t.c.to_state)
        )
        return on_time_index(query, t, t.c.transitioned_at)

    enter_cols = [f"enter_{st}" for st in known]
    leave_cols = [f"leave_{st}" for st in known]
    counts = ["moves", "moves_from", *enter_cols, *leave_cols]
    rows = ints(run_by_cut(conn, span, pivoted, counts, by_cut), counts)
    odd = (
        rows["moves"]
        - rows[enter_cols].sum(axis=1)
        + rows["moves_from"]
        - rows[leave_cols].sum(axis=1)
    )
    if int(odd.abs().sum()) == 0:
        parts = []
        for st, enter, leave in zip(known, enter_cols, leave_cols, strict=True):
            entering = rows.loc[rows[enter] > 0]
            parts.append(
                entering[keys].assign(state=st, delta=entering[enter], entered=entering[enter])
            )
            leaving = rows.loc[rows[leave] > 0]
            parts.append(leaving[keys].assign(state=st, delta=-leaving[leave], entered=0))
        moves = pd.concat(parts, ignore_index=True)
    else:
        moved = ints(
            run_by_day(conn, span, pairs, [*keys, "from_state", "to_state", "moves"]), ["moves"]
        )
        entering = moved[[*keys, "to_state", "moves"]].rename(
            columns={"to_state": "state", "moves": "delta"}
        )
        entering["entered"] = entering["delta"]
        leaving = moved.loc[moved["from_state"].notna(), [*keys, "from_state", "moves"]]
        leaving = leaving.rename(columns={"from_state": "state", "moves": "delta"})
        leaving["delta"] = -leaving["delta"]
        leaving["entered"] = 0
        moves = pd.concat([entering, leaving], ignore_index=True)
    frame = moves.groupby(list(TRANSITION_KEYS), dropna=False, sort=False)[["delta", "entered"]]
    return ints(frame.sum().reset_index(), ["delta", "entered"])


def collect_state_distribution(conn: Connection, org_id: int, at: datetime) -> pd.DataFrame:
    """Accounts per (region, segment, state) at instant `at` (naive UTC).

    The current state rolled back over the transitions at or after `at`: cost
    grows with the accounts and with the time since `at`, not with the history.
    Columns: region, segment, state, accounts (int64, > 0).
    """
    t = ChannelStateTransition.__table__
    a = ChannelAccount.__table__
    joined = t.join(a, and_(a.c.account_id == t.c.account_id, a.c.org_id == t.c.org_id))
    since = and_(t.c.org_id == org_id, t.c.transitioned_at >= at)
    current = select(a.c.region, a.c.segment, a.c.state, literal(1).label("n")).where(
        a.c.org_id == org_id
    )
    undo_enter = (
        select(a.c.region, a.c.segment, t.c.to_state, literal(-1).label("n"))
        .select_from(joined)
        .where(since)
    )
    undo_leave = (
        select(a.c.region, a.c.segment, t.c.from_state, literal(1).label("n"))
        .select_from(joined)
        .where(since, t.c.from_state.is_not(None))
    )
    parts = union_all(current, undo_enter, undo_leave).subquery()
    cols = list(parts.c)
    query = select(cols[0], cols[1], cols[2], func.sum(cols[3])).group_by(cols[0], cols[1], cols[2])
    frame = pd.DataFrame(
        [list(row) for row in conn.execute(query)],
        columns=["region", "segment", "state", "accounts"],
    )
    frame = ints(frame, ["accounts"])
    return frame[frame["accounts"] > 0].reset_index(drop=True)


def first_transition_at(conn: Connection, org_id: int) -> datetime | None:
    """The earliest transition of the org (an index lookup), None when there is none."""
    t = ChannelStateTransition.__table__
    value = conn.execute(select(func.min(t.c.transitioned_at)).where(t.c.org_id == org_id)).scalar()
    return value if isinstance(value, datetime) or value is None else _parse(value)


def _parse(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))
