"""POST /analyze and GET /jobs/{id}: in-process without Redis, queued with it."""

from __future__ import annotations

from datetime import datetime

import pytest
from rq import Queue
from sqlalchemy import Engine, func, select

from chanperf.jobs import local
from chanperf.jobs.queue import QUEUE_NAME
from chanperf.models.performance import PerformanceInsight
from chanperf.models.runs import AnalysisRun
from chanperf.models.source import ChannelAccount
from tests.api.conftest import PREFIX, error_of, make_client


@pytest.fixture(autouse=True)
def one_account(engine: Engine) -> None:
    """The source's first row: an account created on 2026-01-05 (10:00 UTC)."""
    with engine.begin() as conn:
        conn.execute(
            ChannelAccount.__table__.insert(),
            [
                {
                    "account_id": 1,
                    "org_id": 1,
                    "region": "R1",
                    "segment": "S1",
                    "created_at": datetime(2026, 1, 5, 10),
                    "state": "NEW",
                }
            ],
        )


def finished(client, keys, location: str) -> dict:
    job_id = location.rsplit("/", 1)[-1]
    local.wait(job_id, timeout=60)
    return client.get(location, headers=keys.header("viewer")).get_json()


def test_without_redis_the_analysis_runs_in_a_thread_and_the_job_endpoint_follows_it(client, keys):
    h = keys.header("analyst")
    r = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-19"}, headers=h)
    assert r.status_code == 202, r.get_json()
    job = r.get_json()
    # Answered before the analysis ran: the request never waits for it.
    assert job["id"] == "analyze-1-2026-11-19" and job["status"] in ("queued", "started")
    assert r.headers["Location"] == f"{PREFIX}/jobs/analyze-1-2026-11-19"

    status = finished(client, keys, r.headers["Location"])
    assert status["status"] == "finished"
    assert status["result"]["status"] == "SUCCEEDED" and status["result"]["reused"] is False

    again = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-19"}, headers=h)
    assert again.get_json()["id"] == job["id"]
    assert (
        finished(client, keys, again.headers["Location"])["result"]["run_id"]
        == (status["result"]["run_id"])
    )
    rerun = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-19", "rerun": True}, headers=h)
    assert rerun.get_json()["id"].startswith("analyze-1-2026-11-19-r")
    assert finished(client, keys, rerun.headers["Location"])["result"]["reused"] is False

    assert client.get(r.headers["Location"], headers=keys.other_header()).status_code == 404


def test_a_failed_in_process_run_is_a_failed_job_that_names_no_detail(
    client, keys, settings, monkeypatch
):
    import chanperf.analysis.run

    def broken(*_a, **_k):
        raise RuntimeError("detector exploded at /srv/secret/path")

    monkeypatch.setattr(chanperf.analysis.run, "run_detectors", broken)
    r = client.post(
        f"{PREFIX}/analyze", json={"as_of": "2026-11-18"}, headers=keys.header("analyst")
    )
    assert r.status_code == 202
    status = finished(client, keys, r.headers["Location"])
    assert status["status"] == "failed" and status["error"] == "internal error (RuntimeError)"


def test_a_day_in_the_future_or_before_the_first_row_is_refused_and_writes_nothing(
    client, keys, engine
):
    h = keys.header("analyst")
    for as_of, message in (
        ("2030-01-01", "must not be after today"),
        ("2026-01-04", "before the source's first row (2026-01-05)"),
    ):
        r = client.post(f"{PREFIX}/analyze", json={"as_of": as_of}, headers=h)
        assert r.status_code == 422
        assert message in error_of(r)["errors"]["as_of"][0]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AnalysisRun)) == 0
        assert conn.scalar(select(func.count()).select_from(PerformanceInsight)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({"as_of": "yesterday"}, "as_of"), ({"rerun": "maybe"}, "rerun"), ({"org_id": 2}, "org_id")],
)
def test_bad_analyze_bodies_are_422(client, keys, body, field):
    r = client.post(f"{PREFIX}/analyze", json=body, headers=keys.header("analyst"))
    assert r.status_code == 422 and field in error_of(r)["errors"]


def test_unknown_job_is_404(client, keys):
    r = client.get(f"{PREFIX}/jobs/analyze-1-1999-01-01", headers=keys.header())
    assert r.status_code == 404
    error_of(r)


@pytest.mark.redis
def test_with_redis_the_job_is_queued_once(settings, keys, redis_url):
    import redis

    client = make_client(settings.with_(redis_url=redis_url), keys)
    queue = Queue(QUEUE_NAME, connection=redis.Redis.from_url(redis_url))
    queue.empty()
    try:
        h = keys.header("analyst")
        r = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-17"}, headers=h)
        assert r.status_code == 202 and r.get_json()["status"] == "queued"
        assert r.headers["Location"].endswith("/jobs/analyze-1-2026-11-17")
        again = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-17"}, headers=h)
        assert again.get_json()["id"] == r.get_json()["id"] and queue.count == 1
        status = client.get(r.headers["Location"], headers=keys.header())
        assert status.get_json()["status"] == "queued" and status.get_json()["org_id"] == 1
        assert client.get(r.headers["Location"], headers=keys.other_header()).status_code == 404
    finally:
        queue.empty()


def test_unreachable_redis_is_503(settings, keys):
    client = make_client(settings.with_(redis_url="redis://127.0.0.1:1/0"), keys)
    r = client.post(f"{PREFIX}/analyze", json={}, headers=keys.header("analyst"))
    assert r.status_code == 503
    error_of(r)
    assert client.get(f"{PREFIX}/jobs/x", headers=keys.header()).status_code == 503
