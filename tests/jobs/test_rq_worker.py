"""End to end on the real servers: POST /analyze → an `rq` worker process runs it → the job
endpoint reports finished → the insights it stored are listed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.jobs.queue import QUEUE_NAME, connect
from chanperf.models.base import Base
from chanperf.models.performance import PerformanceInsight
from tests.api.conftest import PREFIX, make_client, make_keys

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.slow]
AS_OF = date(2026, 11, 19)


def _empty(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


@pytest.fixture
def channel(mariadb_engine, mariadb_server_url, redis_url):
    """A small demo channel in the run's MariaDB database, and an empty queue."""
    from chanperf.demo.run import run_demo

    _empty(mariadb_engine)
    settings = Settings(database_url=mariadb_server_url, redis_url=redis_url)
    run_demo(
        settings, accounts=300, as_of=AS_OF, analyse=False, replace=True, echo=lambda *a, **k: None
    )
    queue = Queue(QUEUE_NAME, connection=connect(redis_url))
    queue.empty()
    yield settings
    queue.empty()
    _empty(mariadb_engine)


def test_analyze_through_a_real_worker_process(channel, mariadb_engine):
    keys = make_keys()
    client = make_client(channel, keys)
    r = client.post(
        f"{PREFIX}/analyze", json={"as_of": AS_OF.isoformat()}, headers=keys.header("analyst")
    )
    assert r.status_code == 202 and r.get_json()["status"] == "queued", r.get_json()
    location = r.headers["Location"]

    env = {
        **os.environ,
        "CHANPERF_DATABASE_URL": channel.database_url,
        "CHANPERF_REDIS_URL": channel.redis_url or "",
        "CHANPERF_POLICIES_DIR": str(REPO_ROOT / "policies"),
        "CHANPERF_RULES_DIR": str(REPO_ROOT / "rules"),
    }
    worker = subprocess.run(
        [sys.executable, "-m", "chanperf.cli", "worker", "--burst"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]

    job = client.get(location, headers=keys.header()).get_json()
    assert job["status"] == "finished", job
    assert job["result"]["status"] == "SUCCEEDED" and job["result"]["run_key"] == job["id"]

    with Session(mariadb_engine) as s:
        stored = s.scalar(
            select(func.count())
            .select_from(PerformanceInsight)
            .where(PerformanceInsight.org_id == 1)
        )
    listed = client.get(f"{PREFIX}/insights?page_size=100", headers=keys.header())
    assert listed.status_code == 200
    assert len(listed.get_json()) == stored == job["result"]["insights_created"]
    assert stored > 0  # the demo channel has planted patterns to find
