"""The shipped Alembic migrations: `chanperf db upgrade` builds the ORM's schema, exactly, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Engine, inspect

from chanperf.cli.main import main
from chanperf.core.database import make_engine
from chanperf.migrations.upgrade import compare_server_default, current, make_config
from chanperf.models.base import Base
from tests.migrations.conftest import cli_upgrade, with_engine


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything the inspector can see of every table, in a comparable form."""
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": [
                (
                    c["name"],
                    str(c["type"]),
                    c["nullable"],
                    str(c.get("default")),
                    c.get("autoincrement"),
                )
                for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"]) for i in insp.get_indexes(table)
            ),
            "uniques": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "fks": sorted(
                (
                    f["name"],
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    str(f.get("options")),
                )
                for f in insp.get_foreign_keys(table)
            ),
            "checks": sorted((c["name"], c["sqltext"]) for c in insp.get_check_constraints(table)),
        }
    return out


def head_revision() -> str:
    head = ScriptDirectory.from_config(make_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def test_upgrade_creates_every_table_and_a_second_run_changes_nothing(empty_db_url: str) -> None:
    assert current(empty_db_url) is None

    cli_upgrade(empty_db_url)
    before = with_engine(empty_db_url, snapshot)
    assert set(before) == set(Base.metadata.tables) | {"alembic_version"}
    assert current(empty_db_url) == head_revision()

    cli_upgrade(empty_db_url)
    assert with_engine(empty_db_url, snapshot) == before
    assert current(empty_db_url) == head_revision()


def test_migrated_schema_has_no_differences_from_the_models(empty_db_url: str) -> None:
    cli_upgrade(empty_db_url)

    def diff(engine: Engine) -> list[Any]:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": compare_server_default}
            )
            return list(compare_metadata(ctx, Base.metadata))

    assert with_engine(empty_db_url, diff) == []


def test_sqlite_migration_names_enum_checks_like_the_models(tmp_path: Path) -> None:
    """Enum CHECKs are the one thing SQLite cannot ALTER later: their names must match now."""
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    cli_upgrade(migrated)
    orm = make_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    Base.metadata.create_all(orm)
    try:
        expected = {t: s["checks"] for t, s in snapshot(orm).items()}
    finally:
        orm.dispose()
    got = {
        t: s["checks"] for t, s in with_engine(migrated, snapshot).items() if t != "alembic_version"
    }
    assert got == expected
    assert (
        "ck_channel_performance_insights_severity",
        "severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')",
    ) in got["channel_performance_insights"]


def test_upgrade_reports_an_unreachable_database_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}"
    result = CliRunner().invoke(main, ["--database-url", url, "db", "upgrade"])
    assert result.exit_code == 1
    assert "error: cannot migrate the database" in result.output
