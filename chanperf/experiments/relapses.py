"""When the given accounts moved into a relapse state, read in batches of account ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from chanperf.core.enums import RELAPSE_STATES
from chanperf.models.source import ChannelStateTransition

BATCH = 500  # ids per IN list: bounded statements on every backend


def relapse_times(
    conn: Connection, org_id: int, account_ids: Sequence[int]
) -> dict[int, list[datetime]]:
    """Per account, the times of its moves into a relapse state (any time)."""
    t = ChannelStateTransition.__table__
    out: dict[int, list[datetime]] = {}
    ids = list(account_ids)
    for i in range(0, len(ids), BATCH):
        rows: list[Any] = list(
            conn.execute(
                select(t.c.account_id, t.c.transitioned_at).where(
                    t.c.org_id == org_id,
                    t.c.to_state.in_(RELAPSE_STATES),
                    t.c.account_id.in_(ids[i : i + BATCH]),
                )
            )
        )
        for acc, at in rows:
            out.setdefault(int(acc), []).append(at)
    return out
