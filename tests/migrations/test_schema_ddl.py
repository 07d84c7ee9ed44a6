"""sql/*.sql on MariaDB build exactly the schema the migrations build, and the views work.

Three fresh databases beside this run's own: one from the SQL files, one from
`chanperf.migrations.upgrade.upgrade`, one from the ORM's create_all. They are compared through
information_schema, so what is checked is what the server really made of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT
from chanperf.migrations.upgrade import upgrade
from chanperf.models.base import Base
from chanperf.models.source import SOURCE_TABLES

pytestmark = pytest.mark.mariadb

SQL_DIR = REPO_ROOT / "sql"
DDL_FILES = ("source_schema.sql", "schema.sql", "views.sql")
VIEWS = {
    "v_current_state_distribution": ["org_id", "state", "accounts", "share"],
    "v_weekly_onboarding_by_region": [
        "org_id",
        "region",
        "week_start",
        "started",
        "completed",
        "onboarding_rate",
    ],
    "v_weekly_reactivation_by_region": [
        "org_id",
        "region",
        "week_start",
        "started",
        "won",
        "lost",
        "reactivation_rate",
    ],
    "v_open_insights": ["org_id", "insight_type", "severity", "open_count"],
}


def sql_statements(filename: str) -> list[str]:
    """The statements of one file; the files keep ';' out of comments and literals."""
    body = "\n".join(
        line
        for line in (SQL_DIR / filename).read_text().splitlines()
        if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in body.split(";") if s.strip()]


def apply_sql_files(engine: Engine) -> None:
    with engine.begin() as conn:
        for filename in DDL_FILES:
            for statement in sql_statements(filename):
                conn.exec_driver_sql(statement)


@pytest.fixture(scope="module")
def make_database(mariadb_server_url: str) -> Iterator[Any]:
    """Creates empty databases named after this run's; drops them all at the end."""
    url = make_url(mariadb_server_url)
    admin = create_engine(url.set(database=None))
    created: list[str] = []

    def make(suffix: str) -> str:
        name = f"{url.database}_{suffix}"
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        created.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.begin() as conn:
            for name in created:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="module")
def ddl_engine(make_database: Any) -> Iterator[Engine]:
    engine = make_engine(make_database("ddl"))
    apply_sql_files(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def migrated_engine(make_database: Any) -> Iterator[Engine]:
    url = make_database("migrated")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def orm_engine(make_database: Any) -> Iterator[Engine]:
    engine = make_engine(make_database("orm"))
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def schema_of(engine: Engine) -> dict[str, dict[str, Any]]:
    """Per base table: columns, indexes, foreign keys and CHECKs, as information_schema has them."""
    tables: dict[str, dict[str, Any]] = {}

    def table(name: str) -> dict[str, Any]:
        return tables.setdefault(
            name, {"columns": {}, "indexes": {}, "foreign_keys": {}, "checks": {}}
        )

    with engine.connect() as conn:
        base_tables = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
                )
            )
        } - {"alembic_version"}
        for name in base_tables:
            table(name)
        # COLUMN_TYPE carries length, precision, scale and enum values; EXTRA auto_increment.
        for r in conn.execute(
            text(
                "SELECT table_name, column_name, column_type, is_nullable, column_default, "
                "extra, collation_name FROM information_schema.columns WHERE table_schema = DATABASE()"
            )
        ):
            if r[0] in base_tables:
                table(r[0])["columns"][r[1]] = {
                    "type": r[2],
                    "nullable": r[3],
                    "default": r[4],
                    "extra": r[5],
                    "collation": r[6],
                }
        index_columns: dict[tuple[str, str], list[tuple[int, str]]] = {}
        index_unique: dict[tuple[str, str], bool] = {}
        for r in conn.execute(
            text(
                "SELECT table_name, index_name, seq_in_index, column_name, non_unique "
                "FROM information_schema.statistics WHERE table_schema = DATABASE()"
            )
        ):
            if r[0] in base_tables:
                index_columns.setdefault((r[0], r[1]), []).append((r[2], r[3]))
                index_unique[(r[0], r[1])] = not r[4]
        for (tname, iname), cols in index_columns.items():
            table(tname)["indexes"][iname] = {
                "columns": [c for _, c in sorted(cols)],
                "unique": index_unique[(tname, iname)],
            }
        for r in conn.execute(
            text(
                "SELECT k.table_name, k.constraint_name, k.column_name, k.referenced_table_name, "
                "k.referenced_column_name, rc.update_rule, rc.delete_rule "
                "FROM information_schema.key_column_usage k "
                "JOIN information_schema.referential_constraints rc "
                "  ON rc.constraint_schema = k.constraint_schema AND rc.constraint_name = k.constraint_name "
                "WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL"
            )
        ):
            table(r[0])["foreign_keys"][r[1]] = {
                "column": r[2],
                "references": f"{r[3]}.{r[4]}",
                "on_update": r[5],
                "on_delete": r[6],
            }
        for r in conn.execute(
            text(
                "SELECT table_name, constraint_name, check_clause FROM information_schema.check_constraints "
                "WHERE constraint_schema = DATABASE()"
            )
        ):
            if r[0] in base_tables:
                table(r[0])["checks"][r[1]] = r[2]
    return tables


def assert_same_schema(got: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    assert sorted(got) == sorted(expected), f"{what}: tables differ"
    for name in sorted(expected):
        for part in ("columns", "indexes", "foreign_keys", "checks"):
            mine, theirs = got[name][part], expected[name][part]
            problems = [
                f"{key}: {mine.get(key)} != {theirs.get(key)}"
                for key in sorted(set(mine) | set(theirs))
                if mine.get(key) != theirs.get(key)
            ]
            assert not problems, f"{what}: {name}.{part}:\n  " + "\n  ".join(problems)


def test_sql_files_build_the_schema_the_migrations_build(
    ddl_engine: Engine, migrated_engine: Engine
) -> None:
    migrated = schema_of(migrated_engine)
    assert set(migrated) == set(Base.metadata.tables)
    assert_same_schema(schema_of(ddl_engine), migrated, "sql/*.sql vs migrations")


def test_migrations_build_the_schema_create_all_builds(
    migrated_engine: Engine, orm_engine: Engine
) -> None:
    assert_same_schema(
        schema_of(migrated_engine), schema_of(orm_engine), "migrations vs ORM create_all"
    )


def test_source_schema_holds_exactly_the_contract_tables() -> None:
    created = {
        m.group(1)
        for m in re.finditer(
            r"CREATE TABLE IF NOT EXISTS (\w+)", (SQL_DIR / "source_schema.sql").read_text()
        )
    }
    assert created == {model.__tablename__ for model in SOURCE_TABLES}


def test_sql_files_can_run_twice(ddl_engine: Engine) -> None:
    before = schema_of(ddl_engine)
    apply_sql_files(ddl_engine)
    assert schema_of(ddl_engine) == before


def test_schema_uses_native_enums(ddl_engine: Engine) -> None:
    columns = schema_of(ddl_engine)["channel_performance_segment_metrics"]["columns"]
    assert columns["dimension"]["type"] == "enum('region','segment','kit','strategy')"
    assert columns["period_type"]["type"] == "enum('DAILY','WEEKLY','MONTHLY')"


def _rows(conn: Connection, view: str) -> list[dict[str, Any]]:
    result = conn.execute(text(f"SELECT * FROM {view}"))
    assert list(result.keys()) == VIEWS[view]
    return [dict(r._mapping) for r in result]


def test_views_exist_and_answer_with_hand_checked_values(ddl_engine: Engine) -> None:
    with ddl_engine.begin() as conn:
        view_names = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_type = 'VIEW'"
                )
            )
        }
        assert set(VIEWS) <= view_names

        t = datetime(2024, 1, 3, 12)
        accounts = [
            (1, 1, "NORTE", "ACTIVE"),
            (2, 1, "NORTE", "ACTIVE"),
            (3, 1, "SUL", "ACTIVE"),
            (4, 1, "SUL", "STALLED"),
            (5, 2, "LESTE", "NEW"),
        ]
        for account_id, org_id, region, state in accounts:
            conn.execute(
                text(
                    "INSERT INTO channel_accounts (account_id, org_id, region, segment, created_at, state) "
                    "VALUES (:a, :o, :r, 'OURO', :t, :s)"
                ),
                {"a": account_id, "o": org_id, "r": region, "t": t, "s": state},
            )
        onboardings = [  # (account, started_at, status): Monday 1 Jan 2024 starts the ISO week
            (1, datetime(2024, 1, 1, 9), "COMPLETED"),
            (2, datetime(2024, 1, 7, 23, 59), "FAILED"),  # Sunday (UTC): still the week of 1 Jan
            (3, datetime(2024, 1, 8, 0, 0), "IN_PROGRESS"),
        ]
        for account_id, started_at, status in onboardings:
            conn.execute(
                text(
                    "INSERT INTO channel_onboardings (org_id, account_id, kit, started_at, status) "
                    "VALUES (1, :a, 'KIT', :t, :s)"
                ),
                {"a": account_id, "t": started_at, "s": status},
            )
        for status in ("WON", "LOST", "PENDING", "WON"):
            conn.execute(
                text(
                    "INSERT INTO channel_reactivations (org_id, account_id, strategy, started_at, status) "
                    "VALUES (1, 4, 'CALL', :t, :s)"
                ),
                {"t": datetime(2024, 1, 10), "s": status},
            )
        conn.execute(
            text(
                "INSERT INTO channel_reactivations (org_id, account_id, strategy, started_at, status) "
                "VALUES (1, 4, 'CALL', :t, 'PENDING')"
            ),
            {"t": datetime(2024, 1, 15)},
        )
        for insight_type, severity, status in [
            ("POLICY_GAP", "HIGH", "NEW"),
            ("POLICY_GAP", "HIGH", "REVIEWED"),
            ("POLICY_GAP", "HIGH", "DISMISSED"),
            ("EXECUTION_DRIFT", "LOW", "IN_PROGRESS"),
            ("EXECUTION_DRIFT", "LOW", "IMPLEMENTED"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO channel_performance_insights "
                    "(org_id, insight_type, category, severity, title, observation, evidence, status) "
                    "VALUES (1, :it, 'policy', :sev, 't', 'o', '{}', :st)"
                ),
                {"it": insight_type, "sev": severity, "st": status},
            )

        states = {
            (r["org_id"], r["state"]): (r["accounts"], r["share"])
            for r in _rows(conn, "v_current_state_distribution")
        }
        assert states == {
            (1, "ACTIVE"): (3, Decimal("75.00")),
            (1, "STALLED"): (1, Decimal("25.00")),
            (2, "NEW"): (1, Decimal("100.00")),
        }

        onboarding = {
            (r["region"], r["week_start"].isoformat()): (
                r["started"],
                r["completed"],
                r["onboarding_rate"],
            )
            for r in _rows(conn, "v_weekly_onboarding_by_region")
        }
        assert onboarding == {
            ("NORTE", "2024-01-01"): (2, 1, Decimal("50.00")),
            ("SUL", "2024-01-08"): (1, 0, Decimal("0.00")),
        }

        reactivation = {
            (r["region"], r["week_start"].isoformat()): (
                r["started"],
                r["won"],
                r["lost"],
                r["reactivation_rate"],
            )
            for r in _rows(conn, "v_weekly_reactivation_by_region")
        }
        assert reactivation == {
            ("SUL", "2024-01-08"): (4, 2, 1, Decimal("66.67")),
            ("SUL", "2024-01-15"): (1, 0, 0, None),  # nothing resolved yet: no rate, not 0
        }

        open_insights = {
            (r["insight_type"], r["severity"]): r["open_count"]
            for r in _rows(conn, "v_open_insights")
        }
        assert open_insights == {("POLICY_GAP", "HIGH"): 2, ("EXECUTION_DRIFT", "LOW"): 1}

        conn.rollback()
