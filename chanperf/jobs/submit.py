"""Submitting an analysis from the API, and the status of a job: from the queue while Redis
keeps it, else from the analysis runs in the database."""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import or_, select

from chanperf.core.enums import RunStatus
from chanperf.core.settings import Settings
from chanperf.jobs import local
from chanperf.jobs.queue import connect, enqueue_unique, fetch_job
from chanperf.jobs.tasks import _run_result, run_analysis_job
from chanperf.models.runs import AnalysisRun

log = logging.getLogger(__name__)


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
    """Queue the analysis (with no Redis configured, start it in a thread of this process);
    returns (job, created)."""
    job_id = analysis_job_id(org_id, as_of, rerun)
    kwargs = {"org_id": org_id, "as_of_iso": as_of.isoformat(), "run_key": job_id}
    if settings.redis_url:
        info, created = enqueue_unique(
            connect(settings.redis_url),
            run_analysis_job,
            kwargs,
            job_id=job_id,
            org_id=org_id,
            kind="analyze",
        )
        return _from_info(info, org_id), created
    # No queue: a thread of this process runs it (chanperf.jobs.local), never the request.
    return local.start(
        job_id,
        job_view(job_id, "queued", org_id),
        lambda: run_analysis_job(settings=settings, **kwargs),  # type: ignore[arg-type]
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
    """A job of this org: from the queue while Redis keeps it (or this process while it runs
    the job), else from the analysis runs."""
    here = local.get(job_id)
    if here is not None and here["status"] in ("queued", "started", "failed"):
        return here if here["org_id"] == org_id else None
    if settings.redis_url:
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
