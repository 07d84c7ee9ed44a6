"""Jobs: idempotent per run key, nothing half-written when killed, retries only when transient."""

from __future__ import annotations

import pytest
from fakeredis import FakeStrictRedis
from rq import Queue, SimpleWorker
from rq.job import Job
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

import chanperf.analysis.run
from chanperf.core.enums import RunStatus
from chanperf.jobs.queue import QUEUE_NAME, enqueue_unique, fetch_job
from chanperf.jobs.tasks import (
    check_experiments_job,
    generate_proposals_job,
    is_transient,
    retry_transient_only,
    run_analysis_job,
)
from chanperf.models.performance import PerformanceInsight
from chanperf.models.runs import AnalysisRun


def test_a_second_run_with_the_same_key_returns_the_first(settings, sessions):
    first = run_analysis_job(1, "2026-11-19", "analyze-1-2026-W47", settings=settings)
    again = run_analysis_job(1, "2026-11-19", "analyze-1-2026-W47", settings=settings)
    assert first["status"] == "SUCCEEDED" and first["reused"] is False
    assert again == {**first, "reused": True}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AnalysisRun)) == 1


def test_a_job_killed_mid_run_leaves_nothing_and_runs_again(settings, sessions, monkeypatch):
    def killed(*_a, **_k):
        raise KeyboardInterrupt("worker killed")  # not an Exception: like a SIGINT mid-run

    monkeypatch.setattr(chanperf.analysis.run, "generate_insights", killed)
    with pytest.raises(KeyboardInterrupt):
        run_analysis_job(1, "2026-11-19", "k-killed", settings=settings)
    with sessions() as s:
        assert s.scalar(select(AnalysisRun).where(AnalysisRun.run_key == "k-killed")) is None
        assert s.scalar(select(func.count()).select_from(PerformanceInsight)) == 0
    monkeypatch.undo()
    done = run_analysis_job(1, "2026-11-19", "k-killed", settings=settings)
    assert done["status"] == RunStatus.SUCCEEDED.value and done["reused"] is False


def test_transient_errors():
    assert is_transient(OperationalError("SELECT 1", {}, Exception("server has gone away")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not is_transient(ValueError("bad input"))


@retry_transient_only
def fails_permanently() -> None:
    raise ValueError("a bug, not the network")


@retry_transient_only
def fails_transiently() -> None:
    raise OperationalError("SELECT 1", {}, Exception("Lost connection to MySQL server"))


def ok_job(org_id: int) -> dict:
    return {"org_id": org_id}


@pytest.mark.parametrize(
    ("func_", "expected"), [(fails_permanently, "failed"), (fails_transiently, "scheduled")]
)
def test_only_transient_errors_are_retried(func_, expected):
    redis = FakeStrictRedis()
    info, created = enqueue_unique(redis, func_, {}, job_id="t-1", org_id=1, kind="test")
    assert created and info.status == "queued"
    SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)
    job = Job.fetch("t-1", connection=redis)
    assert job.get_status().value == expected
    if expected == "scheduled":
        assert job.retries_left == 2  # three tries after the first, 10 s / 30 s / 60 s apart


def test_same_id_is_not_queued_twice_and_a_failed_one_can_be_queued_again():
    redis = FakeStrictRedis()
    queue = Queue(QUEUE_NAME, connection=redis)
    first, created = enqueue_unique(
        redis, ok_job, {"org_id": 1}, job_id="analyze-1-x", org_id=1, kind="analyze"
    )
    again, created_again = enqueue_unique(
        redis, ok_job, {"org_id": 1}, job_id="analyze-1-x", org_id=1, kind="analyze"
    )
    assert created and not created_again and again.id == first.id and queue.count == 1
    SimpleWorker([queue], connection=redis).work(burst=True)
    done = fetch_job(redis, "analyze-1-x")
    assert done is not None and done.status == "finished" and done.result == {"org_id": 1}
    assert done.org_id == 1 and done.kind == "analyze"
    enqueue_unique(redis, fails_permanently, {}, job_id="f-1", org_id=1, kind="t")
    SimpleWorker([queue], connection=redis).work(burst=True)
    failed = fetch_job(redis, "f-1")
    # The record says what kind of failure it was, never its text (it may name hosts).
    assert failed is not None and failed.status == "failed"
    assert failed.error == "internal error (ValueError)"
    _, requeued = enqueue_unique(redis, ok_job, {"org_id": 1}, job_id="f-1", org_id=1, kind="t")
    assert requeued


def test_monthly_jobs_run_on_an_empty_channel(settings):
    made = generate_proposals_job(1, "2026-10", "proposals-1-2026-10", settings=settings)
    assert made["kind"] == "proposals" and made["as_of"] == "2026-10-31"
    assert made["status"] == "SUCCEEDED" and made["proposals_created"] == 0
    again = generate_proposals_job(1, "2026-10", "proposals-1-2026-10", settings=settings)
    assert again["reused"] is True
    checked = check_experiments_job(1, "2026-10-31", settings=settings)
    assert checked == {"kind": "experiments", "org_id": 1, "as_of": "2026-10-31", "checked": 0}
