"""Background jobs as plain functions, the cron table, and submitting an analysis.

Each job takes ids and primitives, builds Settings from the environment (the
worker's), opens its own sessions, calls one service and returns a plain dict.
Each is safe to run twice: collection upserts, and an analysis with a run key
that already finished returns that run instead of running again (the run key is
unique in `channel_analysis_runs`, and an analysis is one transaction, so a job
killed mid-run leaves no row with its key and simply runs again).

Only transient database errors are worth a retry (RQ's Retry does the waiting);
any other error tells RQ to give up at once.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from chanperf.database import make_engine, session_factory
from chanperf.enums import RunStatus
from chanperf.errors import ConfigError
from chanperf.models import AnalysisRun
from chanperf.periods import local_midnight_utc
from chanperf.settings import Settings

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def is_transient(exc: BaseException) -> bool:
    """Lost connections, lock waits, deadlocks, a full pool: the same call may work later."""
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def retry_transient_only(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc):
                from chanperf.queue import give_up_retries

                give_up_retries()
            raise

    return wrapper  # type: ignore[return-value]


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else Settings.from_env()


def _this_job_id(default: str) -> str:
    from chanperf.queue import current_job_id

    return current_job_id() or default


# ---------------------------------------------------------------- analysis


def _run_result(run: AnalysisRun, reused: bool) -> dict[str, Any]:
    return {
        "kind": "analyze",
        "run_id": run.id,
        "org_id": run.org_id,
        "run_key": run.run_key,
        "as_of": run.as_of.isoformat(),
        "status": run.status.value,
        "findings": run.findings_count,
        "insights_created": run.insights_created,
        "insights_updated": run.insights_updated,
        "proposals_created": run.proposals_created,
        "reused": reused,
    }


def finished_run(settings: Settings, run_key: str) -> AnalysisRun | None:
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            return session.scalar(
                select(AnalysisRun).where(
                    AnalysisRun.run_key == run_key, AnalysisRun.status == RunStatus.SUCCEEDED
                )
            )
    finally:
        engine.dispose()


def _analyse_once(
    settings: Settings, org_id: int, as_of: date, run_key: str, with_proposals: bool
) -> dict[str, Any]:
    from chanperf.analysis import analyze

    done = finished_run(settings, run_key)
    if done is not None:
        log.info("analysis %s already finished as run %s", run_key, done.id)
        return _run_result(done, reused=True)
    try:
        summary = analyze(
            settings,
            org_id,
            as_of,
            with_proposals=with_proposals,
            run_key=run_key,
            job_id=_this_job_id(run_key),
        )
    except IntegrityError:
        # A twin with the same run key committed first: its result is ours.
        done = finished_run(settings, run_key)
        if done is None:
            raise
        return _run_result(done, reused=True)
    done = finished_run(settings, run_key)
    assert done is not None and done.id == summary.run_id
    return _run_result(done, reused=False)


@retry_transient_only
def run_analysis_job(
    org_id: int, as_of_iso: str, run_key: str, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Analyse `org_id` as of a day, once per run key: insights, no proposals."""
    return _analyse_once(
        _settings(settings), org_id, date.fromisoformat(as_of_iso), run_key, with_proposals=False
    )


# ---------------------------------------------------------------- collection


@retry_transient_only
def collect_metrics_job(
    org_id: int,
    day_iso: str | None = None,
    start_iso: str | None = None,
    end_iso: str | None = None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Collect one day's metrics (and the cohorts maturing that day), or an explicit range.

    With `day_iso` the data is observed at the end of that local day, so a rerun
    computes the same rows whenever it happens. Rows are upserted: reruns are harmless.
    """
    from chanperf.collect import collect

    settings = _settings(settings)
    if day_iso is not None:
        day = date.fromisoformat(day_iso)
        as_of = local_midnight_utc(day + timedelta(days=1), settings.tz)
        result = collect(settings, org_id, as_of=as_of)
    else:
        start = date.fromisoformat(start_iso) if start_iso else None
        end = date.fromisoformat(end_iso) if end_iso else None
        result = collect(settings, org_id, start, end)
    return {
        "kind": "collect",
        "org_id": org_id,
        "days": [d.isoformat() for d in result.days],
        "rows": dict(result.rows),
        "segment_rows": result.segment_rows,
    }


# ---------------------------------------------------------------- proposals and experiments


@retry_transient_only
def generate_proposals_job(
    org_id: int, month: str, run_key: str, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Analyse the month that ended and turn its insights into policy proposals.

    Proposals come from the drafts of a run (chanperf.proposals' analysis hook), so
    this is an analysis as of the month's last day, with its own run key.
    """
    first = date.fromisoformat(f"{month}-01")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    result = _analyse_once(_settings(settings), org_id, last, run_key, with_proposals=True)
    return {**result, "kind": "proposals", "month": month}


@retry_transient_only
def check_experiments_job(
    org_id: int, as_of_iso: str, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Measure running experiments of approved proposals (service: chanperf.experiment_results)."""
    from chanperf.experiment_results import check_experiment_results

    settings = _settings(settings)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            checked = check_experiment_results(
                session, org_id, date.fromisoformat(as_of_iso), timezone=settings.timezone
            )
    finally:
        engine.dispose()
    return {"kind": "experiments", "org_id": org_id, "as_of": as_of_iso, "checked": len(checked)}


# ---------------------------------------------------------------- cron table


@dataclass(frozen=True)
class PlannedJob:
    """What a cron entry enqueues when it fires: the real job under its deterministic id."""

    func: Callable[..., Any]
    kwargs: Mapping[str, Any]
    job_id: str
    org_id: int
    kind: str


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def previous_month(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


@dataclass(frozen=True)
class CronEntry:
    """One line of the cron table for one org. Cron strings are read in the org's local time."""

    kind: str
    cron: str
    org_id: int
    tz_name: str = field(default="America/Sao_Paulo")

    @property
    def name(self) -> str:
        return f"{self.kind}:org-{self.org_id}"

    def plan(self, fired_at: datetime) -> PlannedJob:
        """The job for the period that ended before `fired_at` (aware, any zone)."""
        from zoneinfo import ZoneInfo

        local_day = fired_at.astimezone(ZoneInfo(self.tz_name)).date()
        yesterday = local_day - timedelta(days=1)
        org = self.org_id
        if self.kind == "collect":
            job_id = f"collect-{org}-{yesterday.isoformat()}"
            return PlannedJob(
                collect_metrics_job,
                {"org_id": org, "day_iso": yesterday.isoformat()},
                job_id,
                org,
                "collect",
            )
        if self.kind == "analyze":
            # Monday's run analyses the ISO week that ended yesterday (Sunday).
            job_id = f"analyze-{org}-{iso_week(yesterday)}"
            kwargs = {"org_id": org, "as_of_iso": yesterday.isoformat(), "run_key": job_id}
            return PlannedJob(run_analysis_job, kwargs, job_id, org, "analyze")
        if self.kind == "proposals":
            month = previous_month(local_day)
            job_id = f"proposals-{org}-{month}"
            kwargs = {"org_id": org, "month": month, "run_key": job_id}
            return PlannedJob(generate_proposals_job, kwargs, job_id, org, "proposals")
        if self.kind == "experiments":
            job_id = f"experiments-{org}-{previous_month(local_day)}"
            kwargs = {"org_id": org, "as_of_iso": yesterday.isoformat()}
            return PlannedJob(check_experiments_job, kwargs, job_id, org, "experiments")
        raise ConfigError(f"unknown cron job kind {self.kind!r}")


# kind, cron (local time). Collection first, so the Monday analysis and the monthly
# jobs on the 1st read the metrics collected the same morning.
SCHEDULE: tuple[tuple[str, str], ...] = (
    ("collect", "0 6 * * *"),  # daily 06:00: yesterday's metrics
    ("analyze", "0 8 * * 1"),  # Monday 08:00: the week that ended on Sunday
    ("proposals", "0 9 1 * *"),  # the 1st, 09:00: proposals from last month's insights
    ("experiments", "30 9 1 * *"),  # the 1st, 09:30: results of running experiments
)


def cron_table(org_ids: list[int] | tuple[int, ...], tz_name: str) -> list[CronEntry]:
    return [CronEntry(kind, cron, org, tz_name) for org in org_ids for kind, cron in SCHEDULE]


# ---------------------------------------------------------------- submitting from the API


def analysis_job_id(org_id: int, as_of: date, rerun: bool = False) -> str:
    base = f"analyze-{org_id}-{as_of.isoformat()}"
    # A rerun is a new run on purpose (data was corrected): a new key the DB has not seen.
    return f"{base}-r{int(time.time())}" if rerun else base


def job_view(
    job_id: str,
    status: str,
    org_id: int,
    kind: str = "analyze",
    *,
    result: Any = None,
    error: str | None = None,
    enqueued_at: datetime | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": job_id,
        "kind": kind,
        "org_id": org_id,
        "status": status,
        "enqueued_at": enqueued_at,
        "started_at": started_at,
        "ended_at": ended_at,
        "result": result,
        "error": error,
    }


def submit_analysis(
    settings: Settings, org_id: int, as_of: date, rerun: bool = False
) -> tuple[dict[str, Any], bool]:
    """Queue the analysis (or, with no Redis configured, run it here); returns (job, created)."""
    job_id = analysis_job_id(org_id, as_of, rerun)
    kwargs = {"org_id": org_id, "as_of_iso": as_of.isoformat(), "run_key": job_id}
    if settings.redis_url:
        from chanperf.queue import connect, enqueue_unique

        info, created = enqueue_unique(
            connect(settings.redis_url),
            run_analysis_job,
            kwargs,
            job_id=job_id,
            org_id=org_id,
            kind="analyze",
        )
        return _from_info(info, org_id), created
    started = datetime.now(UTC).replace(microsecond=0)
    try:
        result = run_analysis_job(settings=settings, **kwargs)  # type: ignore[arg-type]
    except Exception as exc:
        # The failed run is recorded by the analysis itself; the caller sees a failed job.
        log.exception("in-process analysis %s failed", job_id)
        view = job_view(
            job_id,
            "failed",
            org_id,
            error=f"{type(exc).__name__}: {exc}".splitlines()[0],
            enqueued_at=started,
            started_at=started,
            ended_at=datetime.now(UTC).replace(microsecond=0),
        )
        return view, True
    ended = datetime.now(UTC).replace(microsecond=0)
    return (
        job_view(
            job_id,
            "finished",
            org_id,
            result=result,
            enqueued_at=started,
            started_at=started,
            ended_at=ended,
        ),
        True,
    )


def _from_info(info: Any, org_id: int) -> dict[str, Any]:
    return job_view(
        info.id,
        info.status,
        info.org_id if info.org_id is not None else org_id,
        info.kind or "analyze",
        result=info.result,
        error=info.error,
        enqueued_at=info.enqueued_at,
        started_at=info.started_at,
        ended_at=info.ended_at,
    )


def get_job(settings: Settings, session: Any, org_id: int, job_id: str) -> dict[str, Any] | None:
    """A job of this org: from the queue while Redis keeps it, else from the analysis runs."""
    if settings.redis_url:
        from chanperf.queue import connect, fetch_job

        info = fetch_job(connect(settings.redis_url), job_id)
        if info is not None:
            return _from_info(info, org_id) if info.org_id == org_id else None
    run = session.scalar(
        select(AnalysisRun)
        .where(
            AnalysisRun.org_id == org_id,
            or_(AnalysisRun.job_id == job_id, AnalysisRun.run_key == job_id),
        )
        .order_by(AnalysisRun.id.desc())
        .limit(1)
    )
    if run is None:
        return None
    status = {RunStatus.SUCCEEDED: "finished", RunStatus.FAILED: "failed"}.get(
        run.status, "started"
    )
    return job_view(
        job_id,
        status,
        org_id,
        result=_run_result(run, reused=False) if run.status is RunStatus.SUCCEEDED else None,
        error=run.error.splitlines()[0] if run.error else None,
        started_at=run.started_at.replace(tzinfo=UTC),
        ended_at=run.finished_at.replace(tzinfo=UTC) if run.finished_at else None,
    )
