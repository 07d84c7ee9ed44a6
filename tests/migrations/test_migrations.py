"""The shipped Alembic migrations: `chanperf db upgrade` builds the ORM's schema, exactly, once.

Each MariaDB test gets a database of its own (the run's database name plus a suffix),
because upgrade must start from an empty one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from chanperf.cli.main import main
from chanperf.core.database import make_engine
from chanperf.migrations.upgrade import compare_server_default, current, make_config
from chanperf.models.base import Base

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


# The interface columns of the three tables (the columns of chanperf/models/performance.py
# that are not under an "extensions" comment), with their MySQL types. New columns may be
# added; these must stay, with these types, or the seed's readers break.
SEED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "channel_performance_metrics": [
        ("id", "bigint(20)"),
        ("org_id", "int(11)"),
        ("period_date", "date"),
        ("period_type", "enum('DAILY','WEEKLY','MONTHLY')"),
        ("total_accounts", "int(11)"),
        ("new_accounts", "int(11)"),
        ("activating_accounts", "int(11)"),
        ("active_accounts", "int(11)"),
        ("stalled_accounts", "int(11)"),
        ("at_risk_accounts", "int(11)"),
        ("churned_accounts", "int(11)"),
        ("onboardings_started", "int(11)"),
        ("onboardings_completed", "int(11)"),
        ("onboardings_failed", "int(11)"),
        ("activation_rate", "decimal(6,4)"),
        ("avg_activation_days", "decimal(7,2)"),
        ("reactivations_started", "int(11)"),
        ("reactivations_won", "int(11)"),
        ("reactivations_lost", "int(11)"),
        ("reactivation_rate", "decimal(6,4)"),
        ("reincidence_rate", "decimal(6,4)"),
        ("reactivation_cost", "decimal(15,2)"),
        ("revenue_total", "decimal(15,2)"),
        ("revenue_new_accounts", "decimal(15,2)"),
        ("revenue_reactivated", "decimal(15,2)"),
        ("avg_margin", "decimal(6,4)"),
        ("nps_score", "decimal(5,1)"),
        ("complaints_count", "int(11)"),
        ("exceptions_requested", "int(11)"),
        ("exceptions_granted", "int(11)"),
        ("created_at", "datetime"),
        ("updated_at", "datetime"),
    ],
    "channel_performance_insights": [
        ("id", "bigint(20)"),
        ("org_id", "int(11)"),
        (
            "insight_type",
            "enum('POLICY_GAP','POLICY_TOO_LAX','POLICY_TOO_RESTRICTIVE','EXECUTION_DRIFT','CHANNEL_MISALIGNMENT')",
        ),
        (
            "category",
            "enum('onboarding','reactivation','pricing','states','policy','revenue','quality')",
        ),
        ("severity", "enum('LOW','MEDIUM','HIGH','CRITICAL')"),
        ("title", "varchar(255)"),
        ("observation", "text"),
        ("evidence", "longtext"),
        ("recommendation", "text"),
        (
            "suggested_action",
            "enum('CHANGE_POLICY','ADJUST_PARAMETER','RUN_EXPERIMENT','ESCALATE','MONITOR')",
        ),
        ("suggested_params", "longtext"),
        ("affected_region", "varchar(50)"),
        ("affected_segment", "varchar(100)"),
        ("affected_policy", "varchar(200)"),
        ("impact_estimate", "longtext"),
        ("period_start", "date"),
        ("period_end", "date"),
        ("status", "enum('NEW','REVIEWED','ACCEPTED','DISMISSED','IMPLEMENTED')"),
        ("reviewed_by", "varchar(100)"),
        ("reviewed_at", "datetime"),
        ("created_at", "datetime"),
        ("updated_at", "datetime"),
    ],
    "channel_policy_proposals": [
        ("id", "bigint(20)"),
        ("org_id", "int(11)"),
        ("insight_id", "bigint(20)"),
        ("policy_name", "varchar(100)"),
        ("title", "varchar(255)"),
        ("rationale", "text"),
        ("current_policy", "longtext"),
        ("proposed_policy", "longtext"),
        ("expected_impact", "longtext"),
        ("experiment_plan", "longtext"),
        ("status", "enum('DRAFT','PENDING_REVIEW','APPROVED','REJECTED','IMPLEMENTED')"),
        ("approved_by", "varchar(100)"),
        ("approved_at", "datetime"),
        ("implemented_at", "datetime"),
        ("implementation_results", "longtext"),
        ("created_at", "datetime"),
        ("updated_at", "datetime"),
    ],
}

# How SQLite declares each MySQL type of the list above (enums are CHECKed VARCHARs,
# JSON keeps its name, BIGINT keys are INTEGER so they autoincrement).
SQLITE_TYPE = {
    "bigint(20)": "INTEGER",
    "int(11)": "INTEGER",
    "date": "DATE",
    "datetime": "DATETIME",
    "text": "TEXT",
    "longtext": "JSON",
}


def _sqlite_type(mysql_type: str, column: str) -> str:
    if mysql_type.startswith("enum("):
        values = [v.strip("'") for v in mysql_type[5:-1].split(",")]
        return f"VARCHAR({max(len(v) for v in values)})"
    if mysql_type.startswith("decimal("):
        precision, scale = mysql_type[8:-1].split(",")
        return f"NUMERIC({precision}, {scale})"
    if mysql_type.startswith("varchar("):
        return mysql_type.upper()
    if mysql_type == "bigint(20)" and column != "id":
        return "BIGINT"
    return SQLITE_TYPE[mysql_type]


def _expected_seed_types(backend: str) -> dict[tuple[str, str], str]:
    if backend == "mariadb":
        return {(t, c): typ for t, cols in SEED_COLUMNS.items() for c, typ in cols}
    return {(t, c): _sqlite_type(typ, c) for t, cols in SEED_COLUMNS.items() for c, typ in cols}


def test_seed_columns_exist_with_their_types(empty_db_url: str) -> None:
    cli_upgrade(empty_db_url)
    backend = make_url(empty_db_url).get_backend_name()

    def actual(engine: Engine) -> dict[tuple[str, str], str]:
        if backend == "sqlite":
            insp = inspect(engine)
            return {
                (t, c["name"]): str(c["type"]) for t in SEED_COLUMNS for c in insp.get_columns(t)
            }
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT table_name, column_name, column_type FROM information_schema.columns "
                    "WHERE table_schema = DATABASE()"
                )
            ).all()
        return {(r[0], r[1]): r[2] for r in rows if r[0] in SEED_COLUMNS}

    got = with_engine(empty_db_url, actual)
    expected = _expected_seed_types("mariadb" if backend != "sqlite" else "sqlite")
    missing = sorted(set(expected) - set(got))
    assert not missing, f"seed columns missing: {missing}"
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, f"seed columns with another type (got, expected): {wrong}"
