"""Onboarding detectors on a hand-built channel whose counts are worked out below.

as_of 2026-06-30 in America/Sao_Paulo (UTC-3): the analysed data end at
2026-07-01 03:00 UTC; the 180-day lookback starts 2026-01-02 03:00 UTC. With a
30-day activation window an onboarding is matured iff started_at <= 2026-06-01 03:00.

Policy: default_kit K2, regions.R1.default_kit K1, target 0.5, max 20 days.

 #  region kit started      outcome                        matured activated failed days
 1  R1     K1  03-01 12:00  COMPLETED after 10 d           yes     yes       -      10
 2  R1     K1  03-01 12:00  COMPLETED after 40 d (late)    yes     no        -      40
 3  R1     K1  03-01 12:00  FAILED after 5 d               yes     no        yes    -
 4  R1     K1  03-01 12:00  IN_PROGRESS                    yes     no        -      -
 5  R1     K1  06-20 12:00  COMPLETED after 2 d            no (censored)
 6  R1     K3  03-01 12:00  COMPLETED after 5 d            yes     yes       -      5
 7  R1     K3  03-01 12:00  COMPLETED after 15 d           yes     yes       -      15
 8  R1     K3  03-01 12:00  COMPLETED after exactly 30 d   yes     yes       -      30
 9  R1     K3  03-01 12:00  FAILED after 3 d               yes     no        yes    -
10  R2     K2  03-01 12:00  COMPLETED after 20 d           yes     yes       -      20
11  R2     K2  03-01 12:00  FAILED                         yes     no        yes    -
12  R2     K2  03-01 12:00  FAILED                         yes     no        yes    -
13  R2     K2  06-01 03:00  IN_PROGRESS (boundary)         yes     no        -      -
14  R2     K2  06-01 03:00:01 IN_PROGRESS                  no (censored)
15  R2     K2  05-01 12:00  COMPLETED 07-05 (after end)    yes     no        -      -
16  R2     K1  03-01 12:00  COMPLETED after 12 d           yes     yes       -      12
17  -      K1  03-01 12:00  COMPLETED after 8 d (no account row) yes yes     -      8
18  R1     K1  2025-12-01   COMPLETED (before the lookback: out)
19  R1     K1  03-01 12:00  org 2 (out)

Matured: R1 = 1-4, 6-9 (8: activated 4, failed 2); R2 = 10-13, 15, 16 (6: activated 2,
failed 2); no region = 17 (1: activated 1). Channel: 15, activated 7, failed 4.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from scipy import stats as sps
from sqlalchemy import Engine, insert

from chanperf.analysis.context import AnalysisConfig, AnalysisContext
from chanperf.analysis.detectors.onboarding import (
    analyze_onboarding_patterns,
    detect_kit_effectiveness,
    detect_region_patterns,
)
from chanperf.analysis.findings import KitEffectiveness, OnboardingTarget, RegionFailure
from chanperf.core.settings import REPO_ROOT
from chanperf.core.stats import compare_proportions
from chanperf.models.source import ChannelAccount, ChannelOnboarding
from chanperf.policies.load import load_policies
from tests.demo_data import PLANTED_ALPHA, demo_context, generate_demo_db, planted_truth

AS_OF = date(2026, 6, 30)
T0 = datetime(2026, 3, 1, 12, 0)


def _context() -> AnalysisContext:
    policies = load_policies(REPO_ROOT / "policies").with_params(
        {
            "onboarding.default_kit": "K2",
            "onboarding.regions": {"R1": {"default_kit": "K1"}},
            "onboarding.activation_window_days": 30,
            "onboarding.target_activation_rate": 0.5,
            "onboarding.max_activation_days": 20,
        }
    )
    return AnalysisContext(
        org_id=1, as_of=AS_OF, policies=policies, config=AnalysisConfig(lookback_days=180)
    )


def _row(account: int, kit: str, started: datetime, status: str, after: float | None = None,
         org: int = 1, at: datetime | None = None) -> dict[str, object]:  # fmt: skip
    end = at or (started + timedelta(days=after) if after is not None else None)
    return {
        "org_id": org,
        "account_id": account,
        "kit": kit,
        "started_at": started,
        "status": status,
        "completed_at": end if status == "COMPLETED" else None,
        "failed_at": end if status == "FAILED" else None,
    }


@pytest.fixture
def channel(engine: Engine) -> Engine:
    accounts = [
        {"org_id": 1, "account_id": 1, "region": "R1", "segment": "S1"},
        {"org_id": 1, "account_id": 2, "region": "R2", "segment": "S1"},
        {"org_id": 2, "account_id": 3, "region": "R1", "segment": "S1"},
    ]
    for a in accounts:
        a.update(created_at=datetime(2025, 1, 1), state="ACTIVE")
    boundary = datetime(2026, 6, 1, 3, 0)
    rows = [
        _row(1, "K1", T0, "COMPLETED", 10),
        _row(1, "K1", T0, "COMPLETED", 40),
        _row(1, "K1", T0, "FAILED", 5),
        _row(1, "K1", T0, "IN_PROGRESS"),
        _row(1, "K1", datetime(2026, 6, 20, 12), "COMPLETED", 2),
        _row(1, "K3", T0, "COMPLETED", 5),
        _row(1, "K3", T0, "COMPLETED", 15),
        _row(1, "K3", T0, "COMPLETED", 30),
        _row(1, "K3", T0, "FAILED", 3),
        _row(2, "K2", T0, "COMPLETED", 20),
        _row(2, "K2", T0, "FAILED", 10),
        _row(2, "K2", T0, "FAILED", 50),
        _row(2, "K2", boundary, "IN_PROGRESS"),
        _row(2, "K2", boundary + timedelta(seconds=1), "IN_PROGRESS"),
        _row(2, "K2", datetime(2026, 5, 1, 12), "COMPLETED", at=datetime(2026, 7, 5)),
        _row(2, "K1", T0, "COMPLETED", 12),
        _row(99, "K1", T0, "COMPLETED", 8),
        _row(1, "K1", datetime(2025, 12, 1), "COMPLETED", 3),
        _row(3, "K1", T0, "COMPLETED", 3, org=2),
    ]
    with engine.begin() as conn:
        conn.execute(insert(ChannelAccount.__table__), accounts)
        conn.execute(insert(ChannelOnboarding.__table__), rows)
    return engine


def test_kit_effectiveness_compares_each_kit_with_the_prescribed_one(channel: Engine) -> None:
    with channel.connect() as conn:
        findings = detect_kit_effectiveness(conn, _context())
    assert all(isinstance(f, KitEffectiveness) for f in findings)
    by_region = {f.region: f for f in findings}
    assert set(by_region) == {"R1", "R2"}

    r1 = by_region["R1"]
    assert isinstance(r1, KitEffectiveness)
    # K1 (the override): 1 of 4 matured activated (#2 late, #3 failed, #4 open; #5 censored).
    # K3: 3 of 4 (#8 at exactly 30 days counts).
    assert (r1.policy_kit, r1.better_kit) == ("K1", "K3")
    assert (r1.policy, r1.parameter, r1.policy_value) == (
        "onboarding",
        "regions.R1.default_kit",
        "K1",
    )
    assert (r1.n_a, r1.n_b, r1.n) == (4, 4, 8)
    assert r1.rate_a == pytest.approx(0.25) and r1.rate_b == pytest.approx(0.75)
    assert r1.effect == pytest.approx(0.5) and r1.relative_effect == pytest.approx(2.0)
    assert r1.ratio == pytest.approx(3.0)
    assert r1.median_days_a == pytest.approx(25.0)  # days 10 and 40
    assert r1.median_days_b == pytest.approx(15.0)  # days 5, 15, 30
    ref = compare_proportions(3, 4, 1, 4)
    assert r1.p_value == pytest.approx(ref.p_value)
    assert (r1.ci_low, r1.ci_high) == (pytest.approx(ref.ci_low), pytest.approx(ref.ci_high))
    assert r1.p_value_adj is None  # set by run_detectors, not by the detector
    assert r1.filters == {"region": "R1"}
    assert (r1.period_start, r1.period_end) == (date(2026, 1, 2), AS_OF)
    assert r1.extra["activated_a"] == 1 and r1.extra["activated_b"] == 3

    # R2 has no override: default_kit K2 (#10-13, #15: 1 of 5) vs K1 (#16: 1 of 1).
    r2 = by_region["R2"]
    assert isinstance(r2, KitEffectiveness)
    assert (r2.policy_kit, r2.better_kit, r2.parameter) == ("K2", "K1", "default_kit")
    assert (r2.n_a, r2.n_b) == (5, 1)
    assert r2.rate_a == pytest.approx(0.2) and r2.rate_b == pytest.approx(1.0)
    # #15 completed after the end of the data: no activation days.
    assert r2.median_days_a == pytest.approx(20.0) and r2.median_days_b == pytest.approx(12.0)


def test_region_failure_against_the_rest_of_the_channel(channel: Engine) -> None:
    with channel.connect() as conn:
        findings = detect_region_patterns(conn, _context())
    assert all(isinstance(f, RegionFailure) for f in findings)
    by_region = {f.region: f for f in findings}
    assert set(by_region) == {"R1", "R2"}
    # R1: failed #3, #9 of 8; rest = R2 (6, failed #11, #12) + no-region #17 (1) = 2 of 7.
    r1 = by_region["R1"]
    assert (r1.n_b, r1.n_a) == (8, 7)
    assert r1.rate_b == pytest.approx(2 / 8) and r1.rate_a == pytest.approx(2 / 7)
    assert r1.effect == pytest.approx(2 / 8 - 2 / 7)
    assert r1.ratio == pytest.approx((2 / 8) / (2 / 7))
    # R2: 2 of 6 vs rest R1 + #17: 2 of 9.
    r2 = by_region["R2"]
    assert (r2.n_b, r2.n_a) == (6, 9)
    assert r2.rate_b == pytest.approx(2 / 6) and r2.rate_a == pytest.approx(2 / 9)
    assert r2.p_value == pytest.approx(compare_proportions(2, 6, 2, 9).p_value)
    assert r2.extra["not_activated_rate_b"] == pytest.approx(4 / 6)
    assert r2.filters == {"region": "R2"}


def test_targets_of_channel_and_regions(channel: Engine) -> None:
    with channel.connect() as conn:
        findings = analyze_onboarding_patterns(conn, _context())
    assert all(isinstance(f, OnboardingTarget) for f in findings)
    got = {(f.metric, f.region): f for f in findings if isinstance(f, OnboardingTarget)}
    assert set(got) == {
        (m, r) for m in ("activation_rate", "median_activation_days") for r in (None, "R1", "R2")
    }

    channel_rate = got[("activation_rate", None)]
    assert (channel_rate.n, channel_rate.value, channel_rate.target) == (
        15,
        pytest.approx(7 / 15),
        0.5,
    )
    assert channel_rate.gap == pytest.approx(0.5 - 7 / 15)
    assert channel_rate.effect == pytest.approx(7 / 15 - 0.5)
    assert channel_rate.p_value == pytest.approx(
        sps.binomtest(7, 15, 0.5, alternative="less").pvalue
    )
    assert (channel_rate.parameter, channel_rate.policy_value) == ("target_activation_rate", 0.5)
    assert channel_rate.filters == {}
    assert got[("activation_rate", "R1")].value == pytest.approx(4 / 8)
    assert got[("activation_rate", "R2")].value == pytest.approx(2 / 6)

    # Channel activation days: 10, 40, 5, 15, 30, 20, 12, 8 -> median 13.5; against 20:
    # 2 above (30, 40), 5 below, one tie dropped -> sign test 2 of 7.
    days = got[("median_activation_days", None)]
    assert days.n == 8 and days.value == pytest.approx(13.5)
    assert days.gap == pytest.approx(13.5 - 20) and days.target == 20
    assert days.p_value == pytest.approx(sps.binomtest(2, 7, 0.5, alternative="greater").pvalue)
    assert (days.parameter, days.policy_value) == ("max_activation_days", 20)
    assert got[("median_activation_days", "R1")].value == pytest.approx(15.0)
    assert got[("median_activation_days", "R2")].value == pytest.approx(16.0)
    assert got[("median_activation_days", "R2")].filters == {"region": "R2"}


def test_empty_channel_gives_no_findings(engine: Engine) -> None:
    ctx = _context()
    with engine.connect() as conn:
        assert detect_kit_effectiveness(conn, ctx) == []
        assert detect_region_patterns(conn, ctx) == []
        assert analyze_onboarding_patterns(conn, ctx) == []


# --- The demo's planted scenario (chanperf/demo/scenarios/planted.yaml) -------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return generate_demo_db(tmp_path_factory.mktemp("planted"), "planted", 7)


@pytest.mark.slow
def test_planted_kit_is_found(planted: Engine) -> None:
    affected, effect = planted_truth("detect_kit_effectiveness")
    with planted.connect() as conn:
        findings = detect_kit_effectiveness(conn, demo_context())
    (f,) = [f for f in findings if f.region == affected["region"]]
    assert isinstance(f, KitEffectiveness)
    assert f.better_kit == affected["kit"] and f.parameter == affected["parameter"]
    assert f.rate_a == pytest.approx(effect["kit_a_rate"], abs=0.08)
    assert f.rate_b == pytest.approx(effect["kit_b_rate"], abs=0.08)
    assert f.p_value is not None and f.p_value < PLANTED_ALPHA
    assert f.n_a is not None and f.n_b is not None and min(f.n_a, f.n_b) >= 88  # power.n_per_group


@pytest.mark.slow
def test_planted_region_failure_is_found(planted: Engine) -> None:
    affected, effect = planted_truth("detect_region_patterns")
    with planted.connect() as conn:
        findings = detect_region_patterns(conn, demo_context())
    (f,) = [f for f in findings if f.region == affected["region"]]
    assert f.rate_b == pytest.approx(effect["region_failure_rate"], abs=0.06)
    assert f.rate_a == pytest.approx(effect["rest_failure_rate"], abs=0.05)
    assert f.p_value is not None and f.p_value < PLANTED_ALPHA
    # No other region fails significantly more than the rest.
    others = [g for g in findings if g.region != affected["region"] and (g.effect or 0) > 0]
    assert all(g.p_value is not None and g.p_value > PLANTED_ALPHA for g in others)


@pytest.mark.slow
def test_planted_slow_onboarding_is_found(planted: Engine) -> None:
    affected, effect = planted_truth("analyze_onboarding_patterns")
    with planted.connect() as conn:
        findings = analyze_onboarding_patterns(conn, demo_context())
    got = {(f.metric, f.region): f for f in findings if isinstance(f, OnboardingTarget)}
    rate = got[("activation_rate", affected["region"])]
    days = got[("median_activation_days", affected["region"])]
    assert rate.value == pytest.approx(effect["activation_rate"], abs=0.06)
    assert days.value == pytest.approx(effect["median_activation_days"], abs=3)
    assert rate.p_value is not None and rate.p_value < PLANTED_ALPHA
    assert days.p_value is not None and days.p_value < PLANTED_ALPHA
    # Every other cut meets both targets.
    assert all(
        f.p_value is not None and f.p_value > PLANTED_ALPHA
        for (_, region), f in got.items()
        if region != affected["region"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_null_scenario_has_no_strong_onboarding_signal(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    eng = generate_demo_db(tmp_path_factory.mktemp("null"), "null", seed)
    ctx = demo_context()
    with eng.connect() as conn:
        findings = [
            *detect_kit_effectiveness(conn, ctx),
            *detect_region_patterns(conn, ctx),
            *analyze_onboarding_patterns(conn, ctx),
        ]
    assert findings  # the detectors ran on real data
    strong = [f for f in findings if f.p_value is not None and f.p_value < PLANTED_ALPHA]
    assert strong == []
