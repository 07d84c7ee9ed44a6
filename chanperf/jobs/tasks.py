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
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from chanperf.analysis.run import analyze
from chanperf.core.database import make_engine, session_factory
from chanperf.core.enums import RunStatus
from chanperf.core.errors import JobFailed, public_error
from chanperf.core.periods import local_midnight_utc
from chanperf.core.settings import Settings
from chanperf.experiments.results import check_experiment_results
from chanperf.jobs.queue import current_job_id, give_up_retries
from chanperf.metrics.collect import collect
from chanperf.models.runs import AnalysisRun

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def is_transient(exc: BaseException) -> bool:
    """Lost connections, lock waits, deadlocks, a full pool: the same call may work later."""
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def retry_transient_only(func: F) -> F:
    """Retry (RQ's Retry) only what may work later; fail with a public message.

    The job record (RQ's, read by GET /jobs/{id}) keeps only `public_error`: a driver's
    message names hosts and users. The whole error goes to the worker's log.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc):
                give_up_retries()
            log.exception("job %s failed", func.__name__)
            raise JobFailed(public_error(exc)) from None

    return wrapper  # type: ignore[return-value]


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else Settings.from_env()


def _this_job_id(default: str) -> str:

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

    Proposals come from the drafts of a run (chanperf.proposals.store' analysis hook), so
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
    """Measure running experiments of approved proposals (service: chanperf.experiments.results)."""

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


# ---------------------------------------------------------------- submitting from the API
