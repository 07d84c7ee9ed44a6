"""Analyses run in a background thread of this process when no queue is configured.

Without Redis the API still answers POST /analyze at once (202): the analysis runs in
a daemon thread and its status lives here, in this process, until the run is in the
database. `chanperf serve` without a queue runs one worker process (with threads), so
GET /jobs/{id} reaches the process that runs the job. A process that stops loses the
jobs it was running; an analysis is one transaction, so nothing half-written is left.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chanperf.core.clock import utc_now
from chanperf.core.errors import public_error

log = logging.getLogger(__name__)

KEEP_FINISHED = 200  # finished jobs this process remembers (the database keeps the runs)

_lock = threading.Lock()
_jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _now() -> datetime:
    return utc_now().replace(tzinfo=UTC)


def start(
    job_id: str, view: dict[str, Any], work: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Run `work` in a daemon thread under `job_id` unless it already runs here; the job's
    view (queued) and whether this call started it."""
    with _lock:
        known = _jobs.get(job_id)
        if known is not None and known["status"] in ("queued", "started"):
            return dict(known), False
        job = {**view, "status": "queued", "enqueued_at": _now()}
        _jobs[job_id] = job
        _jobs.move_to_end(job_id)
        while len(_jobs) > KEEP_FINISHED:
            oldest = next(iter(_jobs))
            if _jobs[oldest]["status"] in ("queued", "started"):
                break
            del _jobs[oldest]
    thread = threading.Thread(target=_run, args=(job_id, work), name=f"job-{job_id}", daemon=True)
    thread.start()
    return dict(job), True


def _run(job_id: str, work: Callable[[], dict[str, Any]]) -> None:
    _update(job_id, status="started", started_at=_now())
    try:
        result = work()
    except Exception as exc:
        log.exception("in-process job %s failed", job_id)
        _update(job_id, status="failed", error=public_error(exc), ended_at=_now())
        return
    _update(job_id, status="finished", result=result, ended_at=_now())


def _update(job_id: str, **changes: Any) -> None:
    with _lock:
        if job_id in _jobs:
            _jobs[job_id].update(changes)


def get(job_id: str) -> dict[str, Any] | None:
    with _lock:
        job = _jobs.get(job_id)
        return dict(job) if job is not None else None


def wait(job_id: str, timeout: float) -> dict[str, Any] | None:
    """The job once it ended (or as it is after `timeout` seconds): for tests and the CLI."""
    deadline = threading.Event()
    step = 0.05
    waited = 0.0
    while waited < timeout:
        job = get(job_id)
        if job is None or job["status"] not in ("queued", "started"):
            return job
        deadline.wait(step)
        waited += step
    return get(job_id)
