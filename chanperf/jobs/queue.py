"""The one adapter to RQ and Redis: enqueueing, job status, workers and the cron scheduler.

Nothing else in `chanperf` imports `rq` or `redis`; callers get plain JobInfo
values. Jobs are enqueued under deterministic ids with `unique=True`, so the
same org and period is never queued twice while its record lives.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, SimpleWorker, Worker
from rq.cron import CronJob, CronScheduler
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus, get_current_job

from chanperf.core.errors import ChanperfError

log = logging.getLogger(__name__)

QUEUE_NAME = "chanperf"
# Transient database errors get three more tries, further apart each time.
RETRY_MAX = 3
RETRY_INTERVALS = (10, 30, 60)
JOB_TIMEOUT = 3600
RESULT_TTL = 7 * 24 * 3600  # finished jobs answer GET /jobs/{id} for a week
FAILURE_TTL = 30 * 24 * 3600
_RETRYABLE_AGAIN = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


@dataclass(frozen=True)
class JobInfo:
    id: str
    status: str
    kind: str | None = None
    org_id: int | None = None
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    result: Any = None
    error: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


class Plan(Protocol):
    """What a cron entry enqueues when it fires (chanperf.jobs.tasks.PlannedJob)."""

    # Read-only properties, so frozen dataclasses satisfy the protocol.
    @property
    def func(self) -> Callable[..., Any]: ...
    @property
    def kwargs(self) -> Mapping[str, Any]: ...
    @property
    def job_id(self) -> str: ...
    @property
    def org_id(self) -> int: ...
    @property
    def kind(self) -> str: ...


class CronLine(Protocol):
    """One cron entry (chanperf.jobs.tasks.CronEntry): a name, a cron string, a planner."""

    @property
    def name(self) -> str: ...
    @property
    def cron(self) -> str: ...

    def plan(self, fired_at: datetime) -> Plan: ...


class QueueUnavailable(ChanperfError):
    """Redis is configured but does not answer."""

    code = "queue_unavailable"


def connect(redis_url: str) -> Redis:
    return Redis.from_url(redis_url, socket_connect_timeout=5, health_check_interval=30)


def queue_reachable(redis_url: str) -> bool:
    """Whether Redis answers a PING within a few seconds (readiness checks)."""
    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def _info(job: Job) -> JobInfo:
    status = job.get_status(refresh=False)
    error = None
    result = None
    if status == JobStatus.FAILED:
        latest = job.latest_result()
        text = (latest.exc_string if latest else None) or ""
        # The last line of the traceback is the message people can act on; jobs raise
        # JobFailed with a public message (chanperf.jobs.tasks), shown without its module.
        last = text.strip().splitlines()[-1] if text.strip() else "failed"
        error = last.removeprefix("chanperf.core.errors.JobFailed: ")
    elif status == JobStatus.FINISHED:
        result = job.return_value()
    meta = dict(job.meta or {})
    return JobInfo(
        id=job.id,
        status=str(getattr(status, "value", status) or "unknown"),
        kind=meta.get("kind"),
        org_id=meta.get("org_id"),
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        result=result,
        error=error,
        meta=meta,
    )


def enqueue_unique(
    connection: Redis,
    func: Callable[..., Any],
    kwargs: Mapping[str, Any],
    *,
    job_id: str,
    org_id: int,
    kind: str,
    queue_name: str = QUEUE_NAME,
) -> tuple[JobInfo, bool]:
    """Enqueue under `job_id` unless a live job has it; returns (job, newly enqueued).

    A job that failed (or was stopped) may be enqueued again under the same id:
    the database run key keeps a finished analysis from being repeated.
    """
    try:
        return _enqueue_unique(connection, func, kwargs, job_id, org_id, kind, queue_name)
    except RedisError as exc:
        raise QueueUnavailable(f"queue not reachable ({type(exc).__name__})") from exc


def _enqueue_unique(
    connection: Redis,
    func: Callable[..., Any],
    kwargs: Mapping[str, Any],
    job_id: str,
    org_id: int,
    kind: str,
    queue_name: str,
) -> tuple[JobInfo, bool]:
    queue = Queue(queue_name, connection=connection)
    for _attempt in range(2):
        try:
            job = queue.enqueue(
                func,
                kwargs=dict(kwargs),
                job_id=job_id,
                unique=True,
                retry=Retry(max=RETRY_MAX, interval=list(RETRY_INTERVALS)),
                job_timeout=JOB_TIMEOUT,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                meta={"org_id": org_id, "kind": kind},
                description=f"{kind} {job_id}",
            )
            return _info(job), True
        except DuplicateJobError:
            try:
                existing = Job.fetch(job_id, connection=connection)
            except NoSuchJobError:
                continue  # expired between the two calls: try again
            if existing.get_status() in _RETRYABLE_AGAIN:
                existing.delete()
                continue
            return _info(existing), False
    raise RuntimeError(f"could not enqueue job {job_id}")


def fetch_job(connection: Redis, job_id: str) -> JobInfo | None:
    try:
        return _info(Job.fetch(job_id, connection=connection))
    except NoSuchJobError:
        return None
    except RedisError as exc:
        raise QueueUnavailable(f"queue not reachable ({type(exc).__name__})") from exc


def current_job_id() -> str | None:
    job = get_current_job()
    return job.id if job is not None else None


def give_up_retries() -> None:
    """Called by a job whose error is not transient: a retry would fail the same way."""
    job = get_current_job()
    if job is not None and job.retries_left:
        job.retries_left = 0


def run_worker(
    redis_url: str,
    queues: Sequence[str] = (QUEUE_NAME,),
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    simple: bool = False,
) -> bool:
    """Work the queues; the scheduler part is what runs delayed retries."""
    connection = connect(redis_url)
    worker_class = SimpleWorker if simple else Worker
    worker = worker_class(list(queues), connection=connection)
    return bool(worker.work(burst=burst, with_scheduler=with_scheduler))


class PlannedCronJob(CronJob):
    """A cron entry that enqueues the real job under an id derived from its fire time.

    RQ's own CronJob enqueues a fixed function with a random id; two schedulers (or
    a restart inside the minute) would then queue the same period twice.
    """

    def __init__(self, line: CronLine, queue_name: str):
        super().__init__(queue_name=queue_name, func_name=line.name, cron=line.cron, name=line.name)
        self.line = line

    def enqueue(self, connection: Redis) -> Job:
        # The scheduled slot, not "now": a late tick still names the period it was meant for.
        fired = self.next_enqueue_time or datetime.now().astimezone()
        plan = self.line.plan(fired)
        info, created = enqueue_unique(
            connection,
            plan.func,
            plan.kwargs,
            job_id=plan.job_id,
            org_id=plan.org_id,
            kind=plan.kind,
            queue_name=self.queue_name,
        )
        log.info("cron %s: job %s %s", self.name, info.id, "enqueued" if created else "exists")
        return Job.fetch(info.id, connection=connection)


def build_cron_scheduler(
    connection: Redis, lines: Sequence[CronLine], queue_name: str = QUEUE_NAME
) -> CronScheduler:
    """A CronScheduler of our entries. Cron strings are read in the process's local time."""
    scheduler = CronScheduler(connection=connection)
    for line in lines:
        scheduler._cron_jobs.append(PlannedCronJob(line, queue_name))
    return scheduler


def set_process_timezone(tz_name: str) -> None:
    """RQ's cron reads cron strings in the process's local time: make that the org's zone."""
    os.environ["TZ"] = tz_name
    time.tzset()


def run_scheduler(redis_url: str, tz_name: str, lines: Sequence[CronLine]) -> None:
    set_process_timezone(tz_name)
    scheduler = build_cron_scheduler(connect(redis_url), lines)
    scheduler.start()


__all__ = [
    "QUEUE_NAME",
    "RESULT_TTL",
    "RETRY_INTERVALS",
    "RETRY_MAX",
    "CronLine",
    "JobInfo",
    "Plan",
    "QueueUnavailable",
    "build_cron_scheduler",
    "connect",
    "current_job_id",
    "enqueue_unique",
    "fetch_job",
    "give_up_retries",
    "queue_reachable",
    "run_scheduler",
    "run_worker",
]
