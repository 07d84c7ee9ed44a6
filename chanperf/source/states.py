"""Account states at an instant, read from the state history."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, and_, func, select

from chanperf.models.source import ChannelAccount, ChannelStateTransition
from chanperf.source.frames import frame, times


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
