"""POST /analyze and GET /jobs/{id}: in-process without Redis, queued with it."""

from __future__ import annotations

import pytest
from rq import Queue

from chanperf.jobs.queue import QUEUE_NAME
from tests.api.conftest import PREFIX, error_of, make_client


def test_without_redis_the_analysis_runs_here_and_answers_a_finished_job(client, keys):
    h = keys.header("analyst")
    r = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-19"}, headers=h)
    assert r.status_code == 202, r.get_json()
    job = r.get_json()
    assert job["id"] == "analyze-1-2026-11-19" and job["status"] == "finished"
    assert r.headers["Location"] == f"{PREFIX}/jobs/analyze-1-2026-11-19"
    assert job["result"]["status"] == "SUCCEEDED" and job["result"]["reused"] is False

    status = client.get(r.headers["Location"], headers=keys.header("viewer"))
    assert status.status_code == 200 and status.get_json()["status"] == "finished"
    assert status.get_json()["result"]["run_id"] == job["result"]["run_id"]

    again = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-19"}, headers=h).get_json()
    assert again["id"] == job["id"] and again["result"]["reused"] is True
    rerun = client.post(f"{PREFIX}/analyze", json={"as_of": "2026-11-19", "rerun": True}, headers=h)
    assert rerun.get_json()["id"].startswith("analyze-1-2026-11-19-r")
    assert rerun.get_json()["result"]["reused"] is False

    assert client.get(r.headers["Location"], headers=keys.other_header()).status_code == 404


def test_a_failed_in_process_run_is_a_failed_job(client, keys, settings, monkeypatch):
    import chanperf.analysis.run

    def broken(*_a, **_k):
        raise RuntimeError("detector exploded")

    monkeypatch.setattr(chanperf.analysis.run, "run_detectors", broken)
    r = client.post(
        f"{PREFIX}/analyze", json={"as_of": "2026-11-18"}, headers=keys.header("analyst")
    )
    assert r.status_code == 202 and r.get_json()["status"] == "failed"
    assert "detector exploded" in r.get_json()["error"]
    status = client.get(r.headers["Location"], headers=keys.header()).get_json()
    assert status["status"] == "failed" and "detector exploded" in status["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"as_of": "yesterday"}, "as_of"), ({"rerun": "maybe"}, "rerun"), ({"org_id": 2}, "org_id")],
)
def test_bad_analyze_bodies_are_422(client, keys, body, field):
    r = client.post(f"{PREFIX}/analyze", json=body, headers=keys.header("analyst"))
    assert r.status_code == 422 and field in error_of(r)["errors"]["json"]


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
