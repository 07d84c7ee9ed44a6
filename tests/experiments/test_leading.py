"""The leading metric's relation to the primary one, measured on a small hand-made history."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from chanperf.experiments.leading import measure_leading
from chanperf.models.source import (
    ChannelAccount,
    ChannelOnboarding,
    ChannelReactivation,
    ChannelStateTransition,
)

START, END = datetime(2026, 1, 1), datetime(2026, 7, 1)
RESOLVED = datetime(2026, 1, 10, 12)
# account -> days from the won reactivation to its relapse (None: no relapse)
RELAPSE = {1: 10, 2: 25, 3: 45, 4: 80, 5: 100, 6: None, 7: None, 8: None, 9: None, 10: None}


def account(acc: int, region: str = "R1") -> dict:
    return {
        "account_id": acc,
        "org_id": 1,
        "region": region,
        "segment": "S",
        "created_at": START - timedelta(days=400),
        "state": "ACTIVE",
    }


def reactivation(acc: int, status: str, resolved: datetime) -> dict:
    return {
        "org_id": 1,
        "account_id": acc,
        "strategy": "CALL",
        "started_at": resolved - timedelta(days=5),
        "status": status,
        "resolved_at": resolved,
    }


def test_30_day_relapse_against_90_day_reincidence(sessions) -> None:
    accounts = [account(a) for a in RELAPSE] + [account(11), account(12), account(13, "R2")]
    reactivations = [reactivation(a, "WON", RESOLVED) for a in RELAPSE] + [
        reactivation(11, "LOST", RESOLVED),  # lost: no reincidence to speak of
        reactivation(12, "WON", datetime(2026, 5, 1)),  # too young for 90 days by END
        reactivation(13, "WON", RESOLVED),  # another region
    ]
    transitions = [
        {
            "org_id": 1,
            "account_id": a,
            "from_state": "ACTIVE",
            "to_state": "STALLED",
            "transitioned_at": RESOLVED + timedelta(days=d),
        }
        for a, d in RELAPSE.items()
        if d is not None
    ] + [
        # a stall before the reactivation is not a relapse after it
        {
            "org_id": 1,
            "account_id": 6,
            "from_state": "ACTIVE",
            "to_state": "STALLED",
            "transitioned_at": RESOLVED - timedelta(days=20),
        },
        {
            "org_id": 1,
            "account_id": 13,
            "from_state": "ACTIVE",
            "to_state": "CHURNED",
            "transitioned_at": RESOLVED + timedelta(days=3),
        },
    ]
    with sessions.begin() as s:
        s.execute(insert(ChannelAccount), accounts)
        s.execute(insert(ChannelReactivation), reactivations)
        s.execute(insert(ChannelStateTransition), transitions)
    with sessions() as s:
        stats = measure_leading(
            s.connection(), 1, "reincidence_rate", START, END, 90, 30, {"region": "R1"}
        )
    assert stats is not None and stats.n == 10
    # within 90 days: accounts 1-4 (5 relapsed on day 100); within 30: accounts 1-2
    assert stats.primary_rate == pytest.approx(0.4)
    assert stats.baseline == pytest.approx(0.2)
    assert stats.capture == pytest.approx(0.5)
    # phi of the 2x2 table (both 2, primary only 2, neither 6): (2*6 - 0*2) / sqrt(2*8*4*6)
    assert stats.correlation == pytest.approx(12 / math.sqrt(2 * 8 * 4 * 6))


def test_14_day_activation_against_30_day_activation(sessions) -> None:
    started = datetime(2026, 2, 1, 9)
    # days to completion: 5 and 10 lead; 20 and 29 only within 30; 40 too late; 2 never
    days = {1: 5, 2: 10, 3: 20, 4: 29, 5: 40, 6: None, 7: None}
    with sessions.begin() as s:
        s.execute(insert(ChannelAccount), [account(a) for a in days])
        s.execute(
            insert(ChannelOnboarding),
            [
                {
                    "org_id": 1,
                    "account_id": a,
                    "kit": "K1",
                    "started_at": started,
                    "status": "COMPLETED" if d is not None else "IN_PROGRESS",
                    "completed_at": started + timedelta(days=d) if d is not None else None,
                }
                for a, d in days.items()
            ],
        )
    with sessions() as s:
        stats = measure_leading(s.connection(), 1, "activation_rate", START, END, 30, 14, {})
    assert stats is not None and stats.n == 7
    assert stats.primary_rate == pytest.approx(4 / 7) and stats.baseline == pytest.approx(2 / 7)
    assert stats.capture == pytest.approx(0.5)


def test_other_metrics_have_no_leading_metric(sessions) -> None:
    with sessions() as s:
        assert measure_leading(s.connection(), 1, "win_rate", START, END, 90, 30, {}) is None
