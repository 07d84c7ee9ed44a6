"""A database that goes away: 503 with Retry-After on /v1, /ready false, and nothing leaked.

Two faults on each backend: a server that cannot be reached (a port nobody listens on,
or a SQLite file in a folder that does not exist) and a database that lost its tables
under a running app. Neither answer may name a host, a user, a path or a traceback.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.models.base import Base
from chanperf.models.performance import PerformanceInsight
from chanperf.models.source import ChannelAccount
from tests.api.conftest import PREFIX, error_of, make_client, make_keys

ROUTES = (
    "/insights",
    "/insights/1",
    "/proposals",
    "/metrics/history?period_type=WEEKLY",
    "/dashboard",
    "/policies",
)


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url, policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules"
    )


def _assert_unavailable(client, keys, secret_bits: tuple[str, ...]) -> None:
    for route in ROUTES:
        r = client.get(PREFIX + route, headers=keys.header("viewer"))
        assert r.status_code == 503, (route, r.get_data(as_text=True))
        body = error_of(r)
        assert r.headers["Retry-After"] == "30"
        assert body["message"] == "the database is unavailable; try again later"
        text_ = r.get_data(as_text=True)
        assert not any(bit in text_ for bit in secret_bits), text_
        assert "Traceback" not in text_
    ready = client.get("/ready")
    assert ready.status_code == 503
    return ready.get_json()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(
            "mysql+pymysql://chanperf_app:s3cret@127.0.0.1:1/csuite_context", id="mariadb"
        ),
        pytest.param("sqlite:////nonexistent-folder/chanperf.db", id="sqlite"),
    ],
)
def test_an_unreachable_database_answers_503_and_ready_is_false(url: str) -> None:
    keys = make_keys()
    client = make_client(_settings(url), keys)
    ready = _assert_unavailable(
        client, keys, ("s3cret", "chanperf_app", "nonexistent-folder", ":1")
    )
    assert ready == {"status": "not_ready", "database": "error", "queue": "disabled"}


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of its own (its tables get dropped), with every table created."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'lost.db'}"
    else:
        url = request.getfixturevalue("fresh_mariadb_url")
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def test_tables_dropped_under_a_running_app_answer_503_and_ready_is_false(fresh_url: str) -> None:
    keys = make_keys()
    client = make_client(_settings(fresh_url), keys)
    assert client.get(PREFIX + "/insights", headers=keys.header()).status_code == 200
    assert client.get("/ready").get_json()["database"] == "ok"
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        if engine.dialect.name != "sqlite":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            if not table.name.startswith("channel_") or table.name in (
                PerformanceInsight.__tablename__,
                "channel_policy_proposals",
                "channel_performance_metrics",
                "channel_performance_segment_metrics",
                "channel_policy_versions",
                "channel_analysis_runs",
            ):
                table.drop(conn, checkfirst=True)
    engine.dispose()
    ready = _assert_unavailable(client, keys, (str(Path(fresh_url.split("///")[-1]).parent),))
    assert ready["database"] == "missing_tables"


def test_an_unreachable_queue_answers_503_and_ready_is_false(settings, keys, engine) -> None:
    with engine.begin() as conn:  # the source's first row, so the request itself is valid
        conn.execute(
            ChannelAccount.__table__.insert(),
            [{"account_id": 1, "org_id": 1, "region": "R1", "segment": "S1",
              "created_at": datetime(2026, 1, 5), "state": "NEW"}],
        )  # fmt: skip
    client = make_client(settings.with_(redis_url="redis://:pw@127.0.0.1:1/0"), keys)
    r = client.post(f"{PREFIX}/analyze", json={}, headers=keys.header("analyst"))
    assert r.status_code == 503 and "pw" not in r.get_data(as_text=True)
    error_of(r)
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.get_json()["queue"] == "error"
