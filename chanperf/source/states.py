"""Account states at an instant, read from the state history.

`account_states_at` asks the database for one instant. `states_at_instants` gives the
same rows for several instants in one pass over the transitions: on MariaDB/MySQL one
grouped query whose MAX per instant picks the latest transition (time, id and state
packed in a string that sorts as the pair does); on SQLite, where the grouped pass costs
more than reading the rows, the history read once (`transition_history`) and each instant
taken from it (`states_from_history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, and_, case, func, literal_column, select

from chanperf.core.enums import AccountState
from chanperf.models.source import ChannelAccount, ChannelStateTransition
from chanperf.source.frames import columns_frame, frame, times

CHUNK_ROWS = 100_000


def account_states_at(conn: Connection, org_id: int, at: datetime) -> pd.DataFrame:
    """Each account's state at instant `at`: its latest transition before `at`.

    Columns account_id, region, segment, state, entered_at. Accounts without a
    transition before `at` are left out (they did not exist yet). The max per
    account is aggregated in SQL on the (org_id, account_id) index.
    """
    t = ChannelStateTransition.__table__
    a = ChannelAccount.__table__
    last = (
        select(t.c.account_id, func.max(t.c.transitioned_at).label("last_at"))
        .where(t.c.org_id == org_id, t.c.transitioned_at < at)
        .group_by(t.c.account_id)
        .subquery()
    )
    stmt = (
        select(
            a.c.account_id,
            a.c.region,
            a.c.segment,
            t.c.to_state.label("state"),
            t.c.transitioned_at.label("entered_at"),
            t.c.id,
        )
        .select_from(
            last.join(
                t,
                and_(
                    t.c.org_id == org_id,
                    t.c.account_id == last.c.account_id,
                    t.c.transitioned_at == last.c.last_at,
                ),
            ).join(a, and_(a.c.org_id == org_id, a.c.account_id == last.c.account_id))
        )
        .order_by(a.c.account_id, t.c.id)
    )
    states = frame(conn, stmt)
    # Two transitions at the same instant: the later id is the later record.
    states = states.drop_duplicates("account_id", keep="last").drop(columns="id")
    states["entered_at"] = times(states["entered_at"])
    return states.reset_index(drop=True)


def transition_history(conn: Connection, org_id: int, until: datetime) -> pd.DataFrame:
    """Every transition before `until`: account_id, state, entered_at, id, sorted by account,
    time and id. Read on the (org_id, transitioned_at) index in chunks (bounded memory)."""
    t = ChannelStateTransition.__table__
    stmt = select(
        t.c.account_id, t.c.to_state.label("state"), t.c.transitioned_at.label("entered_at"), t.c.id
    ).where(t.c.org_id == org_id, t.c.transitioned_at < until)
    names = ["account_id", "state", "entered_at", "id"]
    # On the statement: a Connection's execution_options() would change the connection.
    result = conn.execute(stmt.execution_options(stream_results=True))
    parts = []
    for rows in result.partitions(CHUNK_ROWS):
        part = columns_frame(rows, names)
        part["entered_at"] = times(part["entered_at"])
        parts.append(part)
    if not parts:
        empty = columns_frame([], names)
        empty["entered_at"] = empty["entered_at"].astype("datetime64[ns]")
        return empty
    history = pd.concat(parts, ignore_index=True)
    return history.sort_values(["account_id", "entered_at", "id"], kind="stable").reset_index(
        drop=True
    )


def states_from_history(
    history: pd.DataFrame, accounts: pd.DataFrame, at: datetime
) -> pd.DataFrame:
    """What `account_states_at(at)` gives, from a `transition_history` read up to `at` or later
    and the accounts' account_id, region and segment."""
    last = history[history["entered_at"] < at].drop_duplicates("account_id", keep="last")
    states = last.merge(accounts[["account_id", "region", "segment"]], on="account_id")
    columns = ["account_id", "region", "segment", "state", "entered_at"]
    return states[columns].sort_values("account_id").reset_index(drop=True)


# DATE_FORMAT pattern of the packed time: 20 digits, microseconds included.
_PACKED_TIME = "%Y%m%d%H%i%s%f"
_TIME_DIGITS = 20
_ID_DIGITS = 20


def states_at_instants(
    conn: Connection, org_id: int, instants: Sequence[datetime]
) -> dict[datetime, pd.DataFrame]:
    """`account_states_at` for each of `instants`, from one pass over the transitions."""
    wanted = sorted(set(instants))
    if not wanted:
        return {}
    if conn.dialect.name not in ("mysql", "mariadb"):
        history = transition_history(conn, org_id, wanted[-1])
        a = ChannelAccount.__table__
        accounts = frame(
            conn, select(a.c.account_id, a.c.region, a.c.segment).where(a.c.org_id == org_id)
        )
        return {at: states_from_history(history, accounts, at) for at in wanted}
    t = ChannelStateTransition.__table__
    a = ChannelAccount.__table__
    packed = func.concat(
        func.date_format(t.c.transitioned_at, literal_column(f"'{_PACKED_TIME}'")),
        func.lpad(t.c.id, _ID_DIGITS, literal_column("'0'")),
        t.c.to_state,
    )
    last = (
        select(
            t.c.account_id,
            *(
                func.max(case((t.c.transitioned_at < at, packed))).label(f"at_{i}")
                for i, at in enumerate(wanted)
            ),
        )
        .where(t.c.org_id == org_id, t.c.transitioned_at < wanted[-1])
        .group_by(t.c.account_id)
        .subquery()
    )
    rows = frame(
        conn,
        select(
            a.c.account_id,
            a.c.region,
            a.c.segment,
            *(last.c[f"at_{i}"] for i in range(len(wanted))),
        )
        .select_from(last.join(a, and_(a.c.org_id == org_id, a.c.account_id == last.c.account_id)))
        .order_by(a.c.account_id),
    )
    out = {}
    for i, at in enumerate(wanted):
        got = rows[rows[f"at_{i}"].notna()]
        text = got[f"at_{i}"].astype(str)
        states = got[["account_id", "region", "segment"]].copy()
        states["state"] = text.str[_TIME_DIGITS + _ID_DIGITS :].map(AccountState)
        states["entered_at"] = pd.to_datetime(
            text.str[:_TIME_DIGITS], format="%Y%m%d%H%M%S%f"
        ).astype("datetime64[ns]")
        out[at] = states.reset_index(drop=True)
    return out
