"""The one way a status moves: a compare-and-set UPDATE whose row count decides.

`UPDATE t SET ... WHERE id = ? AND org_id = ? AND <guards>` moves the row only if it is
still where the caller saw it; of two clients racing, one moves it and the other moves
nothing. The row is then read back as the winner left it, to say what happened. No read
comes before the write: on SQLite a read would take a lock the other writer waits on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, select, update
from sqlalchemy.orm import Session

Row = TypeVar("Row")


def compare_and_set(
    session: Session,
    model: type[Row],
    row_id: int,
    org_id: int,
    guards: Sequence[ColumnElement[bool]],
    values: Mapping[str, Any],
) -> tuple[bool, Row | None]:
    """(whether this call moved the row, the row as it is now; None when it does not exist)."""
    t: Any = model
    result = session.execute(
        update(t)
        .where(t.id == row_id, t.org_id == org_id, *guards)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    moved = cast(CursorResult[Any], result).rowcount > 0
    row = session.scalars(
        select(t)
        .where(t.id == row_id, t.org_id == org_id)
        .execution_options(populate_existing=True)
    ).first()
    return moved, row
