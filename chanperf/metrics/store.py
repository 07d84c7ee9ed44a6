"""Stored metrics: writing the collectors' rows and reading periods and trends back.

Totals rows are upserted on (org_id, period_date, period_type). Segment rows of a
collected period are replaced as a set (delete, then insert) so a cut value that
disappeared from the source does not leave a stale row behind. Callers pass the
connection (or session) of their transaction: nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

import pandas as pd
from sqlalchemy import Connection, Table, and_, func, select, tuple_
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

from chanperf.core.enums import Dimension, PeriodType
from chanperf.core.errors import Problem, ValidationError
from chanperf.metrics.common import to_units
from chanperf.metrics.state import STATE_COLUMNS
from chanperf.models.performance import MeasureColumns, PerformanceMetric, SegmentMetric
from chanperf.source.frames import columns_frame

Executor = Connection | Session
METRICS = cast(Table, PerformanceMetric.__table__)
SEGMENTS = cast(Table, SegmentMetric.__table__)
MEASURES: tuple[str, ...] = tuple(
    name for name in vars(MeasureColumns) if not name.startswith("_") and name in METRICS.c
)
_KEY = ("org_id", "period_date", "period_type")
_CHUNK = 2000  # rows per executemany: bounded memory per round trip


def _upsert(
    conn: Executor, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Insert or update on the unique key; one statement run as an executemany.

    executemany lets the driver batch rows (SQLAlchemy's insertmanyvalues,
    PyMySQL's multi-row rewrite) without compiling one bind per value.
    """
    if not rows:
        return
    dialect = conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name
    cols = [c for c in rows[0] if c not in keys]
    stmt: Any
    if dialect == "sqlite":
        ins = sqlite.insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=list(keys),
            set_={**{c: ins.excluded[c] for c in cols}, "updated_at": func.current_timestamp()},
        )
    elif dialect in ("mysql", "mariadb"):
        mins = mysql.insert(table)
        stmt = mins.on_duplicate_key_update(
            {**{c: mins.inserted[c] for c in cols}, "updated_at": func.current_timestamp()}
        )
    else:  # pragma: no cover - the two supported backends are above
        raise NotImplementedError(dialect)
    for i in range(0, len(rows), _CHUNK):
        conn.execute(stmt, [dict(r) for r in rows[i : i + _CHUNK]])


def save_metrics(
    conn: Executor,
    org_id: int,
    period_date: date,
    period_type: PeriodType,
    metrics: Mapping[str, Any],
) -> None:
    """Upsert the totals row of one period."""
    unknown = sorted(set(metrics) - set(MEASURES))
    if unknown:
        problems = [Problem("metrics", f"unknown measure {k!r}", field=k) for k in unknown]
        raise ValidationError(problems)
    row = {
        "org_id": org_id,
        "period_date": period_date,
        "period_type": period_type.value,
        **metrics,
        "observed_at": None,  # set by hand: not an observation an analysis may reuse
        "collected_windows": None,
    }
    _upsert(conn, METRICS, [row], _KEY)


def save_period_rows(
    conn: Executor,
    org_id: int,
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    observed: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """Write the rows of `collectors.rollup` (totals and cuts); returns (totals, segment rows).

    `rows` is a frame (`rollup.finish_frame`) or mappings with period_type,
    period_date, dimension, dimension_value and every measure. `observed` gives the
    totals rows their observed_at and collected_windows (metrics/freshness.py).
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        return 0, 0
    is_total = (frame["dimension"] == "").to_numpy()
    totals = frame.loc[is_total, ["period_date", "period_type", *MEASURES]]
    # Always written: a row rewritten without them must not keep an older observation's.
    stamp = {"observed_at": None, "collected_windows": None, **(observed or {})}
    totals = totals.assign(**{k: [v] * len(totals) for k, v in stamp.items()})
    cuts = frame.loc[
        ~is_total, ["period_date", "period_type", "dimension", "dimension_value", *MEASURES]
    ]
    keys = sorted(set(zip(totals["period_date"], totals["period_type"], strict=True)))
    literal = _literal_writer(conn)
    if len(totals):
        if literal is not None:
            literal(METRICS, totals, org_id, _KEY)
        else:
            _upsert(conn, METRICS, _records(totals, org_id), _KEY)
    for i in range(0, len(keys), _CHUNK):
        part = keys[i : i + _CHUNK]
        conn.execute(
            SEGMENTS.delete().where(
                SEGMENTS.c.org_id == org_id,
                tuple_(SEGMENTS.c.period_date, SEGMENTS.c.period_type).in_(part),
            )
        )
    if len(cuts):
        if literal is not None:
            literal(SEGMENTS, cuts, org_id, None)
        else:
            records = _records(cuts, org_id)
            for i in range(0, len(records), _CHUNK):
                conn.execute(SEGMENTS.insert(), records[i : i + _CHUNK])
    return len(totals), len(cuts)


def _records(frame: pd.DataFrame, org_id: int) -> list[dict[str, Any]]:
    return [{"org_id": org_id, **r} for r in frame.to_dict("records")]


_LITERAL_ROWS = 5000  # rows per multi-row INSERT (~2 MB of SQL, far below max_allowed_packet)


def _literal_writer(conn: Executor) -> Any:
    """On MariaDB/MySQL through PyMySQL, a bulk writer of frames; None elsewhere.

    It renders multi-row INSERT statements itself: integers as numpy strings,
    every other value through the driver's own `escape` (quoting and escaping
    strings with the connection's charset), and runs them on the transaction's
    DBAPI connection. The rows are the same as `_upsert`/executemany would write;
    what is saved is the per-value bind processing of ~40 columns x 20k rows
    that dominated a backfill.
    """
    sa_conn = conn.connection() if isinstance(conn, Session) else conn
    if sa_conn.dialect.name not in ("mysql", "mariadb") or sa_conn.dialect.driver != "pymysql":
        return None
    raw = sa_conn.connection.driver_connection
    if raw is None:  # pragma: no cover - a pooled connection always has its driver connection
        return None

    def column(values: pd.Series) -> list[str]:
        if values.dtype.kind in "iu":
            return [str(v) for v in values.to_numpy().astype(str)]
        items = values.tolist()
        if all(isinstance(v, Decimal) or v is None for v in items):
            return ["NULL" if v is None else format(v, "f") for v in items]  # as PyMySQL does
        cache: dict[tuple[type, Any], str] = {}
        out = []
        for v in items:
            key = (type(v), v)
            text = cache.get(key)
            if text is None:
                text = cache[key] = raw.escape(v)
            out.append(text)
        return out

    def write(table: Table, frame: pd.DataFrame, org_id: int, keys: Sequence[str] | None) -> None:
        names = ["org_id", *frame.columns]
        rendered = [[str(int(org_id))] * len(frame)] + [column(frame[c]) for c in frame.columns]
        tuples = ["(" + ",".join(t) + ")" for t in zip(*rendered, strict=True)]
        head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
        tail = ""
        if keys is not None:
            updates = [f"{c} = VALUES({c})" for c in names if c not in keys]
            tail = " ON DUPLICATE KEY UPDATE " + ", ".join(
                [*updates, "updated_at = CURRENT_TIMESTAMP"]
            )
        with raw.cursor() as cursor:
            for i in range(0, len(tuples), _LITERAL_ROWS):
                cursor.execute(head + ",".join(tuples[i : i + _LITERAL_ROWS]) + tail)

    return write


def load_state_base(
    conn: Executor, org_id: int, day: date
) -> dict[tuple[str, str], dict[str, int]] | None:
    """The stored end-of-day state distribution of `day` by (dimension, value), None if not stored.

    The totals row is keyed ("", ""), region and segment rows by their values.
    """
    state_cols = [METRICS.c[c] for c in STATE_COLUMNS.values()]
    total = conn.execute(
        select(*state_cols).where(
            METRICS.c.org_id == org_id,
            METRICS.c.period_date == day,
            METRICS.c.period_type == PeriodType.DAILY.value,
        )
    ).first()
    if total is None:
        return None
    states = list(STATE_COLUMNS)
    counts: list[Any] = list(total)
    base = {("", ""): {s: int(v) for s, v in zip(states, counts, strict=True)}}
    seg_cols = [SEGMENTS.c[c] for c in STATE_COLUMNS.values()]
    for row in conn.execute(
        select(SEGMENTS.c.dimension, SEGMENTS.c.dimension_value, *seg_cols).where(
            SEGMENTS.c.org_id == org_id,
            SEGMENTS.c.period_date == day,
            SEGMENTS.c.period_type == PeriodType.DAILY.value,
            SEGMENTS.c.dimension.in_((Dimension.REGION.value, Dimension.SEGMENT.value)),
        )
    ):
        dim = row[0].value if isinstance(row[0], Dimension) else str(row[0])
        base[(dim, row[1])] = {s: int(v) for s, v in zip(states, row[2:], strict=True)}
    return base


def load_health_base(
    conn: Executor, org_id: int, day: date
) -> dict[tuple[str, str], tuple[int, int]] | None:
    """The stored end-of-day health levels of `day` by (dimension, value), None if not stored:
    (score sum in tenths, scored accounts), keyed as `load_state_base` keys its rows."""
    cols = (METRICS.c.health_score_sum, METRICS.c.health_scored_accounts)
    total = conn.execute(
        select(*cols).where(
            METRICS.c.org_id == org_id,
            METRICS.c.period_date == day,
            METRICS.c.period_type == PeriodType.DAILY.value,
        )
    ).first()
    if total is None:
        return None
    base = {("", ""): (to_units(total[0], 10), int(total[1]))}
    for row in conn.execute(
        select(
            SEGMENTS.c.dimension,
            SEGMENTS.c.dimension_value,
            SEGMENTS.c.health_score_sum,
            SEGMENTS.c.health_scored_accounts,
        ).where(
            SEGMENTS.c.org_id == org_id,
            SEGMENTS.c.period_date == day,
            SEGMENTS.c.period_type == PeriodType.DAILY.value,
            SEGMENTS.c.dimension.in_((Dimension.REGION.value, Dimension.SEGMENT.value)),
        )
    ):
        dim = row[0].value if isinstance(row[0], Dimension) else str(row[0])
        base[(dim, row[1])] = (to_units(row[2], 10), int(row[3]))
    return base


def get_metrics(
    conn: Executor,
    org_id: int,
    period_type: PeriodType,
    start: date,
    end: date,
    dimension: Dimension | None = None,
) -> pd.DataFrame:
    """Stored rows with period_date in [start, end], sorted by date.

    Columns: period_date, period_type, [dimension, dimension_value,] and every measure.
    Without `dimension` the totals rows; with it, that dimension's rows.
    """
    table = METRICS if dimension is None else SEGMENTS
    cols = [table.c.period_date, table.c.period_type]
    where = [
        table.c.org_id == org_id,
        table.c.period_type == period_type.value,
        table.c.period_date >= start,
        table.c.period_date <= end,
    ]
    if dimension is not None:
        cols += [table.c.dimension, table.c.dimension_value]
        where.append(table.c.dimension == dimension.value)
    query = select(*cols, *[table.c[m] for m in MEASURES]).where(*where).order_by(*cols)
    result = conn.execute(query)
    frame = columns_frame(result.fetchall(), list(result.keys()))
    for col in ("period_type", "dimension"):
        if col in frame:
            frame[col] = [getattr(v, "value", v) for v in frame[col]]
    return frame


def get_trends(
    conn: Executor,
    org_id: int,
    metric: str,
    days: int,
    end: date,
    period_type: PeriodType = PeriodType.DAILY,
) -> pd.DataFrame:
    """One measure over the `days` days ending at `end`, with its deltas.

    Columns: period_date, value, previous (the period before), pop_delta
    (value - previous), pop_pct (relative change, NaN when previous is 0 or
    missing), week_ago (the value 7 days earlier, for daily and weekly rows),
    wow_delta and wow_pct. Values are floats; a rate is NaN where undefined.
    """
    if metric not in MEASURES:
        raise ValidationError([Problem("metric", f"unknown measure {metric!r}", field="metric")])
    start = end - timedelta(days=days - 1)
    # Read 7 more days (and one more period) so the first rows have their deltas too.
    lookback = {PeriodType.DAILY: 7, PeriodType.WEEKLY: 7, PeriodType.MONTHLY: 31}[period_type]
    col = METRICS.c[metric]
    rows = conn.execute(
        select(METRICS.c.period_date, col)
        .where(
            METRICS.c.org_id == org_id,
            METRICS.c.period_type == period_type.value,
            and_(
                METRICS.c.period_date >= start - timedelta(days=lookback),
                METRICS.c.period_date <= end,
            ),
        )
        .order_by(METRICS.c.period_date)
    ).all()
    series = pd.Series(
        [float(str(v)) if v is not None else float("nan") for _, v in rows],
        index=pd.Index([d for d, _ in rows], name="period_date"),
        dtype="float64",
    )
    by_date = series.to_dict()
    frame = series.rename("value").to_frame()
    frame["previous"] = [by_date.get(_previous(d, period_type), float("nan")) for d in series.index]
    frame["pop_delta"] = frame["value"] - frame["previous"]
    frame["pop_pct"] = frame["pop_delta"] / frame["previous"].where(frame["previous"] != 0)
    week_ago = [by_date.get(d - timedelta(days=7), float("nan")) for d in series.index]
    frame["week_ago"] = week_ago if period_type is not PeriodType.MONTHLY else float("nan")
    frame["wow_delta"] = frame["value"] - frame["week_ago"]
    frame["wow_pct"] = frame["wow_delta"] / frame["week_ago"].where(frame["week_ago"] != 0)
    frame = frame[frame.index >= start].reset_index()
    return frame


def _previous(day: date, period_type: PeriodType) -> date:
    if period_type is PeriodType.DAILY:
        return day - timedelta(days=1)
    if period_type is PeriodType.WEEKLY:
        return day - timedelta(days=7)
    return (day - timedelta(days=1)).replace(day=1)
