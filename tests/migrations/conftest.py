"""Fixtures of the migration tests: empty databases to upgrade, on SQLite and MariaDB.

Each MariaDB test gets a database of its own (the run's database name plus a suffix),
because upgrade must start from an empty one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from chanperf.cli.main import main
from chanperf.core.database import make_engine

_suffixes = itertools.count(1)


@pytest.fixture
def fresh_mariadb_url(mariadb_server_url: str) -> Iterator[str]:
    """An empty database beside this run's own, dropped afterwards."""
    url = make_url(mariadb_server_url)
    name = f"{url.database}_mig{next(_suffixes)}"
    admin = create_engine(url.set(database=None))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
    ]
)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("fresh_mariadb_url")
    return url


def cli_upgrade(url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", url, "db", "upgrade"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "database at revision head" in result.output


def with_engine(url: str, fn: Callable[[Engine], Any]) -> Any:
    engine = make_engine(url)
    try:
        return fn(engine)
    finally:
        engine.dispose()
