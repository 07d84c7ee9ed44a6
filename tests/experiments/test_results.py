"""The results job on generated channels: a true improvement, no effect, a broken assignment."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert

from chanperf.core.enums import ProposalStatus
from chanperf.experiments.design import assign_arm
from chanperf.experiments.results import check_experiment_results
from chanperf.models.performance import PolicyProposal
from chanperf.models.source import ChannelAccount, ChannelOnboarding

KEY = "onboarding.regions.R1.default_kit:test"
ARMS = [("control", 0.5), ("treatment", 0.5)]
IMPLEMENTED = datetime(2026, 1, 5, 12, 0)
PLAN = {
    "experiment_key": KEY,
    "unit": "account",
    "population": {"source": "onboardings", "region": "R1"},
    "arms": [{"name": n, "share": s} for n, s in ARMS],
    "primary_metric": {"name": "activation_rate", "direction": "increase", "baseline": 0.5},
    "guardrails": [{"metric": "failure_rate", "direction": "decrease"}],
    "alpha": 0.05,
    "maturation_days": 30,
    "expected_duration_days": 14 * 7 + 30,
    "stopping_rule": {"harm_alpha": 0.01, "srm_p_threshold": 0.001},
}
AS_OF = (IMPLEMENTED + timedelta(days=14 * 7 + 31)).date()


def generate(
    sessions, p_control: float, p_treatment: float, drop_treatment: float = 0.0, seed: int = 3
) -> None:
    """3000 accounts of region R1 (and 500 elsewhere) start onboarding over 14 weeks after the change."""
    rng = np.random.default_rng(seed)
    accounts, onboardings = [], []
    for account in range(1, 3501):
        region = "R1" if account <= 3000 else "R2"
        arm = assign_arm(account, KEY, ARMS)
        if region == "R1" and arm == "treatment" and rng.random() < drop_treatment:
            continue  # the treatment arm loses accounts: a sample ratio mismatch
        started = IMPLEMENTED + timedelta(hours=int(rng.integers(1, 14 * 7 * 24)))
        p = p_treatment if arm == "treatment" else p_control
        activated = rng.random() < p
        failed = not activated and rng.random() < 0.3
        accounts.append(
            {
                "account_id": account,
                "org_id": 1,
                "region": region,
                "segment": "S1",
                "created_at": started,
                "state": "ACTIVE" if activated else "ACTIVATING",
            }
        )
        onboardings.append(
            {
                "org_id": 1,
                "account_id": account,
                "kit": "K1",
                "started_at": started,
                "status": "COMPLETED" if activated else "FAILED" if failed else "IN_PROGRESS",
                "completed_at": started + timedelta(days=int(rng.integers(2, 28)))
                if activated
                else None,
                "failed_at": started + timedelta(days=20) if failed else None,
            }
        )
    with sessions.begin() as s:
        s.execute(insert(ChannelAccount), accounts)
        s.execute(insert(ChannelOnboarding), onboardings)
        s.add(
            PolicyProposal(
                org_id=1,
                policy_name="onboarding",
                title="t",
                description="d",
                current_policy={},
                proposed_policy={},
                status=ProposalStatus.IMPLEMENTED,
                implemented_at=IMPLEMENTED,
                experiment_plan=PLAN,
            )
        )


def results(sessions, as_of: date = AS_OF) -> dict | None:
    with sessions.begin() as s:
        check_experiment_results(s, 1, as_of)
    with sessions() as s:
        row = s.query(PolicyProposal).one()
        return row.implementation_results


def test_a_true_improvement_is_reported(sessions) -> None:
    generate(sessions, 0.45, 0.60)
    res = results(sessions)
    assert res is not None and res["verdict"] == "improved"
    assert res["estimate"] == pytest.approx(0.15, abs=0.05)
    assert res["ci"][0] > 0 and res["p_value"] < 0.05
    assert res["srm_p"] > 0.001 and sum(res["arms"].values()) == 3000  # R2 is not in the population
    assert res["guardrails"][0]["metric"] == "failure_rate"


def test_no_effect_is_not_reported_as_an_improvement(sessions) -> None:
    generate(sessions, 0.50, 0.50)
    res = results(sessions)
    assert res is not None and res["verdict"] == "no_effect"
    assert res["ci"][0] < 0 < res["ci"][1]


def test_unbalanced_arms_are_a_sample_ratio_mismatch(sessions) -> None:
    generate(sessions, 0.45, 0.60, drop_treatment=0.2)
    res = results(sessions)
    assert res is not None and res["verdict"] == "srm_invalid" and res["srm_p"] < 0.001


def test_not_checked_before_the_planned_duration(sessions) -> None:
    generate(sessions, 0.45, 0.60)
    assert results(sessions, AS_OF - timedelta(days=10)) is None


def test_before_after_when_there_is_no_control(sessions) -> None:
    generate(sessions, 0.45, 0.45)
    with sessions.begin() as s:
        row = s.query(PolicyProposal).one()
        row.experiment_plan = {**PLAN, "arms": [{"name": "treatment", "share": 1.0}]}
    res = results(sessions)
    assert res is not None and res["design"] == "before_after" and res["srm_p"] is None
    assert res["arms"]["before"] == 0 and res["verdict"] == "insufficient_data"
