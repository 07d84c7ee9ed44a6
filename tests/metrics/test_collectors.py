"""Collectors against a hand-built channel whose every metric is worked out below.

Time zone America/Sao_Paulo, UTC-3 in 2026 (no DST): local day D runs from
D 03:00 UTC to D+1 03:00 UTC, so 01:30 UTC on 03-01 is 22:30 on 02-28 local.
Windows: activation 10 days, reincidence 20 days, revenue attribution 90 days.
As-of 2026-03-20 12:00 UTC: onboardings started up to 03-10 12:00 are matured;
WON reactivations resolved up to 02-28 12:00 are matured.

Collected days: Fri 02-27 .. Mon 03-02, so rows for those 4 days, ISO weeks
02-23 (Mon 02-23 .. Sun 03-01) and 03-02, and months February and March.

Accounts (region, segment, created): A1 (R1, S1, 02-10), A2 (R1, S2, 2025-06-01),
A3 (R2, S1, 02-27 12:00), A4 (R2, S2, 2025-10-01). Account 99 exists only in
orders (totals only); org 2 has one of everything and must never count.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from chanperf.core.enums import Dimension, PeriodType
from chanperf.core.settings import Settings
from chanperf.metrics.collect import collect
from chanperf.metrics.common import MetricWindows
from chanperf.metrics.state import STATE_MEASURES
from chanperf.metrics.store import MEASURES, get_metrics
from chanperf.models.performance import PerformanceMetric, SegmentMetric
from chanperf.models.source import (
    ChannelAccount,
    ChannelFeedback,
    ChannelOnboarding,
    ChannelOrder,
    ChannelPolicyException,
    ChannelReactivation,
    ChannelStateTransition,
)

WINDOWS = MetricWindows(activation_window_days=10, reincidence_window_days=20)
AS_OF = datetime(2026, 3, 20, 12)
D = Decimal
T = datetime


def _acc(
    i: int,
    region: str,
    segment: str,
    created: datetime,
    state: str,
    org: int = 1,
    health: str | None = None,
) -> dict[str, Any]:
    return dict(
        account_id=i, org_id=org, region=region, segment=segment, created_at=created, state=state,
        health_score=None if health is None else D(health),
    )  # fmt: skip


def _tr(acc: int, frm: str | None, to: str, at: datetime, org: int = 1) -> dict[str, Any]:
    return dict(org_id=org, account_id=acc, from_state=frm, to_state=to, transitioned_at=at)


def _onb(
    acc: int, kit: str, start: datetime, status: str, done: datetime | None = None, org: int = 1
) -> dict[str, Any]:
    return dict(
        org_id=org, account_id=acc, kit=kit, started_at=start, status=status,
        completed_at=done if status == "COMPLETED" else None,
        failed_at=done if status == "FAILED" else None,
    )  # fmt: skip


def _rea(acc: int, strategy: str, cost: str, start: datetime, status: str, resolved: datetime | None = None, org: int = 1) -> dict[str, Any]:  # fmt: skip
    return dict(
        org_id=org, account_id=acc, strategy=strategy, discount_pct=D("5"), cost=D(cost),
        started_at=start, status=status, resolved_at=resolved,
    )  # fmt: skip


def _ord(
    acc: int, at: datetime, revenue: str, cost: str, disc: str = "0", org: int = 1
) -> dict[str, Any]:
    return dict(
        org_id=org, account_id=acc, ordered_at=at, sku="SKU1", quantity=1,
        revenue=D(revenue), cost=D(cost), discount_pct=D(disc),
    )  # fmt: skip


def load_fixture(engine: Engine) -> None:
    rows: dict[Any, list[dict[str, Any]]] = {
        ChannelAccount: [
            _acc(1, "R1", "S1", T(2026, 2, 10, 10), "ACTIVE", health="80.0"),
            _acc(2, "R1", "S2", T(2025, 6, 1, 12), "STALLED", health="40.5"),
            _acc(3, "R2", "S1", T(2026, 2, 27, 12), "NEW"),  # no score yet
            _acc(4, "R2", "S2", T(2025, 10, 1, 12), "CHURNED", health="20.0"),
            _acc(50, "R1", "S1", T(2026, 2, 27, 12), "NEW", org=2, health="99.0"),
        ],
        ChannelStateTransition: [
            _tr(1, None, "NEW", T(2026, 2, 10, 10)),
            _tr(1, "NEW", "ACTIVATING", T(2026, 2, 10, 11)),
            _tr(1, "ACTIVATING", "ACTIVE", T(2026, 3, 1, 1, 30)),  # local 02-28 22:30
            _tr(2, None, "NEW", T(2025, 6, 1, 12)),
            _tr(2, "NEW", "ACTIVE", T(2025, 6, 10, 12)),
            _tr(2, "ACTIVE", "STALLED", T(2026, 2, 28, 2, 30)),  # local 02-27 23:30
            _tr(3, None, "NEW", T(2026, 2, 27, 12)),
            _tr(4, None, "ACTIVE", T(2025, 10, 1, 12)),
            _tr(4, "ACTIVE", "STALLED", T(2026, 2, 1, 12)),
            _tr(4, "STALLED", "ACTIVE", T(2026, 2, 27, 15)),  # won back (RA1)
            _tr(4, "ACTIVE", "CHURNED", T(2026, 3, 2, 2)),  # local 03-01 23:00: relapse of RA1
            _tr(50, None, "NEW", T(2026, 2, 27, 12), org=2),
        ],
        ChannelOnboarding: [
            _onb(1, "K1", T(2026, 2, 27, 4), "COMPLETED", T(2026, 3, 1, 16)),  # O1: 2.5 days
            _onb(3, "K2", T(2026, 2, 28, 1), "COMPLETED", T(2026, 3, 12, 1)),  # O2: local 02-27; 12 days
            _onb(2, "K1", T(2026, 3, 1, 2), "FAILED", T(2026, 3, 5)),  # O3: local 02-28
            _onb(4, "K2", T(2026, 3, 2, 12), "IN_PROGRESS"),  # O4
            _onb(1, "K1", T(2026, 3, 15, 12), "COMPLETED", T(2026, 3, 16, 12)),  # O5: censored
            _onb(3, "K2", T(2026, 3, 2, 10), "COMPLETED", T(2026, 3, 21)),  # O7: done after as-of
            _onb(50, "K1", T(2026, 2, 27, 12), "COMPLETED", T(2026, 2, 28), org=2),
        ],
        ChannelReactivation: [
            _rea(4, "ST1", "100.00", T(2026, 2, 20, 12), "WON", T(2026, 2, 27, 15)),  # RA1
            _rea(2, "ST2", "50.00", T(2026, 2, 28, 2), "LOST", T(2026, 3, 1, 2, 30)),  # RA2
            _rea(2, "ST1", "30.50", T(2026, 3, 1, 12), "WON", T(2026, 3, 2, 12)),  # RA3: censored
            _rea(1, "ST2", "20.00", T(2026, 3, 2, 10), "PENDING"),  # RA4
            _rea(50, "ST1", "9.00", T(2026, 2, 27, 12), "WON", T(2026, 2, 27, 13), org=2),
        ],
        ChannelOrder: [
            _ord(1, T(2026, 3, 1, 1, 30), "100.00", "60.00", "5"),  # OR1: local 02-28, new
            _ord(2, T(2026, 2, 27, 10), "200.00", "150.00"),  # OR2
            _ord(4, T(2026, 2, 27, 14), "50.00", "20.00", "10"),  # OR3: before RA1 resolved
            _ord(4, T(2026, 2, 27, 16), "80.00", "40.00", "10"),  # OR4: reactivated
            _ord(2, T(2026, 3, 2, 13), "40.00", "30.00", "2.5"),  # OR5: reactivated (RA3)
            _ord(3, T(2026, 3, 2, 2, 59, 59), "30.00", "33.00"),  # OR6: local 03-01 23:59:59, new
            _ord(3, T(2026, 3, 2, 3), "10.00", "5.00"),  # OR7: local 03-02 00:00, new
            _ord(99, T(2026, 2, 28, 12), "5.00", "1.00"),  # OR9: unknown account
            _ord(50, T(2026, 2, 27, 12), "999.00", "1.00", org=2),
        ],
        ChannelFeedback: [
            dict(org_id=1, account_id=1, kind="NPS", score=10, created_at=T(2026, 2, 27, 12)),
            dict(org_id=1, account_id=2, kind="NPS", score=6, created_at=T(2026, 2, 28, 2)),
            dict(org_id=1, account_id=3, kind="NPS", score=3, created_at=T(2026, 2, 28, 12)),
            dict(org_id=1, account_id=4, kind="COMPLAINT", score=None, created_at=T(2026, 3, 2, 1)),
            dict(org_id=1, account_id=4, kind="NPS", score=9, created_at=T(2026, 3, 2, 12)),
            dict(org_id=1, account_id=2, kind="NPS", score=7, created_at=T(2026, 3, 2, 12, 30)),
            dict(org_id=2, account_id=50, kind="NPS", score=0, created_at=T(2026, 2, 27, 12)),
        ],
        ChannelPolicyException: [
            dict(org_id=1, account_id=1, policy_key="p.k", decision="GRANTED", requested_at=T(2026, 2, 27, 20)),
            dict(org_id=1, account_id=None, policy_key="p.k", decision="DENIED", requested_at=T(2026, 2, 28, 2, 59)),
            dict(org_id=1, account_id=2, policy_key="p.k", decision="GRANTED", requested_at=T(2026, 3, 1, 3)),
            dict(org_id=1, account_id=3, policy_key="p.k", decision="PENDING", requested_at=T(2026, 3, 2, 15)),
            dict(org_id=2, account_id=50, policy_key="p.k", decision="GRANTED", requested_at=T(2026, 2, 27, 20)),
        ],
    }  # fmt: skip
    with engine.begin() as conn:
        for model, values in rows.items():
            conn.execute(insert(model.__table__), values)


RATES = {
    "onboarding_rate", "avg_activation_days", "reactivation_rate", "reincidence_rate",
    "avg_margin", "nps_score", "avg_discount_pct", "avg_reactivation_cost", "avg_health_score",
}  # fmt: skip


def expect(**values: Any) -> dict[str, Any]:
    """Every measure: the given values, else 0 for counts and money and None for rates."""
    out: dict[str, Any] = {m: (None if m in RATES else 0) for m in MEASURES}
    for k, v in values.items():
        assert k in out, k
        out[k] = v
    return out


# State at the end of each day (base rolled back from today's states to 02-01):
#  02-27: A1 ACTIVATING, A2 STALLED (23:30 local), A3 NEW, A4 ACTIVE (won back) -> 4
#  02-28: A1 ACTIVE (22:30 local) -> NEW 1, ACTIVE 2, STALLED 1
#  03-01: A4 CHURNED (23:00 local) -> NEW 1, ACTIVE 1, STALLED 1, CHURNED 1 (and after)
# Health (current scores of the accounts created by the end of the day): from 02-27 on,
# A1 80.0 + A2 40.5 + A4 20.0 (A3 has none) = 140.5 over 3 = 46.83 -> 46.8.
HEALTH = dict(health_score_sum=D("140.5"), health_scored_accounts=3, avg_health_score=D("46.8"))
S_0227 = dict(
    total_accounts=4, accounts_new=1, accounts_activating=1, accounts_active=1, accounts_stalled=1,
    **HEALTH,
)  # fmt: skip
S_0228 = dict(total_accounts=4, accounts_new=1, accounts_active=2, accounts_stalled=1, **HEALTH)
S_0301 = dict(
    total_accounts=4, accounts_new=1, accounts_active=1, accounts_stalled=1, accounts_churned=1,
    **HEALTH,
)  # fmt: skip

EXPECTED_TOTALS = {
    ("DAILY", date(2026, 2, 27)): expect(
        **S_0227,
        # O1 (2.5 d, in window) and O2 (12 d, late): both matured; 14.5 d / 2 = 7.25; 1/2
        onboarding_started=2, onboarding_completed=2, onboarding_matured=2,
        onboarding_activated_in_window=1, onboarding_rate=D("50.00"),
        activation_days_sum=D("14.5000"), avg_activation_days=D("7.3"),
        # RA2 started 23:00 local (50.00); RA1 WON here, matured, relapsed 03-01: 1/1, 1/1
        reactivation_attempts=1, reactivation_cost=D("50.00"), reactivation_won=1,
        reactivation_resolved=1, reactivation_matured=1, reincidences=1,
        reactivation_rate=D("100.00"), reincidence_rate=D("100.00"),
        avg_reactivation_cost=D("50.00"),
        # A4 back to ACTIVE, A2 to STALLED (23:30 local)
        transitions_to_active=1, transitions_to_stalled=1,
        # OR2 200/150/0, OR3 50/20/10, OR4 80/40/10 (after RA1's win): 330, 210, 120/330
        orders_count=3, total_revenue=D("330.00"), cost_total=D("210.00"),
        revenue_from_reactivated=D("80.00"), avg_margin=D("36.36"), avg_discount_pct=D("6.67"),
        # 10 (promoter) and 6 (detractor, 23:00 local): (1-1)/2; E1 granted, E2 denied
        nps_responses=2, nps_promoters=1, nps_detractors=1, nps_score=D("0.0"),
        exceptions_count=2, exceptions_granted=1,
    ),
    ("DAILY", date(2026, 2, 28)): expect(
        **S_0228,
        # O3 (23:00 local) failed, matured: 0/1
        onboarding_started=1, onboarding_failed=1, onboarding_matured=1,
        onboarding_rate=D("0.00"),
        # RA2 LOST at 23:30 local: 0/1, nothing matured
        reactivation_lost=1, reactivation_resolved=1, reactivation_rate=D("0.00"),
        transitions_to_active=1,  # A1 at 22:30 local
        # OR1 100/60/5 (new, 22:30 local) + OR9 5/1/0: 105, 61, 44/105 = 0.41904
        orders_count=2, total_revenue=D("105.00"), cost_total=D("61.00"),
        revenue_from_new=D("100.00"), avg_margin=D("41.90"), avg_discount_pct=D("2.50"),
        # score 3: -100
        nps_responses=1, nps_detractors=1, nps_score=D("-100.0"),
    ),
    ("DAILY", date(2026, 3, 1)): expect(
        **S_0301,
        reactivation_attempts=1, reactivation_cost=D("30.50"),  # RA3
        avg_reactivation_cost=D("30.50"),
        transitions_to_churn=1,  # A4 at 23:00 local
        # OR6 30/33 (23:59:59 local, new): -3/30
        orders_count=1, total_revenue=D("30.00"), cost_total=D("33.00"),
        revenue_from_new=D("30.00"), avg_margin=D("-10.00"), avg_discount_pct=D("0.00"),
        complaints_count=1, exceptions_count=1, exceptions_granted=1,  # 22:00 / 00:00 local
    ),
    ("DAILY", date(2026, 3, 2)): expect(
        **S_0301,
        # O4 in progress, O7 completes after the as-of: both matured, neither activated
        onboarding_started=2, onboarding_matured=2, onboarding_rate=D("0.00"),
        # RA4 started (20.00); RA3 WON but censored (resolved 03-02 + 20 d > as-of)
        reactivation_attempts=1, reactivation_cost=D("20.00"), reactivation_won=1,
        reactivation_resolved=1, reactivation_rate=D("100.00"), avg_reactivation_cost=D("20.00"),
        # OR5 40/30/2.5 (after RA3), OR7 10/5 (00:00 local, new): 15/50
        orders_count=2, total_revenue=D("50.00"), cost_total=D("35.00"),
        revenue_from_new=D("10.00"), revenue_from_reactivated=D("40.00"),
        avg_margin=D("30.00"), avg_discount_pct=D("1.25"),
        nps_responses=2, nps_promoters=1, nps_score=D("50.0"), exceptions_count=1,
    ),
    ("WEEKLY", date(2026, 2, 23)): expect(
        **S_0301,  # ends Sunday 03-01
        # O1, O2, O3: 1/3 activated; 14.5 d over 2 completed
        onboarding_started=3, onboarding_completed=2, onboarding_failed=1,
        onboarding_matured=3, onboarding_activated_in_window=1, onboarding_rate=D("33.33"),
        activation_days_sum=D("14.5000"), avg_activation_days=D("7.3"),
        # started RA2 + RA3 = 80.50; resolved RA1 (won, relapsed) + RA2 (lost)
        reactivation_attempts=2, reactivation_cost=D("80.50"), reactivation_won=1,
        reactivation_lost=1, reactivation_resolved=2, reactivation_matured=1, reincidences=1,
        reactivation_rate=D("50.00"), reincidence_rate=D("100.00"),
        avg_reactivation_cost=D("40.25"),  # 80.50 / 2
        transitions_to_active=2, transitions_to_stalled=1, transitions_to_churn=1,
        # 330+105+30 = 465, 210+61+33 = 304, 161/465 = 0.34623; discount 25/6 = 4.1667
        orders_count=6, total_revenue=D("465.00"), cost_total=D("304.00"),
        revenue_from_new=D("130.00"), revenue_from_reactivated=D("80.00"),
        avg_margin=D("34.62"), avg_discount_pct=D("4.17"),
        nps_responses=3, nps_promoters=1, nps_detractors=2, nps_score=D("-33.3"),
        complaints_count=1, exceptions_count=3, exceptions_granted=2,
    ),
    ("WEEKLY", date(2026, 3, 2)): expect(
        **S_0301,  # nothing moves after 03-01 up to the as-of
        onboarding_started=2, onboarding_matured=2, onboarding_rate=D("0.00"),
        reactivation_attempts=1, reactivation_cost=D("20.00"), reactivation_won=1,
        reactivation_resolved=1, reactivation_rate=D("100.00"), avg_reactivation_cost=D("20.00"),
        orders_count=2, total_revenue=D("50.00"), cost_total=D("35.00"),
        revenue_from_new=D("10.00"), revenue_from_reactivated=D("40.00"),
        avg_margin=D("30.00"), avg_discount_pct=D("1.25"),
        nps_responses=2, nps_promoters=1, nps_score=D("50.0"), exceptions_count=1,
    ),
    ("MONTHLY", date(2026, 2, 1)): expect(
        **S_0228,
        onboarding_started=3, onboarding_completed=2, onboarding_failed=1,
        onboarding_matured=3, onboarding_activated_in_window=1, onboarding_rate=D("33.33"),
        activation_days_sum=D("14.5000"), avg_activation_days=D("7.3"),
        # started RA1 (02-20, 100.00) + RA2 (50.00); resolved RA1 won, RA2 lost
        reactivation_attempts=2, reactivation_cost=D("150.00"), reactivation_won=1,
        reactivation_lost=1, reactivation_resolved=2, reactivation_matured=1, reincidences=1,
        reactivation_rate=D("50.00"), reincidence_rate=D("100.00"),
        avg_reactivation_cost=D("75.00"),
        # A4 to STALLED on 02-01 and back to ACTIVE on 02-27; A2 STALLED 02-27; A1 ACTIVE 02-28
        transitions_to_active=2, transitions_to_stalled=2,
        # 330 + 105 = 435, 210 + 61 = 271, 164/435 = 0.37701; discount 25/5
        orders_count=5, total_revenue=D("435.00"), cost_total=D("271.00"),
        revenue_from_new=D("100.00"), revenue_from_reactivated=D("80.00"),
        avg_margin=D("37.70"), avg_discount_pct=D("5.00"),
        nps_responses=3, nps_promoters=1, nps_detractors=2, nps_score=D("-33.3"),
        exceptions_count=2, exceptions_granted=1,
    ),
    ("MONTHLY", date(2026, 3, 1)): expect(
        **S_0301,
        # O4, O7 matured, not activated; O5 completed in 1 day but censored (03-15 + 10 > as-of)
        onboarding_started=3, onboarding_completed=1, onboarding_matured=2,
        onboarding_rate=D("0.00"), activation_days_sum=D("1.0000"), avg_activation_days=D("1.0"),
        reactivation_attempts=2, reactivation_cost=D("50.50"), reactivation_won=1,
        reactivation_resolved=1, reactivation_rate=D("100.00"), avg_reactivation_cost=D("25.25"),
        transitions_to_churn=1,
        # OR6 + OR5 + OR7: 80, 68, 12/80; discount 2.5/3 = 0.8333
        orders_count=3, total_revenue=D("80.00"), cost_total=D("68.00"),
        revenue_from_new=D("40.00"), revenue_from_reactivated=D("40.00"),
        avg_margin=D("15.00"), avg_discount_pct=D("0.83"),
        nps_responses=2, nps_promoters=1, nps_score=D("50.0"),
        complaints_count=1, exceptions_count=2, exceptions_granted=1,
    ),
}  # fmt: skip

EXPECTED_CUTS = {
    # 02-27, R1 = A1 + A2: O1; RA2 started; OR2 200/150; NPS 10 and 6; E1
    ("DAILY", date(2026, 2, 27), "region", "R1"): expect(
        total_accounts=2, accounts_activating=1, accounts_stalled=1, transitions_to_stalled=1,
        health_score_sum=D("120.5"), health_scored_accounts=2, avg_health_score=D("60.3"),
        onboarding_started=1, onboarding_completed=1, onboarding_matured=1,
        onboarding_activated_in_window=1, onboarding_rate=D("100.00"),
        activation_days_sum=D("2.5000"), avg_activation_days=D("2.5"),
        reactivation_attempts=1, reactivation_cost=D("50.00"), avg_reactivation_cost=D("50.00"),
        orders_count=1, total_revenue=D("200.00"), cost_total=D("150.00"),
        avg_margin=D("25.00"), avg_discount_pct=D("0.00"),
        nps_responses=2, nps_promoters=1, nps_detractors=1, nps_score=D("0.0"),
        exceptions_count=1, exceptions_granted=1,
    ),
    # 02-27, R2 = A3 + A4: O2; RA1 won/relapsed; OR3 + OR4 130/60, discount 20/2
    ("DAILY", date(2026, 2, 27), "region", "R2"): expect(
        total_accounts=2, accounts_new=1, accounts_active=1, transitions_to_active=1,
        health_score_sum=D("20.0"), health_scored_accounts=1, avg_health_score=D("20.0"),
        onboarding_started=1, onboarding_completed=1, onboarding_matured=1,
        onboarding_rate=D("0.00"), activation_days_sum=D("12.0000"), avg_activation_days=D("12.0"),
        reactivation_won=1, reactivation_resolved=1, reactivation_matured=1, reincidences=1,
        reactivation_rate=D("100.00"), reincidence_rate=D("100.00"),
        orders_count=2, total_revenue=D("130.00"), cost_total=D("60.00"),
        revenue_from_reactivated=D("80.00"), avg_margin=D("53.85"), avg_discount_pct=D("10.00"),
    ),
    # February by kit: K1 = O1 + O3, K2 = O2 (onboarding measures only)
    ("MONTHLY", date(2026, 2, 1), "kit", "K1"): expect(
        onboarding_started=2, onboarding_completed=1, onboarding_failed=1,
        onboarding_matured=2, onboarding_activated_in_window=1, onboarding_rate=D("50.00"),
        activation_days_sum=D("2.5000"), avg_activation_days=D("2.5"),
    ),
    ("MONTHLY", date(2026, 2, 1), "kit", "K2"): expect(
        onboarding_started=1, onboarding_completed=1, onboarding_matured=1,
        onboarding_rate=D("0.00"), activation_days_sum=D("12.0000"), avg_activation_days=D("12.0"),
    ),
    # February by strategy: ST1 = RA1, ST2 = RA2 (reactivation measures only)
    ("MONTHLY", date(2026, 2, 1), "strategy", "ST1"): expect(
        reactivation_attempts=1, reactivation_cost=D("100.00"), reactivation_won=1,
        avg_reactivation_cost=D("100.00"), reactivation_resolved=1, reactivation_matured=1,
        reincidences=1,
        reactivation_rate=D("100.00"), reincidence_rate=D("100.00"),
    ),
    ("MONTHLY", date(2026, 2, 1), "strategy", "ST2"): expect(
        reactivation_attempts=1, reactivation_cost=D("50.00"), reactivation_lost=1,
        avg_reactivation_cost=D("50.00"), reactivation_resolved=1, reactivation_rate=D("0.00"),
    ),
}  # fmt: skip


def _settings(engine: Engine) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False))


def _collect(engine: Engine, first: date, last: date, **kw: Any) -> Any:
    return collect(_settings(engine), 1, first, last, as_of=AS_OF, windows=WINDOWS, **kw)


def _stored(
    engine: Engine, dimension: Dimension | None = None
) -> dict[tuple[Any, ...], dict[str, Any]]:
    out = {}
    with engine.connect() as conn:
        for ptype in PeriodType:
            frame = get_metrics(conn, 1, ptype, date(2000, 1, 1), date(2100, 1, 1), dimension)
            for rec in frame.to_dict("records"):
                key: tuple[Any, ...] = (rec["period_type"], rec["period_date"])
                if dimension is not None:
                    key += (rec["dimension"], rec["dimension_value"])
                out[key] = {m: rec[m] for m in MEASURES}
    return out


def _norm(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (D(str(v)) if isinstance(v, (Decimal, float)) else v) for k, v in values.items()}


def test_hand_built_channel_gives_every_metric(engine: Engine) -> None:
    load_fixture(engine)
    result = _collect(engine, date(2026, 2, 27), date(2026, 3, 2))
    assert result.rows == {"DAILY": 4, "WEEKLY": 2, "MONTHLY": 2}
    totals = _stored(engine)
    assert set(totals) == set(EXPECTED_TOTALS)
    for key, expected in EXPECTED_TOTALS.items():
        assert _norm(totals[key]) == _norm(expected), key
    cuts: dict[tuple[Any, ...], dict[str, Any]] = {}
    for dim in Dimension:
        cuts.update(_stored(engine, dim))
    for key, expected in EXPECTED_CUTS.items():
        assert _norm(cuts[key]) == _norm(expected), key
    # Account 99 has no region: the region cuts of 02-28 miss exactly its order.
    day = [v for k, v in cuts.items() if k[:3] == ("DAILY", date(2026, 2, 28), "region")]
    assert sum(v["orders_count"] for v in day) == 1


def test_collecting_twice_and_by_parts_gives_the_same_rows(engine: Engine) -> None:
    load_fixture(engine)
    _collect(engine, date(2026, 2, 27), date(2026, 3, 2))
    first = (_stored(engine), {d: _stored(engine, d) for d in Dimension})
    _collect(engine, date(2026, 2, 27), date(2026, 3, 2))
    # Day by day: each run seeds the state distribution from the previous day's rows.
    for day in (date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)):
        _collect(engine, day, day)
    assert (_stored(engine), {d: _stored(engine, d) for d in Dimension}) == first


def test_empty_source_gives_zero_rows(engine: Engine) -> None:
    result = _collect(engine, date(2026, 2, 27), date(2026, 3, 2))
    assert result.rows == {"DAILY": 4, "WEEKLY": 2, "MONTHLY": 2}
    assert result.segment_rows == 0
    for values in _stored(engine).values():
        assert _norm(values) == _norm(expect())


def test_dst_days_are_cut_in_local_time(engine: Engine) -> None:
    """2018-11-04 lasted 23 h (03:00-02:00 UTC) and 2019-02-16 25 h (02:00-03:00 UTC)."""
    orders = [
        _ord(1, T(2018, 11, 4, 2, 59), "1.00", "0"),  # 11-03 23:59 local (UTC-3)
        _ord(1, T(2018, 11, 4, 3, 0), "2.00", "0"),  # 11-04 01:00 local (UTC-2): first instant
        _ord(1, T(2018, 11, 5, 1, 59), "4.00", "0"),  # 11-04 23:59 local
        _ord(1, T(2018, 11, 5, 2, 0), "8.00", "0"),  # 11-05 00:00 local
        _ord(1, T(2019, 2, 17, 1, 30), "16.00", "0"),  # 02-16 23:30 local, first pass (UTC-2)
        _ord(1, T(2019, 2, 17, 2, 30), "32.00", "0"),  # 02-16 23:30 local, second pass (UTC-3)
        _ord(1, T(2019, 2, 17, 3, 0), "64.00", "0"),  # 02-17 00:00 local
    ]
    with engine.begin() as conn:
        conn.execute(insert(ChannelOrder.__table__), orders)
    _collect(engine, date(2018, 11, 3), date(2018, 11, 5))
    _collect(engine, date(2019, 2, 16), date(2019, 2, 17))
    totals = _stored(engine)
    revenue = {k[1]: v["total_revenue"] for k, v in totals.items() if k[0] == "DAILY"}
    assert {k: D(str(v)) for k, v in revenue.items()} == {
        date(2018, 11, 3): D("1.00"),
        date(2018, 11, 4): D("6.00"),
        date(2018, 11, 5): D("8.00"),
        date(2019, 2, 16): D("48.00"),
        date(2019, 2, 17): D("64.00"),
    }


def synthetic_channel(engine: Engine, seed: int = 3, accounts: int = 60) -> None:
    """A small random channel over Jan-Mar 2026 with every table and both timestamp edges."""
    rng = np.random.default_rng(seed)
    base = T(2026, 1, 1)

    def at(days: float) -> datetime:
        return base + pd.Timedelta(days=float(days)).to_pytimedelta()

    acc, trs, onb, rea, ords, fb, exc = [], [], [], [], [], [], []
    states = ["NEW", "ACTIVATING", "ACTIVE", "STALLED", "AT_RISK", "CHURNED"]
    for i in range(1, accounts + 1):
        created = at(rng.uniform(-60, 80))
        path = ["NEW", *rng.choice(states[1:], size=rng.integers(0, 4))]
        moments = sorted(rng.uniform(0, 40, size=len(path)))
        now = created
        for j, state in enumerate(path):
            now = created + pd.Timedelta(days=float(moments[j])).to_pytimedelta() if j else created
            trs.append(_tr(i, path[j - 1] if j else None, str(state), now))
        acc.append(_acc(i, f"R{i % 3}", f"S{i % 2}", created, str(path[-1])))
        start = created + pd.Timedelta(hours=float(rng.uniform(1, 100))).to_pytimedelta()
        status = str(rng.choice(["COMPLETED", "FAILED", "IN_PROGRESS"]))
        done = start + pd.Timedelta(days=float(rng.uniform(0, 25))).to_pytimedelta()
        onb.append(_onb(i, f"K{i % 2}", start, status, done))
        if rng.random() < 0.5:
            rstart = at(rng.uniform(0, 80))
            rstatus = str(rng.choice(["WON", "LOST", "PENDING"]))
            resolved = (
                None
                if rstatus == "PENDING"
                else rstart + pd.Timedelta(days=float(rng.uniform(0, 10))).to_pytimedelta()
            )
            rea.append(
                _rea(
                    i, f"ST{i % 3}", f"{rng.integers(1, 9000) / 100:.2f}", rstart, rstatus, resolved
                )
            )
        for _ in range(int(rng.integers(0, 12))):
            rev = rng.integers(100, 50000)
            ords.append(
                _ord(
                    i,
                    at(rng.uniform(0, 90)),
                    f"{rev / 100:.2f}",
                    f"{rng.integers(0, rev) / 100:.2f}",
                    f"{rng.integers(0, 2000) / 100:.2f}",
                )
            )
        for _ in range(int(rng.integers(0, 3))):
            kind = "NPS" if rng.random() < 0.7 else "COMPLAINT"
            score = int(rng.integers(0, 11)) if kind == "NPS" else None
            fb.append(
                dict(
                    org_id=1,
                    account_id=i,
                    kind=kind,
                    score=score,
                    created_at=at(rng.uniform(0, 90)),
                )
            )
        if rng.random() < 0.3:
            exc.append(
                dict(
                    org_id=1,
                    account_id=i,
                    policy_key="p.k",
                    decision=str(rng.choice(["GRANTED", "DENIED"])),
                    requested_at=at(rng.uniform(0, 90)),
                )
            )
    with engine.begin() as conn:
        for model, values in [(ChannelAccount, acc), (ChannelStateTransition, trs), (ChannelOnboarding, onb),
                              (ChannelReactivation, rea), (ChannelOrder, ords), (ChannelFeedback, fb),
                              (ChannelPolicyException, exc)]:  # fmt: skip
            if values:
                conn.execute(insert(model.__table__), values)


# Flows add up over days; the state distribution is a level and the rates are ratios.
# Levels (the state distribution, the health scores) are the last day's, not a sum.
LEVEL_COLUMNS = {*STATE_MEASURES, "health_score_sum", "health_scored_accounts"}
ADDITIVE_COLUMNS = [m for m in MEASURES if m not in RATES and m not in LEVEL_COLUMNS]


def _assert_days_sum_to_the_month(engine: Engine, first: date, last: date) -> None:
    """Stored DAILY rows of [first, last] (a whole month) against its MONTHLY row."""
    with engine.connect() as conn:
        daily = get_metrics(conn, 1, PeriodType.DAILY, first, last)
        monthly = get_metrics(conn, 1, PeriodType.MONTHLY, first, first)
        region = get_metrics(conn, 1, PeriodType.DAILY, first, last, Dimension.REGION)
    assert len(daily) == (last - first).days + 1 and len(monthly) == 1
    assert daily["orders_count"].sum() > 50 and daily["onboarding_started"].sum() > 5
    for col in ADDITIVE_COLUMNS:
        total = sum(D(str(v)) for v in daily[col])
        assert total == D(str(monthly[col].iloc[0])), col
    # The month's distribution is the last day's, and regions add up to the total.
    end = daily[daily["period_date"] == last].iloc[0]
    for col in ("total_accounts", "accounts_active", "accounts_churned", "health_scored_accounts"):
        assert end[col] == monthly[col].iloc[0]
        assert region[region["period_date"] == last][col].sum() == end[col]


def test_daily_rows_sum_to_the_monthly_row(engine: Engine) -> None:
    synthetic_channel(engine)
    _collect(engine, date(2026, 2, 1), date(2026, 2, 28), backfill=False)
    _assert_days_sum_to_the_month(engine, date(2026, 2, 1), date(2026, 2, 28))


def test_demo_channel_daily_rows_sum_to_the_monthly_row(tmp_path: Path) -> None:
    """The same on the demo generator's planted channel (SQLite), May 2026, policy windows."""
    from tests.demo_data import DEMO_AS_OF, generate_demo_db

    demo = generate_demo_db(tmp_path, "planted", 7)
    try:
        settings = Settings(database_url=demo.url.render_as_string(hide_password=False))
        as_of = datetime.combine(DEMO_AS_OF, datetime.min.time())
        collect(settings, 1, date(2026, 5, 1), date(2026, 5, 31), as_of=as_of)
        _assert_days_sum_to_the_month(demo, date(2026, 5, 1), date(2026, 5, 31))
    finally:
        demo.dispose()


def test_backfill_covers_the_source_and_matches_ranged_collect(engine: Engine) -> None:
    synthetic_channel(engine, seed=5, accounts=30)
    ticks: list[int] = []
    result = _collect(engine, None, None, backfill=True, progress=lambda n, _total: ticks.append(n))
    assert result.days[0] <= date(2025, 11, 3) and result.days[-1] == date(2026, 3, 19)
    assert sum(ticks) == len(result.days)
    backfilled = _stored(engine)
    # A range in the middle, from scratch: state seeded by rolling today's states back.
    with engine.begin() as conn:
        conn.execute(PerformanceMetric.__table__.delete())
        conn.execute(SegmentMetric.__table__.delete())
    _collect(engine, date(2026, 2, 10), date(2026, 2, 20))
    for key, values in _stored(engine).items():
        assert values == backfilled[key], key


def test_finish_frame_matches_finish_row_by_row() -> None:
    """The vectorised finish gives finish's values: ties, negatives, zero denominators."""
    from chanperf.metrics.rollup import ADDITIVE, finish, finish_frame

    rng = np.random.default_rng(3)
    n = 400
    data: dict[str, Any] = {c: rng.integers(0, 5, n) for c in [*ADDITIVE, *STATE_MEASURES]}
    data["total_revenue"] = rng.choice([0, 3, 8, 200, -40, 123456789], n)
    data["cost_total"] = rng.choice([0, 1, 5, 300, 7], n)  # negative margins and exact ties
    data["activation_days_e4"] = rng.integers(0, 10**6, n)
    data["discount_pct_sum"] = rng.integers(0, 3000, n)
    rows = pd.DataFrame({"period_type": "DAILY", "period_date": date(2026, 3, 1),
                         "dimension": "", "dimension_value": "", **data})  # fmt: skip
    fast = finish_frame(rows).to_dict("records")
    for record, vector in zip(rows.to_dict("records"), fast, strict=True):
        expected = finish(record)
        got = {k: vector[k] for k in expected}
        assert got == expected
        for k, v in expected.items():  # same places too, not only the same value
            assert type(got[k]) is type(v) or isinstance(v, int)
            if isinstance(v, Decimal):
                assert got[k].as_tuple().exponent == v.as_tuple().exponent


@pytest.mark.parametrize("numbered", [False, True], ids=["lookup", "numbered"])
def test_revenue_cuts_are_named_back_in_the_database_collation(
    engine: Engine, numbered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revenue by (region, segment), through a lookup per line or through numbered cuts.

    A long span groups by a number per (region, segment) and names it afterwards
    (forced here for a one-day span with CUT_MIN_DAYS = 0). Region names whose binary and case-insensitive orders differ ("A" < "C" < "b"
    in bytes, "A" < "b" < "C" in MariaDB's collation) would swap cuts if the numbers
    and the names were sorted differently. Hand values: A/S1 10.00, b/S1 20.00 +
    5.00, C/S2 40.00, and account 99 (no account row) 1.00 in no cut.
    """
    day = T(2026, 2, 27, 12)
    with engine.begin() as conn:
        conn.execute(insert(ChannelAccount), [
            _acc(1, "b", "S1", T(2025, 1, 1), "ACTIVE"), _acc(2, "C", "S2", T(2025, 1, 1), "ACTIVE"),
            _acc(3, "A", "S1", T(2026, 2, 20), "ACTIVE"), _acc(4, "b", "S1", T(2025, 1, 1), "ACTIVE"),
        ])  # fmt: skip
        conn.execute(insert(ChannelOrder), [
            _ord(1, day, "20.00", "1"), _ord(2, day, "40.00", "1"), _ord(3, day, "10.00", "1"),
            _ord(4, day, "5.00", "1"), _ord(99, day, "1.00", "1"),
        ])  # fmt: skip
    from chanperf.core.periods import uniform_runs
    from chanperf.metrics import common, revenue
    from chanperf.metrics.common import Span

    monkeypatch.setattr(common, "CUT_MIN_DAYS", 0 if numbered else 10_000)

    runs = tuple(uniform_runs(date(2026, 2, 27), date(2026, 2, 27), Settings().tz))
    with engine.connect() as conn:
        span = Span(1, runs, AS_OF)
        frame = revenue.join_revenue(
            revenue.collect_line_revenue(conn, span, WINDOWS),
            revenue.collect_reactivated_revenue(conn, span, WINDOWS),
        )
    got = {
        (r["region"] if isinstance(r["region"], str) else None, r["segment"] if isinstance(r["segment"], str) else None): (r["orders_count"], r["total_revenue"], r["revenue_from_new"])
        for r in frame.to_dict("records")
    }  # fmt: skip
    assert got == {
        ("A", "S1"): (1, 1000, 1000),  # account 3 created 7 days before: new
        ("b", "S1"): (2, 2500, 0),
        ("C", "S2"): (1, 4000, 0),
        (None, None): (1, 100, 0),
    }


def test_parallel_readers_store_what_one_reader_stores(engine: Engine) -> None:
    """On MariaDB the families are read on two connections at once; on SQLite in order."""
    from chanperf.metrics.collect import read_families

    synthetic_channel(engine, seed=7, accounts=40)
    with engine.connect() as conn:
        seen = read_families(conn, 2, {"a": lambda c: pd.DataFrame({"c": [id(c)]})})
        apart = seen["a"]["c"].iloc[0] != id(conn)
        assert apart == (engine.dialect.name != "sqlite")
    stored = []
    for readers in (1, 2):
        with engine.begin() as conn:
            conn.execute(PerformanceMetric.__table__.delete())
            conn.execute(SegmentMetric.__table__.delete())
        settings = _settings(engine).with_(collect_readers=readers)
        collect(settings, 1, as_of=AS_OF, windows=WINDOWS, backfill=True)
        stored.append((_stored(engine), _stored(engine, Dimension.REGION)))
    assert stored[0] == stored[1]
    assert len(stored[0][0]) > 100


@pytest.mark.parametrize("numbered", [False, True], ids=["lookup", "numbered"])
def test_transitions_through_a_state_outside_the_known_ones(
    engine: Engine, numbered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move into or out of a state with no metric column sends the span to per-pair counts.

    Account 1 (R1/S1): NEW on 02-10, SUSPENDED on 02-10, ACTIVE on 02-11; account 2
    (R2/S2): NEW on 02-11. Net per day: 02-10 R1/S1 NEW 0 (in and out), SUSPENDED +1;
    02-11 R1/S1 SUSPENDED -1, ACTIVE +1; R2/S2 NEW +1.
    """
    from chanperf.core.periods import uniform_runs
    from chanperf.metrics import common
    from chanperf.metrics.common import Span
    from chanperf.metrics.state import collect_state_transitions

    monkeypatch.setattr(common, "CUT_MIN_DAYS", 0 if numbered else 10_000)
    with engine.begin() as conn:
        conn.execute(insert(ChannelAccount), [
            _acc(1, "R1", "S1", T(2026, 2, 10, 13), "ACTIVE"), _acc(2, "R2", "S2", T(2026, 2, 11, 13), "NEW"),
        ])  # fmt: skip
        conn.execute(insert(ChannelStateTransition), [
            _tr(1, None, "NEW", T(2026, 2, 10, 13)), _tr(1, "NEW", "SUSPENDED", T(2026, 2, 10, 15)),
            _tr(1, "SUSPENDED", "ACTIVE", T(2026, 2, 11, 15)), _tr(2, None, "NEW", T(2026, 2, 11, 13)),
        ])  # fmt: skip
    runs = tuple(uniform_runs(date(2026, 2, 10), date(2026, 2, 11), Settings().tz))
    with engine.connect() as conn:
        frame = collect_state_transitions(conn, Span(1, runs, AS_OF))
    got = {
        (r["day"], r["region"], r["segment"], r["state"]): r["delta"]
        for r in frame.to_dict("records")
        if r["delta"] != 0
    }
    assert got == {
        (date(2026, 2, 10), "R1", "S1", "SUSPENDED"): 1,
        (date(2026, 2, 11), "R1", "S1", "SUSPENDED"): -1,
        (date(2026, 2, 11), "R1", "S1", "ACTIVE"): 1,
        (date(2026, 2, 11), "R2", "S2", "NEW"): 1,
    }
