"""Source rows as DataFrames: a Core select's rows, DECIMAL columns as floats, timestamps."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.sql import Select


def frame(conn: Connection, stmt: Select[Any]) -> pd.DataFrame:
    """Rows of a Core select as a DataFrame with the select's column labels."""
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def floats(series: pd.Series) -> pd.Series:
    """DECIMAL columns come back as Decimal on MariaDB and float on SQLite."""
    return pd.Series(
        [float(v) if v is not None else math.nan for v in series], index=series.index, dtype=float
    )


def times(series: pd.Series) -> pd.Series:
    """Naive UTC datetimes (strings on some SQLite paths) as datetime64."""
    return (
        pd.to_datetime(series, format="mixed") if len(series) else series.astype("datetime64[ns]")
    )
