"""`chanperf db upgrade` builds the three tables other services read exactly as the
interface's DDL declares them: every column with its name, type, ENUM values (in order)
and default. The literal below is written from that DDL, column by column."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from tests.migrations.conftest import cli_upgrade, with_engine

CT = "CURRENT_TIMESTAMP"
# table -> (column, type as the DDL writes it, DEFAULT as the DDL writes it or None)
INTERFACE: dict[str, list[tuple[str, str, str | None]]] = {
    "channel_performance_insights": [
        ("id", "BIGINT", None),
        ("org_id", "INT", "1"),
        (
            "insight_type",
            "ENUM('POLICY_GAP','POLICY_TOO_RESTRICTIVE','POLICY_TOO_LAX','EXECUTION_DRIFT','CHANNEL_MISALIGNMENT')",
            None,
        ),
        ("severity", "ENUM('LOW','MEDIUM','HIGH','CRITICAL')", None),
        ("category", "VARCHAR(50)", None),
        ("affected_segment", "VARCHAR(100)", None),
        ("affected_region", "VARCHAR(50)", None),
        ("affected_policy", "VARCHAR(100)", None),
        ("title", "VARCHAR(255)", None),
        ("observation", "TEXT", None),
        ("evidence", "JSON", None),
        ("impact_estimate", "JSON", None),
        ("recommendation", "TEXT", None),
        (
            "suggested_action",
            "ENUM('ADJUST_PARAMETER','CHANGE_POLICY','RUN_EXPERIMENT','ESCALATE','MONITOR')",
            None,
        ),
        ("suggested_params", "JSON", None),
        ("status", "ENUM('NEW','REVIEWED','IN_PROGRESS','IMPLEMENTED','DISMISSED')", "'NEW'"),
        ("reviewed_by", "VARCHAR(50)", None),
        ("reviewed_at", "DATETIME", None),
        ("implementation_notes", "TEXT", None),
        ("analysis_period_start", "DATE", None),
        ("analysis_period_end", "DATE", None),
        ("created_at", "DATETIME", CT),
        ("updated_at", "DATETIME", CT),
    ],
    "channel_performance_metrics": [
        ("id", "BIGINT", None),
        ("org_id", "INT", "1"),
        ("period_date", "DATE", None),
        ("period_type", "ENUM('DAILY','WEEKLY','MONTHLY')", None),
        ("onboarding_started", "INT", "0"),
        ("onboarding_completed", "INT", "0"),
        ("onboarding_failed", "INT", "0"),
        ("onboarding_rate", "DECIMAL(5,2)", None),
        ("avg_activation_days", "DECIMAL(5,1)", None),
        ("reactivation_attempts", "INT", "0"),
        ("reactivation_won", "INT", "0"),
        ("reactivation_lost", "INT", "0"),
        ("reactivation_rate", "DECIMAL(5,2)", None),
        ("avg_reactivation_cost", "DECIMAL(10,2)", None),
        ("reincidence_rate", "DECIMAL(5,2)", None),
        ("accounts_new", "INT", "0"),
        ("accounts_activating", "INT", "0"),
        ("accounts_active", "INT", "0"),
        ("accounts_stalled", "INT", "0"),
        ("accounts_at_risk", "INT", "0"),
        ("accounts_churned", "INT", "0"),
        ("transitions_to_active", "INT", "0"),
        ("transitions_to_stalled", "INT", "0"),
        ("transitions_to_churn", "INT", "0"),
        ("total_revenue", "DECIMAL(15,2)", "0"),
        ("avg_margin", "DECIMAL(5,2)", None),
        ("revenue_from_new", "DECIMAL(15,2)", "0"),
        ("revenue_from_reactivated", "DECIMAL(15,2)", "0"),
        ("avg_health_score", "DECIMAL(5,1)", None),
        ("exceptions_count", "INT", "0"),
        ("created_at", "DATETIME", CT),
    ],
    "channel_policy_proposals": [
        ("id", "BIGINT", None),
        ("org_id", "INT", "1"),
        ("insight_id", "BIGINT", None),
        ("title", "VARCHAR(255)", None),
        ("description", "TEXT", None),
        ("affected_policy", "VARCHAR(100)", None),
        ("current_value", "JSON", None),
        ("proposed_value", "JSON", None),
        ("expected_impact", "TEXT", None),
        ("impact_metrics", "JSON", None),
        ("risk_assessment", "TEXT", None),
        ("experiment_plan", "JSON", None),
        ("experiment_duration_days", "INT", None),
        ("status", "ENUM('DRAFT','PENDING_REVIEW','APPROVED','REJECTED','IMPLEMENTED')", "'DRAFT'"),
        ("approved_by", "VARCHAR(50)", None),
        ("approved_at", "DATETIME", None),
        ("rejection_reason", "TEXT", None),
        ("implemented_at", "DATETIME", None),
        ("implementation_results", "JSON", None),
        ("created_at", "DATETIME", CT),
        ("updated_at", "DATETIME", CT),
    ],
}
# The DDL's unique key of the metrics table.
UNIQUE_PERIOD = ("org_id", "period_date", "period_type")

# How MariaDB's information_schema spells the DDL's types.
MARIADB_TYPES = {
    "BIGINT": "bigint(20)",
    "INT": "int(11)",
    "DATE": "date",
    "DATETIME": "datetime",
    "TEXT": "text",
    "JSON": "longtext",
}
# How SQLite (through SQLAlchemy's inspector) declares them; ENUMs are CHECKed VARCHARs.
SQLITE_TYPES = {
    "BIGINT": "INTEGER",
    "INT": "INTEGER",
    "DATE": "DATE",
    "DATETIME": "DATETIME",
    "TEXT": "TEXT",
    "JSON": "JSON",
}
VARCHAR = re.compile(r"varchar\((\d+)\)", re.IGNORECASE)


def _enum_values(ddl: str) -> list[str]:
    return re.findall(r"'([^']*)'", ddl)


def _expected_type(ddl: str, backend: str, column: str) -> str:
    """The type the backend reports for a DDL type (VARCHAR handled apart: at least as long).

    SQLite keys are INTEGER so they autoincrement; other BIGINTs stay BIGINT there."""
    if backend == "sqlite" and ddl == "BIGINT" and column != "id":
        return "BIGINT"
    if ddl.startswith("ENUM("):
        values = _enum_values(ddl)
        if backend == "sqlite":
            return f"VARCHAR({max(len(v) for v in values)})"
        return "enum(" + ",".join(f"'{v}'" for v in values) + ")"
    if ddl.startswith("DECIMAL("):
        precision, scale = ddl[8:-1].split(",")
        return f"NUMERIC({precision}, {scale})" if backend == "sqlite" else ddl.lower()
    return (SQLITE_TYPES if backend == "sqlite" else MARIADB_TYPES)[ddl]


def _default_matches(got: Any, ddl_default: str | None) -> bool:
    text_ = None if got is None else str(got).strip("()").strip("'").lower()
    if text_ in (None, "null"):
        return ddl_default is None
    if ddl_default is None:
        return False
    want = ddl_default.strip("'").lower()
    if want == "current_timestamp":
        return text_.startswith("current_timestamp")
    try:
        return float(text_) == float(want)
    except ValueError:
        return text_ == want


def _columns(engine: Engine, backend: str) -> dict[tuple[str, str], tuple[str, Any]]:
    if backend == "sqlite":
        insp = inspect(engine)
        return {
            (t, c["name"]): (str(c["type"]), c.get("default"))
            for t in INTERFACE
            for c in insp.get_columns(t)
        }
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, column_name, column_type, column_default "
                "FROM information_schema.columns WHERE table_schema = DATABASE()"
            )
        ).all()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows if r[0] in INTERFACE}


def test_every_interface_column_has_its_name_type_enum_values_and_default(
    empty_db_url: str,
) -> None:
    cli_upgrade(empty_db_url)
    cli_upgrade(empty_db_url)  # twice is a no-op
    backend = "sqlite" if make_url(empty_db_url).get_backend_name() == "sqlite" else "mariadb"
    got = with_engine(empty_db_url, lambda e: _columns(e, backend))
    problems = []
    for table, columns in INTERFACE.items():
        for name, ddl, default in columns:
            if (table, name) not in got:
                problems.append(f"{table}.{name}: missing")
                continue
            actual, actual_default = got[(table, name)]
            if ddl.startswith("VARCHAR("):
                match = VARCHAR.fullmatch(actual)
                if not match or int(match[1]) < int(ddl[8:-1]):
                    problems.append(f"{table}.{name}: {actual}, want at least {ddl}")
            elif actual != _expected_type(ddl, backend, name):
                problems.append(
                    f"{table}.{name}: {actual}, want {_expected_type(ddl, backend, name)}"
                )
            if not _default_matches(actual_default, default):
                problems.append(f"{table}.{name}: default {actual_default!r}, want {default!r}")
    assert problems == []


@pytest.mark.mariadb
def test_enum_values_are_the_interfaces_in_its_order(fresh_mariadb_url: str) -> None:
    cli_upgrade(fresh_mariadb_url)
    got = with_engine(fresh_mariadb_url, lambda e: _columns(e, "mariadb"))
    for table, columns in INTERFACE.items():
        for name, ddl, _default in columns:
            if ddl.startswith("ENUM("):
                assert _enum_values(got[(table, name)][0]) == _enum_values(ddl), (table, name)


def test_metrics_table_is_unique_per_org_period_and_type(empty_db_url: str) -> None:
    cli_upgrade(empty_db_url)

    def uniques(engine: Engine) -> list[tuple[str, ...]]:
        insp = inspect(engine)
        found = [
            tuple(u["column_names"])
            for u in insp.get_unique_constraints("channel_performance_metrics")
        ]
        found += [
            tuple(i["column_names"])
            for i in insp.get_indexes("channel_performance_metrics")
            if i["unique"]
        ]
        return found

    assert UNIQUE_PERIOD in with_engine(empty_db_url, uniques)
