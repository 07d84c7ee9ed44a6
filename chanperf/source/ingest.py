"""Load CSV/Parquet files into the source tables, validating every row against the contract.

A file is all-or-nothing: every row is checked first (types, lengths, codes,
cross-field rules, accounts that exist), every problem is reported as
`FILE:LINE: column: problem` (up to MAX_PROBLEMS), and only a clean file is
inserted, in one transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, Numeric, String, Table, select

from chanperf.core.database import make_engine
from chanperf.core.enums import (
    AccountState,
    ExceptionDecision,
    FeedbackKind,
    OnboardingStatus,
    ReactivationStatus,
)
from chanperf.core.errors import Problem, ValidationError
from chanperf.core.settings import Settings
from chanperf.models.source import SOURCE_TABLES, ChannelAccount
from chanperf.models.types import UtcDateTime

try:  # optional: `pip install 'chanperf[parquet]'`
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - the message below is the point
    pq = None

MAX_PROBLEMS = 50
CHUNK = 5000

TABLES: dict[str, Table] = {
    t.name: t for t in (m.__table__ for m in SOURCE_TABLES) if isinstance(t, Table)
}

# Codes that the contract fixes, per table and column.
CODES: dict[tuple[str, str], frozenset[str]] = {
    ("channel_accounts", "state"): frozenset(AccountState),
    ("channel_state_transitions", "from_state"): frozenset(AccountState),
    ("channel_state_transitions", "to_state"): frozenset(AccountState),
    ("channel_onboardings", "status"): frozenset(OnboardingStatus),
    ("channel_reactivations", "status"): frozenset(ReactivationStatus),
    ("channel_policy_exceptions", "decision"): frozenset(ExceptionDecision),
    ("channel_feedback", "kind"): frozenset(FeedbackKind),
}

Row = dict[str, Any]
RowCheck = Callable[[Row], list[tuple[str, str]]]


def _set_iff(column: str, status_column: str, statuses: set[str]) -> RowCheck:
    def check(row: Row) -> list[tuple[str, str]]:
        has = row.get(column) is not None
        should = row.get(status_column) in statuses
        if has and not should:
            return [
                (column, f"must be empty unless {status_column} is {'/'.join(sorted(statuses))}")
            ]
        if should and not has:
            return [(column, f"required when {status_column} is {row.get(status_column)}")]
        return []

    return check


def _not_before(column: str, start_column: str) -> RowCheck:
    def check(row: Row) -> list[tuple[str, str]]:
        end, start = row.get(column), row.get(start_column)
        if end is not None and start is not None and end < start:
            return [(column, f"is before {start_column}")]
        return []

    return check


def _range(column: str, low: float, high: float) -> RowCheck:
    def check(row: Row) -> list[tuple[str, str]]:
        value = row.get(column)
        if value is not None and not low <= value <= high:
            return [(column, f"must be between {low:g} and {high:g}, got {value}")]
        return []

    return check


def _feedback_score(row: Row) -> list[tuple[str, str]]:
    if row.get("kind") == FeedbackKind.NPS and row.get("score") is None:
        return [("score", "required for NPS answers")]
    if row.get("kind") == FeedbackKind.COMPLAINT and row.get("score") is not None:
        return [("score", "must be empty for complaints")]
    return []


ROW_CHECKS: dict[str, list[RowCheck]] = {
    "channel_accounts": [_range("health_score", 0, 100)],
    "channel_onboardings": [
        _set_iff("completed_at", "status", {OnboardingStatus.COMPLETED}),
        _set_iff("failed_at", "status", {OnboardingStatus.FAILED}),
        _not_before("completed_at", "started_at"),
        _not_before("failed_at", "started_at"),
    ],
    "channel_reactivations": [
        _set_iff("resolved_at", "status", {ReactivationStatus.WON, ReactivationStatus.LOST}),
        _not_before("resolved_at", "started_at"),
        _range("discount_pct", 0, 100),
        _range("cost", 0, float("inf")),
    ],
    "channel_orders": [_range("quantity", 1, float("inf")), _range("discount_pct", 0, 100)],
    "channel_feedback": [_feedback_score, _range("score", 0, 10)],
}


@dataclass(frozen=True)
class _Parsed:
    line: int
    row: Row


def _parse_value(column: Column[Any], raw: str) -> Any:
    """Turn one text cell into the column's Python value, or raise ValueError with the reason."""
    ctype = column.type
    if isinstance(ctype, UtcDateTime):
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"not a date-time (YYYY-MM-DD HH:MM:SS, UTC): {raw!r}") from None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(ctype, Numeric):
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"not a number: {raw!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a finite number: {raw!r}")
        precision, scale = ctype.precision or 15, ctype.scale or 0
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > scale:
            raise ValueError(f"more than {scale} decimal places: {raw!r}")
        if abs(number) >= Decimal(10) ** (precision - scale):
            raise ValueError(f"too large for DECIMAL({precision},{scale}): {raw!r}")
        return number
    if isinstance(ctype, Integer) or column.type.python_type is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"not an integer: {raw!r}") from None
    if isinstance(ctype, String) and ctype.length and len(raw) > ctype.length:
        raise ValueError(f"longer than {ctype.length} characters")
    return raw


def _read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    handle = path.open(newline="", encoding="utf-8-sig")
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise ValidationError([Problem(str(path), "empty file: no header row", line=1)]) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        with handle:
            for cells in reader:
                if cells:
                    yield reader.line_num, cells

    return [h.strip() for h in header], rows()


def _read_parquet(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    if pq is None:
        raise ValidationError(
            [Problem(str(path), "Parquet needs pyarrow: pip install 'chanperf[parquet]'")]
        ) from None
    table = pq.read_table(path)
    header = list(table.column_names)

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        return str(value)

    def rows() -> Iterator[tuple[int, list[str]]]:
        # "Line" of a Parquet row: its 1-based row number plus the header, as in the CSV.
        for index, record in enumerate(table.to_pylist(), start=2):
            yield index, [cell(record[name]) for name in header]

    return header, rows()


def validate_file(path: Path, table: Table, default_org_id: int) -> list[_Parsed]:
    """Parse and check every row; raise one ValidationError listing the problems."""
    name = str(path)
    if not path.is_file():
        raise ValidationError([Problem(name, "no such file")])
    reader = _read_parquet if path.suffix.lower() in (".parquet", ".pq") else _read_csv
    header, rows = reader(path)
    problems: list[Problem] = []
    columns = {c.name: c for c in table.columns}
    for col in header:
        if col not in columns:
            problems.append(Problem(name, "unknown column", line=1, field=col or "(empty)"))
    if len(set(header)) != len(header):
        problems.append(Problem(name, "a column appears twice in the header", line=1))
    required = [
        c.name
        for c in table.columns
        if not c.nullable
        and c.server_default is None
        and not (c.primary_key and c.autoincrement is True)
    ]
    for col in required:
        if col not in header:
            problems.append(Problem(name, "missing column", line=1, field=col))
    if problems:
        raise ValidationError(problems, summary=f"{name}: refused, nothing written")

    parsed: list[_Parsed] = []
    extra = 0
    for line, cells in rows:
        row_problems: list[Problem] = []
        if len(cells) != len(header):
            row_problems.append(
                Problem(name, f"{len(cells)} cells, header has {len(header)}", line=line)
            )
        row: Row = {}
        for col, raw in zip(header, cells, strict=False):
            column = columns[col]
            raw = raw.strip()
            if raw == "":
                if column.server_default is not None:
                    continue  # the column's default applies
                if not column.nullable:
                    row_problems.append(
                        Problem(name, "required, found empty", line=line, field=col)
                    )
                row[col] = None
                continue
            try:
                value = _parse_value(column, raw)
            except ValueError as exc:
                row_problems.append(Problem(name, str(exc), line=line, field=col))
                continue
            allowed = CODES.get((table.name, col))
            if allowed is not None and value not in allowed:
                row_problems.append(
                    Problem(
                        name,
                        f"unknown value {value!r} (one of {', '.join(sorted(allowed))})",
                        line=line,
                        field=col,
                    )
                )
                continue
            row[col] = value
        if not row_problems:
            row.setdefault("org_id", default_org_id)
            for check in ROW_CHECKS.get(table.name, []):
                row_problems.extend(Problem(name, msg, line=line, field=f) for f, msg in check(row))
        if row_problems:
            if len(problems) < MAX_PROBLEMS:
                problems.extend(row_problems[: MAX_PROBLEMS - len(problems)])
            else:
                extra += len(row_problems)
            continue
        parsed.append(_Parsed(line, row))
    if extra:
        problems.append(Problem(name, f"... and {extra} more problem(s) not shown"))
    if problems:
        raise ValidationError(problems, summary=f"{name}: refused, nothing written")
    return parsed


def _check_against_database(
    conn: Any, path: Path, table: Table, rows: list[_Parsed]
) -> list[Problem]:
    """Keys already taken and accounts that do not exist (dangling references)."""
    problems: list[Problem] = []
    name = str(path)
    pk = next(iter(table.primary_key.columns)).name
    seen: dict[Any, int] = {}
    for item in rows:
        key = item.row.get(pk)
        if key is None:
            continue
        if key in seen:
            problems.append(
                Problem(
                    name, f"duplicate key {key} (also line {seen[key]})", line=item.line, field=pk
                )
            )
        seen[key] = item.line
    for start in range(0, len(seen), CHUNK):
        keys = list(seen)[start : start + CHUNK]
        taken = conn.execute(select(table.c[pk]).where(table.c[pk].in_(keys))).scalars()
        problems.extend(
            Problem(name, f"key {k} already exists in {table.name}", line=seen[k], field=pk)
            for k in taken
        )
    if "account_id" in table.c and table.name != ChannelAccount.__tablename__:
        wanted: dict[tuple[int, int], int] = {}
        for item in rows:
            if item.row.get("account_id") is not None:
                wanted.setdefault((item.row["org_id"], item.row["account_id"]), item.line)
        accounts = ChannelAccount.__table__
        by_org: dict[int, list[int]] = {}
        for org, acc in wanted:
            by_org.setdefault(org, []).append(acc)
        for org, ids in by_org.items():
            found: set[int] = set()
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                found.update(
                    conn.execute(
                        select(accounts.c.account_id).where(
                            accounts.c.org_id == org, accounts.c.account_id.in_(chunk)
                        )
                    ).scalars()
                )
            for acc in ids:
                if acc not in found:
                    problems.append(
                        Problem(
                            name,
                            f"account {acc} does not exist in channel_accounts (org {org})",
                            line=wanted[(org, acc)],
                            field="account_id",
                        )
                    )
    problems.sort(key=lambda p: p.line or 0)
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = [
            *problems[:MAX_PROBLEMS],
            Problem(name, f"... and {more} more problem(s) not shown"),
        ]
    return problems


def ingest_file(
    settings: Settings, table_name: str, path: Path, default_org_id: int | None = None
) -> int:
    """Validate FILE whole, then insert it into TABLE in one transaction; return the row count."""
    table = TABLES.get(table_name)
    if table is None:
        raise ValidationError(
            [
                Problem(
                    str(path),
                    f"unknown table {table_name!r} (one of {', '.join(sorted(TABLES))})",
                    field="TABLE",
                )
            ]
        )
    rows = validate_file(Path(path), table, default_org_id or 1)
    engine = make_engine(settings.source_url)
    try:
        with engine.begin() as conn:
            problems = _check_against_database(conn, Path(path), table, rows)
            if problems:
                raise ValidationError(problems, summary=f"{path}: refused, nothing written")
            # executemany needs one key set per batch; rows that rely on a default differ.
            batches: dict[frozenset[str], list[Row]] = {}
            for item in rows:
                batches.setdefault(frozenset(item.row), []).append(item.row)
            for batch in batches.values():
                for start in range(0, len(batch), CHUNK):
                    conn.execute(table.insert(), batch[start : start + CHUNK])
    finally:
        engine.dispose()
    return len(rows)
