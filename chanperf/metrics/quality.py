"""Quality measures by local day, region and segment: NPS, complaints, policy exceptions.

- nps_responses / nps_promoters (9-10) / nps_detractors (0-6): NPS answers created
  in the day with a score; nps_score = 100 * (promoters - detractors) / responses.
- complaints_count: COMPLAINT feedback created in the day.
- exceptions_count / exceptions_granted: exceptions requested in the day, and
  those of them whose decision is GRANTED (the table has no decision time, so a
  grant counts on its request day). Exceptions without an account count in
  totals only (NULL region/segment).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, func, select

from chanperf.core.enums import ExceptionDecision, FeedbackKind
from chanperf.core.periods import DayRun
from chanperf.metrics.common import Span, flag, ints, on_time_index, run_by_day
from chanperf.models.source import ChannelAccount, ChannelFeedback, ChannelPolicyException

FEEDBACK_MEASURES = ("nps_responses", "nps_promoters", "nps_detractors", "complaints_count")
EXCEPTION_MEASURES = ("exceptions_count", "exceptions_granted")
QUALITY_MEASURES = FEEDBACK_MEASURES + EXCEPTION_MEASURES
QUALITY_KEYS = ("day", "region", "segment")
# The NPS definition itself (docs/source-data.md), not a tunable threshold.
PROMOTER_MIN, DETRACTOR_MAX = 9, 6


def collect_quality_metrics(conn: Connection, span: Span) -> pd.DataFrame:
    """One row per (day, region, segment) with QUALITY_MEASURES (int64)."""
    f = ChannelFeedback.__table__
    e = ChannelPolicyException.__table__
    a = ChannelAccount.__table__

    def feedback(bucket: Any, run: DayRun) -> Any:
        nps = and_(f.c.kind == FeedbackKind.NPS.value, f.c.score.is_not(None))
        day = bucket(f.c.created_at).label("day")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                flag(nps).label("nps_responses"),
                flag(and_(nps, f.c.score >= PROMOTER_MIN)).label("nps_promoters"),
                flag(and_(nps, f.c.score <= DETRACTOR_MAX)).label("nps_detractors"),
                flag(f.c.kind == FeedbackKind.COMPLAINT.value).label("complaints_count"),
            )
            .select_from(
                f.outerjoin(a, and_(a.c.account_id == f.c.account_id, a.c.org_id == f.c.org_id))
            )
            .where(f.c.org_id == span.org_id, f.c.created_at >= run.start, f.c.created_at < run.end)
            .group_by(day, a.c.region, a.c.segment)
        )
        return on_time_index(query, f, f.c.created_at)

    def exceptions(bucket: Any, run: DayRun) -> Any:
        day = bucket(e.c.requested_at).label("day")
        query = (
            select(
                day,
                a.c.region,
                a.c.segment,
                func.count().label("exceptions_count"),
                flag(e.c.decision == ExceptionDecision.GRANTED.value).label("exceptions_granted"),
            )
            .select_from(
                e.outerjoin(a, and_(a.c.account_id == e.c.account_id, a.c.org_id == e.c.org_id))
            )
            .where(
                e.c.org_id == span.org_id, e.c.requested_at >= run.start, e.c.requested_at < run.end
            )
            .group_by(day, a.c.region, a.c.segment)
        )
        return on_time_index(query, e, e.c.requested_at)

    keys = list(QUALITY_KEYS)
    first = ints(run_by_day(conn, span, feedback, [*keys, *FEEDBACK_MEASURES]), FEEDBACK_MEASURES)
    second = ints(
        run_by_day(conn, span, exceptions, [*keys, *EXCEPTION_MEASURES]), EXCEPTION_MEASURES
    )
    return ints(first.merge(second, on=keys, how="outer"), QUALITY_MEASURES)
