"""The collect service: which periods to compute, in which batches, in one transaction.

Default run (no dates): yesterday in the organisation's time zone, plus the two
days whose cohorts became final since the previous daily run (yesterday minus
the activation window, yesterday minus the reincidence window: a cohort of day D
is fully matured once D + 1 + window <= as-of), each with its ISO week and its
month. Only days that ended before the as-of get a DAILY row, so a stored DAILY
row is always a complete day and can seed the next run's state distribution.

Work is grouped in batches of up to BATCH_MONTHS consecutive months; a batch
queries the source once per measure family over the union of its periods, so
the cost follows the days collected, not the history kept. A backfill is one
batch (BACKFILL_BATCH_MONTHS): one pass over each source range.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, cast

import click
import pandas as pd
from sqlalchemy import Connection, Table, func, select

from chanperf.core.database import make_engine
from chanperf.core.enums import Dimension, PeriodType
from chanperf.core.errors import ValidationError
from chanperf.core.periods import (
    ONE_DAY,
    Period,
    iter_days,
    local_day_of,
    local_midnight_utc,
    periods_touching,
    uniform_runs,
)
from chanperf.core.settings import Settings
from chanperf.metrics.common import MetricWindows, Span
from chanperf.metrics.freshness import days_to_collect, windows_key
from chanperf.metrics.health import collect_health_before, collect_health_created
from chanperf.metrics.onboarding import ONBOARDING_MEASURES, collect_onboarding_metrics
from chanperf.metrics.quality import QUALITY_MEASURES, collect_quality_metrics
from chanperf.metrics.reactivation import REACTIVATION_MEASURES, collect_reactivation_metrics
from chanperf.metrics.revenue import (
    REVENUE_MEASURES,
    collect_line_revenue,
    collect_reactivated_revenue,
    join_revenue,
)
from chanperf.metrics.rollup import (
    daily_additive,
    daily_health,
    daily_levels,
    daily_states,
    finish_frame,
    period_rows,
)
from chanperf.metrics.state import (
    ENTRY_MEASURES,
    collect_state_distribution,
    collect_state_transitions,
    first_transition_at,
    transition_entries,
)
from chanperf.metrics.store import load_health_base, load_state_base, save_period_rows
from chanperf.models.source import SOURCE_TABLES
from chanperf.policies.load import PolicySet, load_policies

BATCH_MONTHS = 3
# A backfill reads each source range in one pass (one query per measure family and
# uniform run over the whole history) instead of one per BATCH_MONTHS batch.
BACKFILL_BATCH_MONTHS = 100 * 12
TIME_COLUMNS = {
    "channel_accounts": "created_at",
    "channel_state_transitions": "transitioned_at",
    "channel_onboardings": "started_at",
    "channel_reactivations": "started_at",
    "channel_orders": "ordered_at",
    "channel_policy_exceptions": "requested_at",
    "channel_feedback": "created_at",
}


@dataclass(frozen=True)
class CollectResult:
    org_id: int
    as_of: datetime  # naive UTC
    days: tuple[date, ...]  # days that got a DAILY row
    rows: dict[str, int] = field(default_factory=dict)  # totals rows per period type
    segment_rows: int = 0
    elapsed_seconds: float = 0.0
    reused_days: int = 0  # asked days whose stored rows were final (only_missing)


def windows_from(policies: PolicySet) -> MetricWindows:
    """The activation and reincidence windows of a loaded policy pack."""
    return MetricWindows(
        activation_window_days=int(policies.get("onboarding.activation_window_days")),
        reincidence_window_days=int(policies.get("reactivation.reincidence_window_days")),
    )


def read_windows(settings: Settings) -> MetricWindows:
    """The windows of the configured policy pack (validated: a bad pack is refused whole)."""
    return windows_from(load_policies(settings.policies_dir))


def default_days(yesterday: date, windows: MetricWindows) -> list[date]:
    days = {
        yesterday,
        yesterday - timedelta(days=windows.activation_window_days),
        yesterday - timedelta(days=windows.reincidence_window_days),
    }
    return sorted(days)


def source_coverage(conn: Connection, org_id: int, tz: tzinfo) -> tuple[date, date] | None:
    """First and last local day with any source row (MIN/MAX on the (org_id, time) indexes)."""
    firsts, lasts = [], []
    for model in SOURCE_TABLES:
        t = cast(Table, model.__table__)
        col = t.c[TIME_COLUMNS[t.name]]
        lo, hi = conn.execute(
            select(func.min(col), func.max(col)).where(t.c.org_id == org_id)
        ).one()
        if lo is not None:
            firsts.append(_dt(lo))
            lasts.append(_dt(hi))
    if not firsts:
        return None
    return local_day_of(min(firsts), tz), local_day_of(max(lasts), tz)


def _dt(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Batch:
    days: tuple[date, ...]  # DAILY rows to write
    periods: tuple[Period, ...]  # every period to write, DAILY included

    @property
    def first_day(self) -> date:
        return min(p.period_date for p in self.periods)

    @property
    def last_day(self) -> date:
        return max(p.last_day for p in self.periods)


def plan_batches(days: list[date], tz: tzinfo, months: int = BATCH_MONTHS) -> list[Batch]:
    """Group the periods of `days` (and their weeks and months) by consecutive months."""
    periods = [p for t in PeriodType for p in periods_touching(days, t, tz)]
    by_month: dict[tuple[int, int], list[Period]] = {}
    for p in periods:
        by_month.setdefault((p.period_date.year, p.period_date.month), []).append(p)
    batches: list[list[tuple[int, int]]] = []
    for key in sorted(by_month):
        prev = batches[-1][-1] if batches else None
        consecutive = prev is not None and (prev[0] * 12 + prev[1] + 1 == key[0] * 12 + key[1])
        if consecutive and len(batches[-1]) < months:
            batches[-1].append(key)
        else:
            batches.append([key])
    out = []
    for keys in batches:
        ps = sorted(p for k in keys for p in by_month[k])
        ds = tuple(p.period_date for p in ps if p.period_type is PeriodType.DAILY)
        out.append(Batch(ds, tuple(ps)))
    return out


def _state_base(
    source: Connection,
    target: Connection,
    org_id: int,
    first_day: date,
    tz: tzinfo,
    first_move: datetime | None,
) -> dict[tuple[str, str], dict[str, int]]:
    start = local_midnight_utc(first_day, tz)
    if first_move is None or first_move >= start:
        return {}
    stored = load_state_base(target, org_id, first_day - ONE_DAY)
    if stored is not None:
        return stored
    dist = collect_state_distribution(source, org_id, start)
    base: dict[tuple[str, str], dict[str, int]] = {}
    for dim, col in (
        ("", None),
        (Dimension.REGION.value, "region"),
        (Dimension.SEGMENT.value, "segment"),
    ):
        keys = ["state"] if col is None else [col, "state"]
        for key, n in dist.groupby(keys)["accounts"].sum().items():
            value, state = ("", key) if col is None else key
            base.setdefault((dim, str(value)), {})[str(state)] = int(n)
    return base


def _health_base(
    source: Connection, target: Connection, org_id: int, first_day: date, tz: tzinfo
) -> dict[tuple[str, str], tuple[int, int]]:
    """Health levels at the start of `first_day`: the stored DAILY rows of the day before
    (the scores as they were when that day was collected), else the accounts created before."""
    stored = load_health_base(target, org_id, first_day - ONE_DAY)
    if stored is not None:
        return stored
    before = collect_health_before(source, org_id, local_midnight_utc(first_day, tz))
    base: dict[tuple[str, str], tuple[int, int]] = {}
    for dim, col in (
        ("", None),
        (Dimension.REGION.value, "region"),
        (Dimension.SEGMENT.value, "segment"),
    ):
        groups = [("", before)] if col is None else before.groupby(col)
        for value, group in groups:
            base[(dim, str(value))] = (
                int(group["health_score_e1"].sum()),
                int(group["health_scored_accounts"].sum()),
            )
    return base


def read_families(
    source: Connection, readers: int, reads: dict[str, Callable[[Connection], pd.DataFrame]]
) -> dict[str, pd.DataFrame]:
    """Run each collector read, on `readers` connections at once on MariaDB/MySQL.

    MariaDB runs each query on one thread; the families read different tables, so
    reading them at once uses the server's other cores. The extra connections come
    from the source engine and read committed rows (the collect writes only the
    metrics tables, after these reads). SQLite, or one reader, reads in order on `source`.
    """
    if readers < 2 or source.dialect.name not in ("mysql", "mariadb"):
        return {name: read(source) for name, read in reads.items()}

    def apart(read: Callable[[Connection], pd.DataFrame]) -> pd.DataFrame:
        with source.engine.connect() as conn:
            return read(conn)

    with ThreadPoolExecutor(max_workers=readers) as pool:
        futures = {name: pool.submit(apart, read) for name, read in reads.items()}
        return {name: future.result() for name, future in futures.items()}


def collect_batch(
    source: Connection,
    target: Connection,
    org_id: int,
    batch: Batch,
    tz: tzinfo,
    windows: MetricWindows,
    as_of: datetime,
    first_move: datetime | None,
    readers: int = 1,
) -> pd.DataFrame:
    """Every row (totals and cuts) of the batch's periods, ready for `save_period_rows`."""
    runs = tuple(uniform_runs(batch.first_day, batch.last_day, tz))
    span = Span(org_id, runs, as_of)
    read = read_families(
        source,
        readers,
        {
            # Longest first (on a 3-year channel), so the rest share the other readers.
            "lines": lambda c: collect_line_revenue(c, span, windows),
            "transitions": lambda c: collect_state_transitions(c, span),
            "onboarding": lambda c: collect_onboarding_metrics(c, span, windows),
            "quality": lambda c: collect_quality_metrics(c, span),
            "reactivation": lambda c: collect_reactivation_metrics(c, span, windows),
            "reactivated": lambda c: collect_reactivated_revenue(c, span, windows),
            "health": lambda c: collect_health_created(c, span),
        },
    )
    families = [
        (read["onboarding"], ONBOARDING_MEASURES, Dimension.KIT),
        (read["reactivation"], REACTIVATION_MEASURES, Dimension.STRATEGY),
        (join_revenue(read["lines"], read["reactivated"]), REVENUE_MEASURES, None),
        (read["quality"], QUALITY_MEASURES, None),
        (transition_entries(read["transitions"]), ENTRY_MEASURES, None),
    ]
    additive = daily_additive(families)
    base = _state_base(source, target, org_id, batch.first_day, tz, first_move)
    health = _health_base(source, target, org_id, batch.first_day, tz)
    days = list(iter_days(batch.first_day, batch.last_day))
    levels = daily_levels(
        daily_states(read["transitions"], base, days), daily_health(read["health"], health, days)
    )
    return finish_frame(period_rows(additive, levels, batch.periods))


def collect(
    settings: Settings,
    org_id: int = 1,
    start: date | None = None,
    end: date | None = None,
    as_of: datetime | None = None,
    backfill: bool = False,
    progress: Callable[[int, int], None] | None = None,
    windows: MetricWindows | None = None,
    only_missing: bool = False,
) -> CollectResult:
    """Collect the DAILY, WEEKLY and MONTHLY rows of the asked days, all or nothing.

    `as_of` (naive UTC, default now) is the moment the data is observed at: later
    rows are ignored and cohorts younger than their window are censored.
    `start`/`end` are local days (both default to yesterday); `backfill` asks for
    every day the source covers. Days not ended at `as_of` get no DAILY row.
    `only_missing` skips the days whose stored periods `as_of` would not change
    (metrics/freshness.py): what an analysis asks for.
    """
    began = time.perf_counter()
    tz = settings.tz
    as_of = as_of or datetime.now(UTC).replace(tzinfo=None)
    windows = windows or read_windows(settings)
    yesterday = local_day_of(as_of, tz) - ONE_DAY
    if start and end and start > end:
        raise ValidationError([], f"--from {start} is after --to {end}")
    target_engine = make_engine(settings.database_url)
    same = settings.source_url == settings.database_url
    source_engine = target_engine if same else make_engine(settings.source_url)
    try:
        with target_engine.begin() as target:
            source = target if same else source_engine.connect()
            try:
                if backfill:
                    cover = source_coverage(source, org_id, tz)
                    days = (
                        []
                        if cover is None
                        else list(iter_days(start or cover[0], min(end or cover[1], yesterday)))
                    )
                elif start or end:
                    days = list(
                        iter_days(
                            start or end or yesterday, min(end or start or yesterday, yesterday)
                        )
                    )
                else:
                    days = default_days(yesterday, windows)
                asked = len(days)
                if only_missing:
                    days = days_to_collect(target, org_id, days, as_of, tz, windows)
                observed = {"observed_at": as_of, "collected_windows": windows_key(windows)}
                result_rows = {t.value: 0 for t in PeriodType}
                segment_rows = 0
                first_move = first_transition_at(source, org_id)
                months = BACKFILL_BATCH_MONTHS if backfill else BATCH_MONTHS
                for batch in plan_batches(days, tz, months):
                    # progress(days done in this batch, days in the whole run)
                    rows = collect_batch(
                        source,
                        target,
                        org_id,
                        batch,
                        tz,
                        windows,
                        as_of,
                        first_move,
                        settings.collect_readers,
                    )
                    _, n_cuts = save_period_rows(target, org_id, rows, observed)
                    totals = rows.loc[rows["dimension"] == "", "period_type"]
                    for period_type, n in totals.value_counts().items():
                        result_rows[str(period_type)] += int(n)
                    segment_rows += n_cuts
                    if progress:
                        progress(len(batch.days), len(days))
            finally:
                if not same:
                    source.close()
    finally:
        target_engine.dispose()
        if not same:
            source_engine.dispose()
    return CollectResult(
        org_id=org_id,
        as_of=as_of,
        days=tuple(days),
        rows=result_rows,
        segment_rows=segment_rows,
        elapsed_seconds=time.perf_counter() - began,
        reused_days=asked - len(days),
    )


def collect_with_progressbar(
    settings: Settings, org_id: int, start: date | None, end: date | None, backfill: bool
) -> CollectResult:
    """`collect` with a click progress bar on stderr (shown once there is more than one batch)."""

    bar: Any = None

    def advance(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="collecting days", file=sys.stderr)
            bar.__enter__()
        bar.update(done)

    try:
        return collect(settings, org_id, start, end, backfill=backfill, progress=advance)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


__all__ = [
    "CollectResult",
    "collect",
    "collect_with_progressbar",
    "default_days",
    "plan_batches",
    "read_windows",
]
