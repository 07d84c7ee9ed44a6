"""Churn-risk model on synthetic channels with fixed seeds.

as_of = 2024-06-30, UTC, horizon 60 days: the model trains on the snapshot
T0 = 2024-03-03 (labels: stall in (T0, T1]) and is judged on the held-back
snapshot T1 = 2024-05-02 (labels: stall in (T1, 2024-07-01]).

"signal": every account orders as a Poisson process of 4u orders a month
(u ~ U(0.05, 1)) and stalls at a constant hazard of 0.1 a month; in the 75 days
before it stalls its orders drop to a tenth, so few and old orders truly predict
a stall. "noise": the same, without the drop: what an account buys says nothing
about when it stalls.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from chanperf.analysis.context import AnalysisConfig, AnalysisContext
from chanperf.analysis.detectors.churn import (
    MODEL_FEATURES,
    _fit,
    accounts_at_risk,
    churn_model_report,
    predict_churn_risk,
)
from chanperf.analysis.findings import ChurnRisk
from chanperf.core.settings import REPO_ROOT
from chanperf.models.source import ChannelAccount, ChannelOrder, ChannelStateTransition
from chanperf.policies.load import load_policies

START = datetime(2023, 8, 1)
END = datetime(2024, 7, 1)
N_ACCOUNTS = 1000


def make_ctx() -> AnalysisContext:
    return AnalysisContext(
        1, date(2024, 6, 30), load_policies(REPO_ROOT / "policies"), AnalysisConfig(), "UTC"
    )


def synthetic_channel(engine: Engine, seed: int, signal: bool) -> None:
    rng = np.random.default_rng(seed)
    accounts: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    span_days = (END - START).days
    for account_id in range(1, N_ACCOUNTS + 1):
        u = rng.uniform(0.05, 1.0)
        stall_day = rng.exponential(30.0 / 0.1)
        stall_at = START + timedelta(days=float(stall_day)) if stall_day < span_days else None
        region, segment = f"R{account_id % 2 + 1}", f"S{account_id % 3 + 1}"
        accounts.append(
            {
                "account_id": account_id,
                "org_id": 1,
                "region": region,
                "segment": segment,
                "created_at": START,
                "state": "STALLED" if stall_at else "ACTIVE",
                # Half the scores missing, the rest unrelated to churn: imputation is exercised.
                "health_score": None if account_id % 2 else round(float(rng.uniform(0, 100)), 1),
            }
        )
        transitions.append(
            {
                "org_id": 1,
                "account_id": account_id,
                "from_state": None,
                "to_state": "ACTIVE",
                "transitioned_at": START,
            }
        )
        if stall_at:
            transitions.append(
                {
                    "org_id": 1,
                    "account_id": account_id,
                    "from_state": "ACTIVE",
                    "to_state": "STALLED",
                    "transitioned_at": stall_at,
                }
            )
        last = stall_at or END
        n_orders = rng.poisson(4 * u * (last - START).days / 30.0)
        days = rng.uniform(0, (last - START).days, n_orders)
        if signal and stall_at:
            # The decline before a stall: 9 in 10 orders of its last 75 days never happen.
            declining = days > (last - START).days - 75
            days = days[~declining | (rng.uniform(size=n_orders) < 0.1)]
        for day in np.sort(days):
            revenue = round(float(rng.uniform(100, 500)), 2)
            orders.append(
                {
                    "org_id": 1,
                    "account_id": account_id,
                    "ordered_at": START + timedelta(days=float(day)),
                    "sku": "P1",
                    "quantity": 1,
                    "revenue": revenue,
                    "cost": round(revenue * 0.6, 2),
                }
            )
    with engine.begin() as conn:
        conn.execute(ChannelAccount.__table__.insert(), accounts)
        conn.execute(ChannelStateTransition.__table__.insert(), transitions)
        conn.execute(ChannelOrder.__table__.insert(), orders)


def test_model_predicts_churn_on_the_held_back_snapshot(engine: Engine) -> None:
    synthetic_channel(engine, seed=7, signal=True)
    with engine.connect() as conn:
        report = churn_model_report(conn, make_ctx())
    assert report["train_snapshot"] == "2024-03-03T00:00:00"
    assert report["holdout_snapshot"] == "2024-05-02T00:00:00"
    assert report["features"] == list(MODEL_FEATURES)
    assert report["positives_train"] > 20 and report["positives_holdout"] > 10
    assert report["auc_holdout"] > 0.7
    # The synthetic health score is noise: with it the model is no better.
    assert report["auc_holdout_with_health"] == pytest.approx(report["auc_holdout"], abs=0.05)
    # Fewer, older orders mean more risk: recency pushes the score up, frequency down.
    assert report["coefficients"]["recency_days"] > 0
    assert report["coefficients"]["orders_90d"] < 0


def test_model_on_noise_is_a_coin(engine: Engine) -> None:
    synthetic_channel(engine, seed=11, signal=False)
    with engine.connect() as conn:
        report = churn_model_report(conn, make_ctx())
    assert report["positives_holdout"] > 10
    assert report["auc_holdout"] == pytest.approx(0.5, abs=0.1)


def test_accounts_at_risk_and_findings_agree(engine: Engine) -> None:
    synthetic_channel(engine, seed=7, signal=True)
    ctx = make_ctx()
    with engine.connect() as conn:
        risky = accounts_at_risk(conn, ctx, limit=10_000)
        s1 = accounts_at_risk(conn, ctx, segment="S1", limit=5)
        findings = predict_churn_risk(conn, ctx)
    assert list(risky.columns) == [
        "account_id",
        "region",
        "segment",
        "state",
        "score",
        "recency_days",
        "orders_90d",
        "revenue_trend",
        "health_score",
        "revenue_90d",
    ]
    # at risk = score at least that of the riskiest tenth at the baseline snapshot
    with engine.connect() as conn:
        fitted = _fit(conn, ctx)
    assert fitted.model is not None
    threshold = np.quantile(fitted.model.score(fitted.holdout), 1 - ctx.config.churn_risk_top_share)
    assert len(risky) > 0 and (risky["score"] >= threshold).all()
    assert risky["score"].is_monotonic_decreasing
    assert set(risky["state"]) <= {"ACTIVE", "AT_RISK"}
    assert len(s1) == min(5, int((risky["segment"] == "S1").sum())) and set(s1["segment"]) <= {"S1"}

    assert all(isinstance(f, ChurnRisk) for f in findings)
    by_cut = {(f.segment, f.region): f for f in findings}
    # One finding per segment and per region that has someone at risk.
    for segment in ("S1", "S2", "S3"):
        f = by_cut[(segment, None)]
        now = risky[risky["segment"] == segment]
        assert f.at_risk_count == len(now) == round(f.n_b * f.rate_b)
        assert f.revenue_at_risk is not None and f.revenue_at_risk >= now["revenue_90d"].sum() / 6
        assert f.period_start == date(2024, 5, 2) and f.period_end == date(2024, 6, 30)
        assert f.extra["auc_holdout"] > 0.7 and f.p_value is not None and f.p_value_adj is None
    assert {r for s, r in by_cut if s is None} == {"R1", "R2"}


def test_no_data_no_model(engine: Engine) -> None:
    with engine.connect() as conn:
        assert predict_churn_risk(conn, make_ctx()) == []
        assert accounts_at_risk(conn, make_ctx()).empty
        assert churn_model_report(conn, make_ctx())["auc_holdout"] is None
