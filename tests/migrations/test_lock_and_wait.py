"""Deploying beside a one-off migration: `db upgrade` migrates once under a lock, and
`db wait` holds a service back until the schema is there."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from chanperf.cli import db as db_cli
from chanperf.cli.main import main
from chanperf.core.errors import ConfigError
from chanperf.migrations.upgrade import current, head, migrate, migration_lock, upgrade
from tests.migrations.conftest import with_engine


def _wait(url: str, *args: str):
    return CliRunner().invoke(main, ["--database-url", url, "db", "wait", *args])


@pytest.mark.mariadb
def test_a_second_migration_waits_for_the_first_and_finds_nothing_to_do(fresh_mariadb_url) -> None:
    results: dict[str, str | None] = {}
    with migration_lock(fresh_mariadb_url, timeout=5):
        second = threading.Thread(
            target=lambda: results.update(second=migrate(fresh_mariadb_url, lock_timeout=30))
        )
        second.start()
        time.sleep(1.0)
        assert second.is_alive()  # blocked on the lock this block holds
        results["first"] = current(fresh_mariadb_url)
        upgrade(fresh_mariadb_url)
    second.join(timeout=30)
    assert results == {"first": None, "second": head()}


@pytest.mark.mariadb
def test_a_lock_held_too_long_is_an_error_naming_the_database(fresh_mariadb_url) -> None:
    name = fresh_mariadb_url.rsplit("/", 1)[1]
    with migration_lock(fresh_mariadb_url, timeout=5):
        result = CliRunner().invoke(
            main, ["--database-url", fresh_mariadb_url, "db", "upgrade", "--lock-timeout", "1"]
        )
    assert result.exit_code == 1
    assert result.output == (
        f"error: another migration of {name} has held the lock for 1 s; "
        "try again when it has finished\n"
    )
    assert current(fresh_mariadb_url) is None


def test_upgrade_of_an_unreachable_database_names_the_step(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        migrate(f"sqlite:///{tmp_path / 'no' / 'db.sqlite'}")
    assert str(exc.value) == "cannot migrate the database: unable to open database file"


def test_wait_gives_up_on_a_database_never_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = _wait(url, "--timeout", "0")
    assert result.exit_code == 1
    assert result.output == (
        f"error: the database did not reach revision {head()} in 0 s "
        "(at revision none (never migrated)); run `chanperf db upgrade`\n"
    )


def test_wait_returns_once_another_process_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrating = threading.Timer(1.0, upgrade, args=(url,))
    migrating.start()
    started = time.monotonic()
    result = _wait(url, "--timeout", "30", "--interval", "0.2")
    migrating.join()
    assert result.exit_code == 0, result.output
    assert result.output == f"database at revision {head()}\n"
    assert 0.9 < time.monotonic() - started < 10


def test_wait_then_runs_the_command(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    ran: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(db_cli.os, "execvp", lambda f, a: ran.append((f, a)))
    result = _wait(url, "--", "gunicorn", "--workers", "2", "api:create_app()")
    assert result.exit_code == 0, result.output
    assert ran == [("gunicorn", ["gunicorn", "--workers", "2", "api:create_app()"])]


def test_wait_reports_a_command_that_cannot_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    result = _wait(url, "--", str(tmp_path / "no-such-program"))
    assert result.exit_code == 1
    assert result.output.endswith(
        f"error: cannot run {tmp_path / 'no-such-program'}: No such file or directory\n"
    )


def test_a_database_a_newer_release_migrated_does_not_block(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)

    def stamp_newer(engine):
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with_engine(url, stamp_newer)
    result = _wait(url, "--timeout", "0")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"warning: the database is at revision 9999, newer than this release's {head()}; "
        "starting anyway"
    )
