"""Account state: transitions per local day, and the distribution at an instant.

The distribution at the end of a period is never computed from "the latest
transition of each account before the end" (a scan of the whole history).
Instead, `chanperf.collect` carries it forward:

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
from sqlalchemy import Connection, and_, case, func, literal, or_, select, union_all

from chanperf.collectors.common import Span, ints, on_time_index, run_by_day
from chanperf.enums import AccountState
from chanperf.models.source import ChannelAccount, ChannelStateTransition
from chanperf.periods import DayRun

# Measure column of each state, in MeasureColumns.
STATE_COLUMNS: dict[str, str] = {
    AccountState.NEW.value: "new_accounts",
    AccountState.ACTIVATING.value: "activating_accounts",
    AccountState.ACTIVE.value: "active_accounts",
    AccountState.STALLED.value: "stalled_accounts",
    AccountState.AT_RISK.value: "at_risk_accounts",
    AccountState.CHURNED.value: "churned_accounts",
}
STATE_MEASURES = ("total_accounts", *STATE_COLUMNS.values())
TRANSITION_KEYS = ("day", "region", "segment", "state")


def collect_state_transitions(conn: Connection, span: Span) -> pd.DataFrame:
    """Net change of the number of accounts in each state, per (day, region, segment, state).

    Columns: day, region, segment, state, delta (int64). A first transition
    (from_state NULL) adds an account; later ones move it between states.
    SQL counts the moves per (day, region, segment, from_state, to_state) in one
    pass over the span's transitions (one account lookup each); the few rows
    that come back are split here into +n for to_state and -n for from_state.
    """
    t = ChannelStateTransition.__table__
    a = ChannelAccount.__table__
    joined = t.join(a, and_(a.c.account_id == t.c.account_id, a.c.org_id == t.c.org_id))

    known = list(STATE_COLUMNS)

    def build(bucket: Any, run: DayRun) -> Any:
        day = bucket(t.c.transitioned_at).label("day")
        # Moves between known states come back pivoted (one row per day, region and
        # segment); a move from or to any other state keeps that state as a key.
        odd_from = case(
            (or_(t.c.from_state.is_(None), t.c.from_state.in_(known)), None),
            else_=t.c.from_state,
        ).label("odd_from")
        odd_to = case((t.c.to_state.in_(known), None), else_=t.c.to_state).label("odd_to")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                odd_from,
                odd_to,
                func.count().label("moves"),
                *[func.sum(case((t.c.to_state == st, 1), else_=0)) for st in known],
                *[func.sum(case((t.c.from_state == st, 1), else_=0)) for st in known],
            )
            .select_from(joined)
            .where(
                t.c.org_id == span.org_id,
                t.c.transitioned_at >= run.start,
                t.c.transitioned_at < run.end,
            )
            .group_by(day, a.c.region, a.c.segment, odd_from, odd_to)
        )
        return on_time_index(query, t, t.c.transitioned_at)

    keys = ["day", "region", "segment"]
    enter_cols = [f"enter_{st}" for st in known]
    leave_cols = [f"leave_{st}" for st in known]
    counts = [*enter_cols, *leave_cols]
    rows = ints(
        run_by_day(conn, span, build, [*keys, "odd_from", "odd_to", "moves", *counts]),
        ["moves", *counts],
    )
    parts = []
    for st, enter, leave in zip(known, enter_cols, leave_cols, strict=True):
        entering = rows.loc[rows[enter] > 0, keys].assign(state=st, delta=rows[enter])
        leaving = rows.loc[rows[leave] > 0, keys].assign(state=st, delta=-rows[leave])
        parts.extend([entering, leaving])
    odd_to_rows = rows[rows["odd_to"].notna()]
    parts.append(odd_to_rows[keys].assign(state=odd_to_rows["odd_to"], delta=odd_to_rows["moves"]))
    odd_from_rows = rows[rows["odd_from"].notna()]
    parts.append(
        odd_from_rows[keys].assign(state=odd_from_rows["odd_from"], delta=-odd_from_rows["moves"])
    )
    moves = pd.concat(parts, ignore_index=True)
    frame = moves.groupby(list(TRANSITION_KEYS), dropna=False, sort=False)["delta"].sum()
    return ints(frame.reset_index(), ["delta"])


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
