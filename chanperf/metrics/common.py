"""What every collector shares: windows, portable date SQL, and bucketing by local day.

Collectors return daily frames: one row per (local `day`, cut keys) with additive
measures only (counts, integer cents, integer seconds), so any period's value is
an exact sum of its days. Money travels as integer cents and discount as
hundredths of a point because float sums would not re-aggregate exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Integer, case, cast, func, literal_column, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Select, Subquery

from chanperf.core.periods import DAY_SECONDS, DayRun, as_date
from chanperf.models.source import ChannelAccount
from chanperf.source.frames import columns_frame
from chanperf.source.indexes import hinted, live_time_indexes

CUT_KEYS = ("region", "segment")


@dataclass(frozen=True)
class MetricWindows:
    """Policy windows the metrics depend on (onboarding and reactivation policies).

    `revenue_attribution_days` is the 90 days of the source contract (docs/source-data.md) for revenue
    from new and reactivated accounts; it is a definition of the contract, not a
    policy parameter, hence the default.
    """

    activation_window_days: int
    reincidence_window_days: int
    revenue_attribution_days: int = 90


@dataclass(frozen=True)
class Span:
    """Local days [first_day, last_day] split into uniform runs, observed up to `as_of`."""

    org_id: int
    runs: tuple[DayRun, ...]
    as_of: datetime  # naive UTC: nothing at or after it is seen

    @property
    def start(self) -> datetime:
        return self.runs[0].start

    @property
    def end(self) -> datetime:
        return min(self.runs[-1].end, self.as_of)


class Dialect:
    """The few date expressions SQLite and MariaDB spell differently."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def local_date(self, col: ColumnElement[Any], offset_seconds: int) -> ColumnElement[Any]:
        if self.sqlite:
            return func.date(col, literal_column(f"'{offset_seconds:+d} seconds'"))
        return func.date(func.date_add(col, literal_column(f"INTERVAL {offset_seconds:d} SECOND")))

    def add_days(self, col: ColumnElement[Any], days: int) -> ColumnElement[Any]:
        if self.sqlite:
            # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff'; %f gives milliseconds, so pad
            # to six digits or string comparison at equality would be off.
            shifted = func.strftime("%Y-%m-%d %H:%M:%f", col, literal_column(f"'{days:+d} days'"))
            return shifted.op("||")(literal_column("'000'"))
        return func.date_add(col, literal_column(f"INTERVAL {days:d} DAY"))

    def seconds_between(self, a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.sqlite:
            return cast(func.round((func.julianday(b) - func.julianday(a)) * DAY_SECONDS), Integer)
        return func.timestampdiff(literal_column("SECOND"), a, b)


class unindexed(ColumnElement[Any]):
    """A column SQLite's planner may not reach through an index: rendered `+col` there.

    SQLite's planner, without statistics, prefers an index on (org_id, time) with a
    range over one on (org_id, account_id) with an equality, and then tests every row of
    the range for each outer row. The unary plus is SQLite's documented way to take a
    term off the index choice; other dialects render the column as it is.
    """

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(unindexed)
def _unindexed_default(element: unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def flag(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    """How many rows of the group meet `cond`: COUNT of a CASE, an integer on every
    dialect (SUM(CASE … ELSE 0) is DECIMAL on MariaDB and parses as a Decimal per value)."""
    return func.count(case((cond, 1)))


# The live source database's index names, for the run `run_by_day` is building.
_live: ContextVar[dict[tuple[str, tuple[str, ...]], str] | None] = ContextVar(
    "live_indexes", default=None
)
# The connection and run `run_by_day` is building a query for (for `on_time_index`).
_current: ContextVar[tuple[Connection, DayRun] | None] = ContextVar("current_run", default=None)
_org: ContextVar[int] = ContextVar("current_org", default=0)

# A long run whose rows' ids span at most PK_RANGE_SLACK times their count is read as
# a range of the clustered index (sequential) instead of row by row through the time index.
PK_RANGE_MIN_ROWS = 50_000
PK_RANGE_SLACK = 2


def _time_index(table: Any, time_col: ColumnElement[Any]) -> str | None:
    return (_live.get() or {}).get((str(table.name), ("org_id", str(time_col.key))))


def on_time_index(
    query: Select[Any], table: Any, time_col: ColumnElement[Any], run_range: bool = True
) -> Select[Any]:
    """`query` told to read `table` through its (org_id, time) index on MariaDB/MySQL.

    With `org_id = :org AND time >= :a AND time < :b`, MariaDB 10.11 often prefers
    `ref` on the org_id prefix of that index (pushing the time test down as an
    index condition), which walks every index entry of the org, i.e. the whole
    history, instead of the range of the run. FORCE INDEX makes it a range scan.
    The index is the one the source contract (docs/source-data.md) guarantees, under whatever name the
    live database gives it (`run_by_day` reflects it); without one, no hint.
    SQLite ignores the hint. `run_range` says the query filters `time_col` to the
    current run exactly, which allows reading a long run by primary key instead.
    """
    name = _time_index(table, time_col)
    if name is None:
        return query
    ids = _pk_range(table, time_col, name) if run_range else None
    if ids is None:
        return hinted(query, table, f"FORCE INDEX (`{name}`)")
    return hinted(query.where(table.c.id.between(*ids)), table, "FORCE INDEX (PRIMARY)")


def run_id_bounds(table: Any, time_col: ColumnElement[Any]) -> tuple[int, int] | None:
    """MIN(id), MAX(id) of the org's rows of `table` in the current run (None: none, or SQLite).

    Every row of the run has its id in these bounds, so `id BETWEEN lo AND hi` is a
    filter that never drops one; a query reaching the table through another index
    whose entries carry the id (InnoDB's secondary indexes end with the primary key)
    tests it in the index and fetches only the run's rows, not the whole history.
    """
    name = _time_index(table, time_col)
    if name is None:
        return None
    stats = _id_stats(table, time_col, name)
    return None if stats is None else (stats[0], stats[1])


def _id_stats(table: Any, time_col: ColumnElement[Any], index: str) -> tuple[int, int, int] | None:
    """MIN(id), MAX(id), COUNT(*) of the current run's rows, from the covering time index.

    Asked by the query that uses them, on its own connection: the bounds must cover
    the rows that connection sees (readers in parallel each have their own snapshot).
    """
    current = _current.get()
    if current is None or "id" not in table.c:
        return None
    conn, run = current
    probe = select(func.min(table.c.id), func.max(table.c.id), func.count()).where(
        table.c.org_id == _org.get(), time_col >= run.start, time_col < run.end
    )
    row = conn.execute(hinted(probe, table, f"FORCE INDEX (`{index}`)")).one()
    return None if row[0] is None else (int(row[0]), int(row[1]), int(row[2]))


def _pk_range(table: Any, time_col: ColumnElement[Any], index: str) -> tuple[int, int] | None:
    """The id range of the current run's rows when reading it by primary key pays.

    When ids follow time (as the source services assign them), a long run's rows are
    contiguous in the clustered index: reading `id BETWEEN lo AND hi` sequentially (the
    time filter still applies) costs a fraction of a primary-key lookup per index entry.
    Used only when the run has at least PK_RANGE_MIN_ROWS rows and the id range is at
    most PK_RANGE_SLACK times their count, so a channel whose ids do not follow time
    keeps the time index.
    """
    stats = _id_stats(table, time_col, index)
    if stats is None:
        return None
    lo, hi, n = stats
    if n < PK_RANGE_MIN_ROWS or (hi - lo + 1) > PK_RANGE_SLACK * n:
        return None
    return lo, hi


def account_cuts(org_id: int, *columns: ColumnElement[Any]) -> Subquery:
    """The org's accounts as (account_id, *columns, cut): `cut` numbers (region, segment).

    Grouping a million order lines by the account's region and segment strings costs
    a collation-aware comparison of both per line; grouping by this integer, read
    from the derived table MariaDB materialises with a hash key once per query, took
    the 3-year revenue query from 2.9 s to 1.8 s at 100k accounts. `columns` are
    expressions on channel_accounts computed once per account rather than per line.
    `cut_names` maps the numbers back; read them on the same connection, in the same
    transaction.
    """
    a = ChannelAccount.__table__
    return (
        select(
            a.c.account_id,
            *columns,
            func.dense_rank().over(order_by=(a.c.region, a.c.segment)).label("cut"),
        )
        .where(a.c.org_id == org_id)
        .subquery("account_cut")
    )


# A span at least this long (a backfill: dated collects run in 3-month batches) joins
# its fact rows to `account_cuts` rather than looking each row's account up.
CUT_MIN_DAYS = 120


def long_span(conn: Connection, span: Span) -> bool:
    """Whether `span` reads its fact rows through `account_cuts` (see CUT_MIN_DAYS).

    Never on SQLite: it has no hash join for the derived table and evaluates the window
    function's subquery as a nested loop, so the cuts cost there what they save on MariaDB.
    """
    long = span.end - span.start >= timedelta(days=CUT_MIN_DAYS)
    return long and conn.dialect.name != "sqlite"


def cut_names(conn: Connection, org_id: int) -> pd.DataFrame:
    """cut -> region, segment for the numbers `account_cuts` gives (columns cut, region, segment).

    DENSE_RANK over (region, segment) numbers the distinct pairs in their sort order,
    ties being the pairs the collation holds equal, exactly as GROUP BY ... ORDER BY
    groups and sorts them: so the n-th group is cut n, without ranking every account.
    """
    a = ChannelAccount.__table__
    query = (
        select(a.c.region, a.c.segment)
        .where(a.c.org_id == org_id)
        .group_by(a.c.region, a.c.segment)
        .order_by(a.c.region, a.c.segment)
    )
    rows = [list(row) for row in conn.execute(query)]
    names = pd.DataFrame(rows, columns=["region", "segment"])
    names.insert(0, "cut", range(1, len(names) + 1))
    return names


BuildQuery = Callable[[Callable[[ColumnElement[Any]], ColumnElement[Any]], DayRun], Select[Any]]

# GROUP BY keeps its groups in an in-memory temporary table up to the smaller of these
# two session variables (16 MB by default), then moves it to disk: a 3-year run grouped
# by day, region, segment and kit passes 16 MB and ran ~3x slower on disk. Raised for the
# collecting session only (no privilege needed); the groups stay far below it.
TMP_TABLE_BYTES = 256 * 1024 * 1024


def prepare_reader(conn: Connection) -> None:
    """Session settings of a connection that runs collector queries (once per connection)."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return
    info = conn.connection.info
    if info.get("chanperf_reader"):
        return
    conn.execute(
        text("SET SESSION tmp_table_size = :n, max_heap_table_size = :n"), {"n": TMP_TABLE_BYTES}
    )
    info["chanperf_reader"] = True


def run_by_day(
    conn: Connection, span: Span, build: BuildQuery, columns: Sequence[str]
) -> pd.DataFrame:
    """Run `build` once per uniform run of the span and stack the results.

    `build(bucket, run)` returns a select grouped by its first column,
    `bucket(time_col)` labelled `day`, which filters `time_col` to [run.start,
    run.end). Groups come back unsorted (`ORDER BY NULL`: MariaDB would sort them).
    """
    dialect = Dialect(conn.dialect.name)
    prepare_reader(conn)
    _live.set(live_time_indexes(conn))
    _org.set(span.org_id)
    parts: list[Sequence[Any]] = []
    for raw in span.runs:
        run = raw.clipped(span.as_of)
        if run is None:
            continue
        token = _current.set((conn, run))
        try:
            query = build(_bucket(dialect, run), run).order_by(literal_column("NULL"))
        finally:
            _current.reset(token)
        parts.extend(conn.execute(query).fetchall())
    frame = columns_frame(parts, columns)
    frame["day"] = [as_date(v) for v in frame["day"]]
    return frame


def run_by_cut(
    conn: Connection, span: Span, build: BuildQuery, measures: Sequence[str], by_cut: bool
) -> pd.DataFrame:
    """`run_by_day` for a query grouped by (day, region, segment), or by (day, cut).

    With `by_cut` the select's second column is the `cut` of `account_cuts`, named
    back here (`cut_names`, on the same connection); either way the frame has day,
    region, segment and `measures`.
    """
    if not by_cut:
        return run_by_day(conn, span, build, ["day", *CUT_KEYS, *measures])
    frame = run_by_day(conn, span, build, ["day", "cut", *measures])
    named = frame.merge(cut_names(conn, span.org_id), on="cut", how="left")
    return named[["day", *CUT_KEYS, *measures]]


def _bucket(dialect: Dialect, run: DayRun) -> Callable[[ColumnElement[Any]], ColumnElement[Any]]:
    """The local-day expression of a run: date(ts + offset), or the day itself for a DST day."""
    offset = run.offset_seconds
    if offset is None:
        day: ColumnElement[Any] = literal_column(f"'{run.first_day.isoformat()}'")
        return lambda _col: day
    return lambda col: dialect.local_date(col, offset)


def to_units(value: Any, scale: int = 100) -> int:
    """A DECIMAL(…,2) sum (Decimal, float on SQLite, or None) as exact integer hundredths."""
    if value is None:
        return 0
    if isinstance(value, Decimal):
        exact = value
    elif isinstance(value, float):
        if value != value:  # NaN
            return 0
        exact = Decimal(repr(value))  # the shortest repr, as str() gives
    else:
        if pd.isna(value):
            return 0
        exact = Decimal(str(value))
    return int((exact * scale).to_integral_value(ROUND_HALF_UP))


def _count(value: Any) -> int:
    if value is None or value != value:  # None or NaN
        return 0
    return int(value)


def ints(
    frame: pd.DataFrame, cols: Sequence[str], scale: dict[str, int] | None = None
) -> pd.DataFrame:
    """Measures as int64: counts as they are, money columns (in `scale`) as hundredths."""
    scale = scale or {}
    out = frame.copy()
    for col in cols:
        values = out[col]
        factor = scale.get(col)
        if factor:
            converted = [to_units(v, factor) for v in values]
        elif values.dtype.kind in "iub":
            out[col] = values.astype("int64")
            continue
        elif values.dtype.kind == "f":
            out[col] = values.fillna(0).astype("int64")
            continue
        else:
            converted = [_count(v) for v in values]
        out[col] = np.array(converted, dtype="int64")
    return out
