"""The contract's indexes on the live source database, and reads told to use them.

The source contract (docs/source-data.md) guarantees an (org_id, time) index on every
table with a time column, under whatever name the live database gives it. MariaDB 10.11
often answers `org_id = :org AND time >= :a AND time < :b` with `ref` on the org_id
prefix of that index, or through the (org_id, account_id) index, and so walks the whole
history of the org instead of the range asked; and which one it picks flips with fresh
statistics. `by_time` pins the range scan with FORCE INDEX. SQLite ignores the hint.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.sql import ColumnElement, Select

from chanperf.models.source import SOURCE_TABLES

SOURCE_TABLE_NAMES = tuple(str(m.__tablename__) for m in SOURCE_TABLES)

# Index names of the live source database, per database URL: a separate source
# database may name the contract's (org_id, time) indexes differently from the ORM.
_LIVE_INDEXES: dict[str, dict[tuple[str, tuple[str, ...]], str]] = {}


def live_time_indexes(conn: Connection) -> dict[tuple[str, tuple[str, ...]], str]:
    """(table, columns) -> index name on the database `conn` talks to (reflected once)."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return {}
    key = conn.engine.url.render_as_string(hide_password=True)
    if key not in _LIVE_INDEXES:
        inspector = inspect(conn)
        found: dict[tuple[str, tuple[str, ...]], str] = {}
        for table in SOURCE_TABLE_NAMES:
            for index in inspector.get_indexes(table):
                columns = tuple(str(c) for c in index["column_names"])
                if index.get("name"):
                    found[(table, columns)] = str(index["name"])
        _LIVE_INDEXES[key] = found
    return _LIVE_INDEXES[key]


def hinted(query: Select[Any], table: Any, hint: str) -> Select[Any]:
    """`query` with an index hint on `table` for MariaDB/MySQL."""
    return query.with_hint(table, hint, "mysql").with_hint(table, hint, "mariadb")


def by_time(
    conn: Connection, query: Select[Any], table: Any, time_col: ColumnElement[Any]
) -> Select[Any]:
    """`query` told to read `table` through its (org_id, `time_col`) index on MariaDB/MySQL
    (unchanged on SQLite, or when the live database has no such index)."""
    name = live_time_indexes(conn).get((str(table.name), ("org_id", str(time_col.key))))
    if name is None:
        return query
    return hinted(query, table, f"FORCE INDEX (`{name}`)")


__all__ = ["by_time", "hinted", "live_time_indexes"]
