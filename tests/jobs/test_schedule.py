"""The cron table driven through RQ's own CronScheduler with a fake clock, in America/Sao_Paulo.

RQ 3 reads cron strings in the process's local time, so the test sets TZ the way
`chanperf scheduler` does, and moves `rq.cron.now` forward 15 minutes at a time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import rq.cron
from fakeredis import FakeStrictRedis
from rq import Queue

from chanperf.jobs.queue import QUEUE_NAME, build_cron_scheduler, set_process_timezone
from chanperf.jobs.schedule import cron_table

SP = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def sao_paulo_process(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    set_process_timezone("America/Sao_Paulo")
    yield
    monkeypatch.undo()
    time.tzset()


def drive(start_local: datetime, hours: int, orgs=(1,)) -> list[tuple[str, str]]:
    """(local fire time, job id) of every job the scheduler enqueues in the window."""
    clock = {"now": start_local.astimezone(UTC)}
    original = rq.cron.now
    rq.cron.now = lambda: clock["now"]
    try:
        redis = FakeStrictRedis()
        scheduler = build_cron_scheduler(redis, cron_table(list(orgs), "America/Sao_Paulo"))
        queue = Queue(QUEUE_NAME, connection=redis)
        fired: list[tuple[str, str]] = []
        seen: set[str] = set()
        for _ in range(hours * 4):
            scheduler.enqueue_jobs()
            for job_id in queue.get_job_ids():
                if job_id not in seen:
                    seen.add(job_id)
                    fired.append((clock["now"].astimezone(SP).strftime("%a %d %H:%M"), job_id))
            clock["now"] += timedelta(minutes=15)
        return fired
    finally:
        rq.cron.now = original


def test_jobs_fire_at_their_local_times(sao_paulo_process):
    # Sunday 29 Nov 2026 00:00 to Wednesday 2 Dec 00:00, São Paulo time.
    fired = drive(datetime(2026, 11, 29, 0, 0, tzinfo=SP), hours=72)
    assert fired == [
        ("Sun 29 06:00", "collect-1-2026-11-28"),
        ("Mon 30 06:00", "collect-1-2026-11-29"),
        ("Mon 30 08:00", "analyze-1-2026-W48"),
        ("Tue 01 06:00", "collect-1-2026-11-30"),
        ("Tue 01 09:00", "proposals-1-2026-11"),
        ("Tue 01 09:30", "experiments-1-2026-11"),
    ]


def test_each_org_gets_its_own_ids_and_the_right_arguments(sao_paulo_process):
    fired = drive(datetime(2026, 11, 30, 7, 0, tzinfo=SP), hours=2, orgs=(1, 2))
    assert [job for _, job in fired] == ["analyze-1-2026-W48", "analyze-2-2026-W48"]


def test_planned_job_arguments():
    entries = {e.kind: e for e in cron_table([7], "America/Sao_Paulo")}
    monday = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 08:00 in São Paulo
    plan = entries["analyze"].plan(monday)
    assert plan.job_id == "analyze-7-2026-W48"
    assert dict(plan.kwargs) == {
        "org_id": 7,
        "as_of_iso": "2026-11-29",
        "run_key": "analyze-7-2026-W48",
    }
    first = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert entries["proposals"].plan(first).kwargs["month"] == "2025-12"
    assert (
        entries["collect"].plan(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)).kwargs["day_iso"]
        == "2026-02-28"
    )


def test_two_schedulers_do_not_queue_the_same_period_twice(sao_paulo_process):
    clock = datetime(2026, 11, 30, 8, 0, tzinfo=SP).astimezone(UTC)
    original = rq.cron.now
    rq.cron.now = lambda: clock - timedelta(minutes=1)
    try:
        redis = FakeStrictRedis()
        table = cron_table([1], "America/Sao_Paulo")
        a, b = build_cron_scheduler(redis, table), build_cron_scheduler(redis, table)
        rq.cron.now = lambda: clock
        a.enqueue_jobs()
        b.enqueue_jobs()
    finally:
        rq.cron.now = original
    assert Queue(QUEUE_NAME, connection=redis).get_job_ids() == ["analyze-1-2026-W48"]
