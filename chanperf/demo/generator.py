"""Generate a channel from a scenario into the seven source tables.

Same scenario + seed + accounts + period = the same rows, ids included: every draw
comes from one PCG64 stream in a fixed order, and ids are assigned after sorting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, Table, delete, insert

from chanperf.core.periods import DAY_SECONDS
from chanperf.demo import activity
from chanperf.demo.lifecycle import STATES, Lifecycles, simulate
from chanperf.demo.sampling import Codes
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


class _Times:
    """A column of day offsets (NaN: NULL) turned into naive UTC datetimes on demand."""

    def __init__(self, start: np.datetime64, days: Any) -> None:
        self.start = start
        self.days = np.asarray(days, dtype=float)

    def __len__(self) -> int:
        return int(self.days.size)

    def values(self, lo: int, hi: int) -> list[datetime | None]:
        """Floored to the second."""
        days = self.days[lo:hi]
        secs = np.floor(np.nan_to_num(days, nan=0.0) * DAY_SECONDS).astype("int64")
        stamps = (self.start + secs.astype("timedelta64[s]")).astype("datetime64[s]").tolist()
        return [None if np.isnan(d) else v for d, v in zip(days, stamps, strict=True)]


Column = Any  # np.ndarray, a list, or _Times


@dataclass(frozen=True)
class TableRows:
    """One table's generated rows, kept as columns and turned into insert() rows a chunk at a
    time, so a large channel never holds every row as a Python dict at once."""

    columns: dict[str, Column]
    size: int
    first_id: int | None  # ids of the table's rows from here on; None: the table has none
    org_id: int

    def chunks(self, size: int) -> Iterator[list[dict[str, Any]]]:
        names = list(self.columns)
        for lo in range(0, self.size, size):
            hi = min(lo + size, self.size)
            values = [_slice(self.columns[name], lo, hi) for name in names]
            rows = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
            for offset, row in enumerate(rows):
                row["org_id"] = self.org_id
                if self.first_id is not None:
                    row["id"] = self.first_id + lo + offset
            yield rows


def _nullable(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """`values` as Python objects, None where `null` holds."""
    out = values.astype(object)
    out[null] = None
    return out


def _slice(column: Column, lo: int, hi: int) -> list[Any]:
    """Python values (drivers bind no numpy scalars) of rows [lo, hi) of a column."""
    if isinstance(column, _Times):
        return column.values(lo, hi)
    if isinstance(column, Codes):
        return column.labels[column.codes[lo:hi]].tolist()
    part = column[lo:hi]
    return part.tolist() if isinstance(part, np.ndarray) else list(part)


@dataclass(frozen=True)
class Generated:
    """Rows per table, as columns (`TableRows.chunks` gives them to insert())."""

    tables: dict[str, TableRows]
    period: Period

    def counts(self) -> dict[str, int]:
        return {name: rows.size for name, rows in self.tables.items()}


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
        "channel_accounts": rows.table(
            False, account_id=acc_id, region=life.region, segment=life.segment,
            created_at=rows.times(life.created), state=states[state], health_score=score.astype(float),
        ),
        "channel_state_transitions": rows.table(
            account_id=acc_id[trans[0]], from_state=_nullable(states[np.maximum(trans[1], 0)], trans[1] < 0),
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
            account_id=acc_id[o["ex_account"]], policy_key=np.full(o["ex_sku"].size, scn.exception_policy_key),
            sku=o["ex_sku"], requested_at=rows.times(o["ex_requested"]), decision=o["ex_decision"],
            reason=o["ex_reason"],
        ),
        "channel_feedback": rows.table(
            account_id=acc_id[fb["account"]], kind=fb["kind"],
            score=_nullable(fb["score"], fb["score"] < 0), created_at=rows.times(fb["created"]),
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


def _reactivations(life: Lifecycles, rows: _Rows, acc_id: np.ndarray) -> TableRows:
    parts = life.reactivations
    if not parts:
        return rows.table(account_id=np.array([], dtype=np.int64))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cat["account"], cat["started"]))
    cat = {k: v[order] for k, v in cat.items()}
    return rows.table(
        account_id=acc_id[cat["account"]], strategy=cat["strategy"], discount_pct=cat["discount"],
        cost=cat["cost"], started_at=rows.times(cat["started"]), status=cat["status"],
        resolved_at=rows.times(cat["resolved"]),
    )  # fmt: skip


class _Rows:
    """Ids in table order, as the row-at-a-time generator gave them, and time columns."""

    def __init__(self, period: Period, org_id: int):
        self.start = np.datetime64(period.start, "s")
        self.org_id = org_id
        self.next_id = org_id * ROW_IDS_PER_ORG + 1

    def times(self, days: np.ndarray) -> _Times:
        return _Times(self.start, days)

    def table(self, with_ids: bool = True, **cols: Column) -> TableRows:
        sizes = {len(c) for c in cols.values()}
        if len(sizes) != 1:
            raise ValueError(f"columns of different lengths: {sizes}")
        size = sizes.pop()
        first = self.next_id if with_ids else None
        if with_ids:
            self.next_id += size
        return TableRows(dict(cols), size, first, self.org_id)


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
        for chunk in data.tables[table.name].chunks(CHUNK):
            conn.execute(insert(table), chunk)
