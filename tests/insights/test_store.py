"""Storing insights: one per fingerprint, re-runs update it, dismissed ones stay dismissed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from chanperf.analysis.findings import KitEffectiveness
from chanperf.core.enums import (
    InsightCategory,
    InsightStatus,
    InsightType,
    Severity,
    SuggestedAction,
)
from chanperf.insights.drafts import InsightDraft
from chanperf.insights.impact import ImpactBasis, estimate_impact
from chanperf.insights.store import fingerprint, generate_insights
from chanperf.insights.workflow import act_on_insight
from chanperf.models.performance import PerformanceInsight

BASIS = ImpactBasis(revenue_per_account_month=500.0)


def kit_finding(effect: float = 0.33, end: date = date(2026, 6, 30)) -> KitEffectiveness:
    # 91-day period (2026-04-01..06-30): months = 91 / 30.44 = 2.98948
    return KitEffectiveness(
        org_id=1,
        period_start=date(2026, 4, 1),
        period_end=end,
        region="R1",
        policy="onboarding",
        parameter="regions.R1.default_kit",
        policy_kit="K1",
        better_kit="K2",
        n_a=60,
        n_b=60,
        rate_a=0.45,
        rate_b=0.45 + effect,
        effect=effect,
        p_value=0.001,
    )


def draft(finding: KitEffectiveness, margin: float = 0.5, rule: str = "kit-better") -> InsightDraft:
    return InsightDraft(
        rule_id=rule,
        type=InsightType.POLICY_GAP,
        category=InsightCategory.ONBOARDING,
        severity=Severity.HIGH,
        title="Kit K2 tem 1,7x mais sucesso que Kit K1 na região R1",
        observation="obs",
        recommendation="Alterar política de onboarding: Kit K2 deve ser padrão para região R1",
        suggested_action=SuggestedAction.CHANGE_POLICY,
        suggested_params={"kit": "K2"},
        affected_region=finding.region,
        affected_segment=None,
        affected_policy="onboarding",
        affected_sku=None,
        evidence={"rate_a": finding.rate_a, "rate_b": finding.rate_b},
        proposal=None,
        reraise_margin=margin,
        finding=finding,
    )


def count(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(PerformanceInsight))


def test_impact_of_a_kit_gap_by_hand():
    est = estimate_impact(kit_finding(), BASIS)
    # 60 onboardings with the policy kit over 91/30.44 = 2.989488 months = 20.07033/month;
    # 0.33 more would activate: 6.623209 accounts/month x R$ 500 = R$ 3311.60/month
    assert est.accounts_affected == 60
    assert est.monthly_amount == pytest.approx(60 / (91 / 30.44) * 0.33 * 500)
    assert round(est.monthly_amount, 2) == 3311.60
    assert est.kind == "lost_revenue" and est.assumptions


def test_impact_of_late_activation_counts_days_not_rate():
    from chanperf.analysis.findings import OnboardingTarget

    f = OnboardingTarget(
        org_id=1,
        period_start=date(2026, 4, 1),
        period_end=date(2026, 6, 30),
        metric="median_activation_days",
        value=33,
        target=20,
        gap=13,
        effect=13,
        n=120,
    )
    est = estimate_impact(f, BASIS)
    # 120 onboardings / 2.989488 months = 40.14066/month, each 13 days late:
    # 40.14066 x 13 / 30.44 x R$ 500 = R$ 8571.43/month
    assert round(est.monthly_amount, 2) == 8571.43
    assert est.accounts_affected == 120


def test_nps_drift_has_no_money_and_rate_drift_has():
    from chanperf.analysis.findings import MetricDrift

    common = dict(org_id=1, period_start=date(2026, 4, 1), period_end=date(2026, 6, 30))
    nps = MetricDrift(
        **common, metric="nps", category="quality", direction="worse", effect=-28, n_b=435
    )
    est = estimate_impact(nps, BASIS)
    assert (est.accounts_affected, est.monthly_amount, est.kind) == (435, None, "none")
    rate = MetricDrift(
        **common, metric="win_rate", category="reactivation", direction="worse", effect=-0.1, n_b=91
    )
    # 91 attempts / 2.989488 months x 0.10 fewer wins x R$ 500 = R$ 1522.00/month
    assert round(estimate_impact(rate, BASIS).monthly_amount, 2) == 1522.0


def test_second_run_updates_the_open_insight(sessions):
    with sessions.begin() as s:
        first = generate_insights(s, 1, [draft(kit_finding())], BASIS)
    assert len(first.created) == 1
    with sessions.begin() as s:  # the same as-of again: same row, occurrences unchanged
        again = generate_insights(s, 1, [draft(kit_finding(effect=0.35))], BASIS)
    assert again.updated == first.created and not again.created
    with sessions() as s:
        row = s.get(PerformanceInsight, first.created[0])
        assert row.occurrences == 1 and float(row.effect_size) == 0.35
        assert row.evidence["rate_b"] == pytest.approx(0.80)
        assert row.impact_estimate["accounts_affected"] == 60
    with sessions.begin() as s:  # a later as-of: one more occurrence
        generate_insights(s, 1, [draft(kit_finding(end=date(2026, 7, 7)))], BASIS)
    with sessions() as s:
        row = s.get(PerformanceInsight, first.created[0])
        assert row.occurrences == 2 and row.analysis_period_end == date(2026, 7, 7)
    assert count(sessions) == 1


def test_other_org_and_other_region_are_other_insights(sessions):
    f = kit_finding()
    other_region = KitEffectiveness(**{**f.__dict__, "region": "R2"})
    with sessions.begin() as s:
        generate_insights(s, 1, [draft(f), draft(other_region)], BASIS)
        generate_insights(s, 2, [draft(f)], BASIS)
    assert count(sessions) == 3
    assert fingerprint(1, draft(f)) != fingerprint(2, draft(f))


def test_dismissed_stays_dismissed_until_effect_grows_past_margin(sessions):
    with sessions.begin() as s:
        (iid,) = generate_insights(s, 1, [draft(kit_finding(effect=0.20))], BASIS).created
        act_on_insight(s, 1, iid, "dismiss", "ana", reason="sazonal")
    with sessions.begin() as s:
        # the margin is in the effect's units: 0.29 <= 0.20 + 0.10 = 0.30, still within it
        sync = generate_insights(s, 1, [draft(kit_finding(effect=0.29), margin=0.10)], BASIS)
    assert sync.suppressed == 1 and not sync.created and count(sessions) == 1
    with sessions.begin() as s:
        sync = generate_insights(s, 1, [draft(kit_finding(effect=0.31), margin=0.10)], BASIS)
    assert len(sync.reraised) == 1 and count(sessions) == 2
    with sessions() as s:
        assert s.get(PerformanceInsight, iid).status == InsightStatus.DISMISSED
        assert s.get(PerformanceInsight, sync.reraised[0]).status == InsightStatus.NEW
