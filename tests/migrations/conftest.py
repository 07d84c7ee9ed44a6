"""Fixtures of the migration tests: empty databases to upgrade, on SQLite and MariaDB.

Each MariaDB test gets a database of its own (`fresh_mariadb_url`), because upgrade must
start from an empty one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from chanperf.cli.main import main
from chanperf.core.database import make_engine


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
