"""Generate a channel from a scenario into the seven source tables.

Same scenario + seed + accounts + period = the same rows, ids included: every draw
comes from one PCG64 stream in a fixed order, and ids are assigned after sorting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, Table, delete, insert

from chanperf.core.periods import DAY_SECONDS
from chanperf.demo import activity
from chanperf.demo.lifecycle import STATES, Lifecycles, simulate
from chanperf.demo.scenario import Scenario
from chanperf.models.base import Base
from chanperf.models.source import (
    ChannelAccount,
    ChannelFeedback,
    ChannelOnboarding,
    ChannelOrder,
    ChannelPolicyException,
    ChannelReactivation,
    ChannelStateTransition,
)

CHUNK = 5000
# Ids are offset by org so two orgs' demo data can share a database.
ACCOUNT_IDS_PER_ORG = 10**8
ROW_IDS_PER_ORG = 10**10


@dataclass(frozen=True)
class Period:
    """The generated history: [start, end) in naive UTC, cut at local midnights of the org."""

    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / DAY_SECONDS


def period_for(as_of: date, months: int, tz: ZoneInfo) -> Period:
    """From the local midnight `months` months before as_of to the end of as_of, in UTC."""
    total = as_of.year * 12 + as_of.month - 1 - months
    day = min(as_of.day, 28)  # every month has a 28th
    first = date(total // 12, total % 12 + 1, day) + timedelta(days=1)

    def utc(d: date) -> datetime:
        local = datetime.combine(d, time(), tzinfo=tz)
        return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    return Period(utc(first), utc(as_of + timedelta(days=1)))


@dataclass(frozen=True)
class Generated:
    """Rows per table, ready for insert()."""

    tables: dict[str, list[dict[str, Any]]]
    period: Period

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def generate(
    scn: Scenario, *, seed: int, accounts: int | None, period: Period, org_id: int
) -> Generated:
    rng = np.random.Generator(np.random.PCG64(seed))
    n = accounts if accounts is not None else scn.accounts
    horizon = period.days
    life = simulate(scn, rng, n, horizon)
    trans, state = _transitions(life)
    o = activity.orders(scn, rng, life, horizon)
    fb = activity.feedback(scn, rng, life, horizon)
    score = activity.health(scn, rng, life, state, horizon)
    rows = _Rows(period, org_id)
    acc_id = org_id * ACCOUNT_IDS_PER_ORG + 1 + np.arange(n)
    states = np.array(STATES)
    tables = {
        "channel_accounts": [
            {"account_id": int(acc_id[i]), "org_id": org_id, "region": str(life.region[i]),
             "segment": str(life.segment[i]), "created_at": c, "state": str(states[state[i]]),
             "health_score": float(score[i])}
            for i, c in enumerate(rows.times(life.created))
        ],
        "channel_state_transitions": rows.table(
            account_id=acc_id[trans[0]], from_state=[None if f < 0 else STATES[f] for f in trans[1]],
            to_state=states[trans[2]], transitioned_at=rows.times(trans[3]),
        ),
        "channel_onboardings": rows.table(
            account_id=acc_id[life.onboardings["account"]], kit=life.onboardings["kit"],
            started_at=rows.times(life.onboardings["started"]), status=life.onboardings["status"],
            completed_at=rows.times(life.onboardings["completed"]), failed_at=rows.times(life.onboardings["failed"]),
        ),
        "channel_reactivations": _reactivations(life, rows, acc_id),
        "channel_orders": rows.table(
            account_id=acc_id[o["account"]], ordered_at=rows.times(o["ordered"]), sku=o["sku"],
            quantity=o["quantity"], revenue=o["revenue"], cost=o["cost"], discount_pct=o["discount"],
        ),
        "channel_policy_exceptions": rows.table(
            account_id=acc_id[o["ex_account"]], policy_key=[scn.exception_policy_key] * o["ex_sku"].size,
            sku=o["ex_sku"], requested_at=rows.times(o["ex_requested"]), decision=o["ex_decision"],
            reason=o["ex_reason"],
        ),
        "channel_feedback": rows.table(
            account_id=acc_id[fb["account"]], kind=fb["kind"],
            score=[None if s < 0 else int(s) for s in fb["score"]], created_at=rows.times(fb["created"]),
        ),
    }  # fmt: skip
    return Generated(tables, period)


def _transitions(life: Lifecycles) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    acc = np.concatenate([a for a, *_ in life.tr])
    frm = np.concatenate([f for _, f, _, _ in life.tr])
    to = np.concatenate([t for _, _, t, _ in life.tr])
    when = np.concatenate([w for *_, w in life.tr])
    order = np.lexsort((when, acc))
    acc, frm, to, when = acc[order], frm[order], to[order], when[order]
    last = np.r_[acc[1:] != acc[:-1], True]
    state = np.zeros(life.created.size, dtype=np.int64)
    state[acc[last]] = to[last]
    # Each account's transitions are sorted by time: the recorded `from` must be the previous `to`.
    first = np.r_[True, acc[1:] != acc[:-1]]
    prev = np.r_[-1, to[:-1]]
    assert np.all(np.where(first, frm == -1, frm == prev)), "lifecycle produced a broken chain"
    return (acc, frm, to, when), state


def _reactivations(life: Lifecycles, rows: _Rows, acc_id: np.ndarray) -> list[dict[str, Any]]:
    parts = life.reactivations
    if not parts:
        return []
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cat["account"], cat["started"]))
    cat = {k: v[order] for k, v in cat.items()}
    return rows.table(
        account_id=acc_id[cat["account"]], strategy=cat["strategy"], discount_pct=cat["discount"],
        cost=cat["cost"], started_at=rows.times(cat["started"]), status=cat["status"],
        resolved_at=rows.times(cat["resolved"]),
    )  # fmt: skip


class _Rows:
    def __init__(self, period: Period, org_id: int):
        self.start = np.datetime64(period.start, "s")
        self.org_id = org_id
        self.next_id = org_id * ROW_IDS_PER_ORG + 1

    def times(self, days: np.ndarray) -> list[datetime | None]:
        """Day offsets to naive UTC datetimes (floored to the second; NaN is NULL)."""
        days = np.asarray(days, dtype=float)
        secs = np.floor(np.nan_to_num(days, nan=0.0) * DAY_SECONDS).astype("int64")
        values = (self.start + secs.astype("timedelta64[s]")).astype("datetime64[s]").tolist()
        return [None if np.isnan(d) else v for d, v in zip(days, values, strict=True)]

    def table(self, **cols: Iterable[Any]) -> list[dict[str, Any]]:
        names = list(cols)
        values = [_plain(v) for v in cols.values()]
        out = []
        for row in zip(*values, strict=True):
            out.append(
                {"id": self.next_id, "org_id": self.org_id, **dict(zip(names, row, strict=True))}
            )
            self.next_id += 1
        return out


def _plain(values: Iterable[Any]) -> list[Any]:
    """numpy scalars to Python ones: DB drivers bind only the latter."""
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


SOURCE_ORDER: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (
        ChannelAccount, ChannelStateTransition, ChannelOnboarding, ChannelReactivation,
        ChannelOrder, ChannelPolicyException, ChannelFeedback,
    )
)  # fmt: skip


def org_tables() -> list[Table]:
    """Every table holding org-scoped rows, children before parents (for deletes)."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "org_id" in t.c]


def delete_org(conn: Connection, org_id: int) -> None:
    for table in org_tables():
        conn.execute(delete(table).where(table.c.org_id == org_id))


def write(conn: Connection, data: Generated) -> None:
    for table in SOURCE_ORDER:
        for chunk in _chunks(data.tables[table.name], CHUNK):
            conn.execute(insert(table), chunk)


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
