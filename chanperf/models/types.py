"""Column types that behave the same on SQLite and MariaDB (both drop offsets and differ on enums)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric, Text, TypeDecorator
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.mutable import MutableDict

# BIGINT keys must be INTEGER on SQLite to autoincrement.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Money = Numeric(15, 2)
Pct = Numeric(5, 2)
Rate = Numeric(6, 4)
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# In-place edits of a JSON dict are only saved through MutableDict.
JsonDict = MutableDict.as_mutable(JSON())


class UtcDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database; aware datetimes are converted, naive ones taken as UTC.

    `DateTime(timezone=True)` silently drops offsets on both engines, so we never
    store an offset and always hand back naive UTC values.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return value


def enum_column(enum: type[StrEnum], name: str) -> SAEnum:
    """Native ENUM on MySQL (as sql/schema.sql), VARCHAR + CHECK elsewhere; stores the values."""
    return SAEnum(
        enum,
        name=name,
        native_enum=True,
        create_constraint=True,
        validate_strings=True,
        length=max(len(m.value) for m in enum),
        values_callable=lambda e: [m.value for m in e],
    )
