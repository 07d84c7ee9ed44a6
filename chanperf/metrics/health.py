"""Account health: the accounts' health scores, a level at the end of each local day.

The source keeps only each account's current `health_score` (channel_accounts). The
level at the end of a day is the sum and the count of the scores of the accounts
created before that day ended, as the scores are when the day is collected: the
daily collect stores the scores of its day, and the next day starts from the stored
row (as the state distribution does); a backfill writes today's scores into past days.
Sums travel as integer tenths (scores are DECIMAL(5,1)) so periods add up exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select

from chanperf.core.periods import DayRun
from chanperf.metrics.common import CUT_KEYS, Span, ints, on_time_index, run_by_day
from chanperf.models.source import ChannelAccount

HEALTH_MEASURES = ("health_score_e1", "health_scored_accounts")
SCALE = {"health_score_e1": 10}


def collect_health_created(conn: Connection, span: Span) -> pd.DataFrame:
    """Scores of the accounts created in each local day of the span.

    Columns: day, region, segment, health_score_e1 (sum in tenths), health_scored_accounts.
    """
    a = ChannelAccount.__table__

    def created(bucket: Any, run: DayRun) -> Any:
        day = bucket(a.c.created_at).label("day")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                func.sum(a.c.health_score).label("health_score_e1"),
                func.count(a.c.health_score).label("health_scored_accounts"),
            )
            .where(
                a.c.org_id == span.org_id,
                a.c.created_at >= run.start,
                a.c.created_at < run.end,
            )
            .group_by(day, a.c.region, a.c.segment)
        )
        return on_time_index(query, a, a.c.created_at)

    frame = run_by_day(conn, span, created, ["day", *CUT_KEYS, *HEALTH_MEASURES])
    return ints(frame, HEALTH_MEASURES, SCALE)


def collect_health_before(conn: Connection, org_id: int, before: datetime) -> pd.DataFrame:
    """Scores of the accounts created before `before` (naive UTC), per region and segment.

    Columns: region, segment, health_score_e1, health_scored_accounts.
    """
    a = ChannelAccount.__table__
    query = (
        select(
            a.c.region,
            a.c.segment,
            func.sum(a.c.health_score),
            func.count(a.c.health_score),
        )
        .where(a.c.org_id == org_id, a.c.created_at < before)
        .group_by(a.c.region, a.c.segment)
    )
    frame = pd.DataFrame(
        [list(row) for row in conn.execute(query)], columns=[*CUT_KEYS, *HEALTH_MEASURES]
    )
    return ints(frame, HEALTH_MEASURES, SCALE)
