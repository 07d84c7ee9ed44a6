"""Fixtures shared by the whole suite.

Database tests run on SQLite and on MariaDB (`db_url` is parametrized over both).
Each test run creates its own MariaDB database and picks its own Redis database
number, and removes them at the end. A missing server is an error, never a skip:
set CHANPERF_TEST_MYSQL_URL / CHANPERF_TEST_REDIS_URL to point elsewhere.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from chanperf.core.database import make_engine, session_factory
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.models.base import Base

MYSQL_SERVER_URL = os.environ.get("CHANPERF_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_SERVER_URL = os.environ.get("CHANPERF_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(scope="session")
def mariadb_server_url() -> Iterator[str]:
    """A database of this run's own on the MariaDB server; dropped at the end."""
    name = f"chanperf_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(MYSQL_SERVER_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"MariaDB not reachable at {MYSQL_SERVER_URL}: {exc}", pytrace=False)
    try:
        yield f"{MYSQL_SERVER_URL}/{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


_suffixes = itertools.count(1)


@contextmanager
def fresh_mariadb_database(mariadb_server_url: str) -> Iterator[str]:
    """An empty database beside this run's own (its name plus a suffix), dropped afterwards."""
    url = make_url(mariadb_server_url)
    name = f"{url.database}_{next(_suffixes)}"
    admin = create_engine(url.set(database=None))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture
def fresh_mariadb_url(mariadb_server_url: str) -> Iterator[str]:
    with fresh_mariadb_database(mariadb_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def mariadb_engine(mariadb_server_url: str) -> Iterator[Engine]:
    engine = make_engine(mariadb_server_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name != "sqlite":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if engine.dialect.name != "sqlite":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


# Every database test runs on both backends (the MariaDB half is marked `mariadb`).
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine with every table created and empty, on each backend in turn."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        Base.metadata.create_all(eng)
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("mariadb_engine")
        _empty_all_tables(eng)
        yield eng
        _empty_all_tables(eng)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        policies_dir=REPO_ROOT / "policies",
        rules_dir=REPO_ROOT / "rules",
    )


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database number no one else uses in this run; flushed at both ends."""
    import redis

    client = redis.Redis.from_url(REDIS_SERVER_URL)
    try:
        client.ping()
    except Exception as exc:  # pragma: no cover
        pytest.fail(f"Redis not reachable at {REDIS_SERVER_URL}: {exc}", pytrace=False)
    for db in range(15, 0, -1):
        candidate = redis.Redis.from_url(f"{REDIS_SERVER_URL}/{db}")
        # Claim the number atomically so two concurrent runs never share one.
        if candidate.dbsize() == 0 and candidate.set("chanperf:test:claim", os.getpid(), nx=True):
            url = f"{REDIS_SERVER_URL}/{db}"
            try:
                yield url
            finally:
                candidate.flushdb()
            return
    pytest.fail("no free Redis database number (1-15) for this test run", pytrace=False)
