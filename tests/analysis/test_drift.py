"""Weekly KPI drift from WEEKLY metric rows inserted by hand.

as_of = 2024-06-30 with recent_weeks = baseline_weeks = 2: baseline Mondays 06-03,
06-10 and recent Mondays 06-17, 06-24 for win rate and NPS. Cohort KPIs compare
their latest matured weeks: the 30-day activation window moves them back
ceil(30/7) = 5 weeks (baseline 04-29, 05-06; recent 05-13, 05-20), average
activation days two windows, ceil(60/7) = 9 weeks (baseline 04-01, 04-08; recent
04-15, 04-22), the 90-day reincidence window 13 weeks (baseline 03-04, 03-11;
recent 03-18, 03-25).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from scipy import stats as sps
from sqlalchemy import Engine

from chanperf.analysis.context import AnalysisConfig, AnalysisContext, load_analysis_config
from chanperf.analysis.detect import run_detectors
from chanperf.analysis.detectors.drift import detect_metric_drift
from chanperf.analysis.findings import MetricDrift
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.core.stats import compare_proportions
from chanperf.models.base import Base
from chanperf.models.performance import PerformanceMetric, SegmentMetric
from chanperf.policies.load import load_policies


def make_ctx() -> AnalysisContext:
    config = AnalysisConfig(recent_weeks=2, baseline_weeks=2)
    return AnalysisContext(
        1, date(2024, 6, 30), load_policies(REPO_ROOT / "policies"), config, "UTC"
    )


def week(day: str, **measures: Any) -> dict[str, Any]:
    return {
        "org_id": 1,
        "period_date": date.fromisoformat(day),
        "period_type": "WEEKLY",
        **measures,
    }


@pytest.fixture
def weekly(engine: Engine) -> Engine:
    rows = {
        # Win rate: baseline 30/100 twice -> 60/200; recent 15/100 twice -> 30/200. NPS: baseline
        # 25 promoters and 10 detractors of 50, twice; recent 15 and 20 of 50, twice.
        "2024-06-03": {
            "reactivation_won": 30,
            "reactivation_resolved": 100,
            "nps_responses": 50,
            "nps_promoters": 25,
            "nps_detractors": 10,
        },
        "2024-06-10": {
            "reactivation_won": 30,
            "reactivation_resolved": 100,
            "nps_responses": 50,
            "nps_promoters": 25,
            "nps_detractors": 10,
        },
        "2024-06-17": {
            "reactivation_won": 15,
            "reactivation_resolved": 100,
            "nps_responses": 50,
            "nps_promoters": 15,
            "nps_detractors": 20,
        },
        "2024-06-24": {
            "reactivation_won": 15,
            "reactivation_resolved": 100,
            "nps_responses": 50,
            "nps_promoters": 15,
            "nps_detractors": 20,
        },
        # Activation: baseline 20/40 twice, recent 30/40 twice.
        "2024-04-29": {"onboarding_activated_in_window": 20, "onboarding_matured": 40},
        "2024-05-06": {"onboarding_activated_in_window": 20, "onboarding_matured": 40},
        "2024-05-13": {"onboarding_activated_in_window": 30, "onboarding_matured": 40},
        "2024-05-20": {"onboarding_activated_in_window": 30, "onboarding_matured": 40},
        # Days: 20 completions a week, mean days 10, 12 (baseline) then 15, 17 (recent).
        "2024-04-01": {"onboarding_completed": 20, "activation_days_sum": 200},
        "2024-04-08": {"onboarding_completed": 20, "activation_days_sum": 240},
        "2024-04-15": {"onboarding_completed": 20, "activation_days_sum": 300},
        "2024-04-22": {"onboarding_completed": 20, "activation_days_sum": 340},
        # Reincidence: baseline 5/50 twice, recent 10/50 twice.
        "2024-03-04": {"reincidences": 5, "reactivation_matured": 50},
        "2024-03-11": {"reincidences": 5, "reactivation_matured": 50},
        "2024-03-18": {"reincidences": 10, "reactivation_matured": 50},
        "2024-03-25": {"reincidences": 10, "reactivation_matured": 50},
    }
    channel = [week(day, **measures) for day, measures in rows.items()]
    # Ignored: a DAILY row, another org, and weeks outside every comparison.
    channel += [
        {
            **week("2024-06-17", reactivation_won=0, reactivation_resolved=999),
            "period_type": "DAILY",
        },
        {**week("2024-06-17", reactivation_won=0, reactivation_resolved=999), "org_id": 2},
        week("2024-05-27", reactivation_won=0, reactivation_resolved=999),
    ]
    # Region R1: win rate only, 10/50 per baseline week and 15/50 per recent week; a kit cut is ignored.
    region = [
        {
            **week(d, reactivation_won=w, reactivation_resolved=50),
            "dimension": "region",
            "dimension_value": "R1",
        }
        for d, w in (("2024-06-03", 10), ("2024-06-10", 10), ("2024-06-17", 15), ("2024-06-24", 15))
    ]
    region.append(
        {
            **week("2024-06-17", reactivation_won=1, reactivation_resolved=2),
            "dimension": "kit",
            "dimension_value": "K1",
        }
    )
    with engine.begin() as conn:
        # One insert per row: the rows name different measures (the others default to 0).
        for row in channel:
            conn.execute(PerformanceMetric.__table__.insert(), row)
        for row in region:
            conn.execute(SegmentMetric.__table__.insert(), row)
    return engine


def test_weekly_kpis_recent_against_baseline(weekly: Engine) -> None:
    with weekly.connect() as conn:
        found = detect_metric_drift(conn, make_ctx())
    assert all(isinstance(f, MetricDrift) for f in found)
    by = {(f.metric, f.region): f for f in found}
    assert set(by) == {
        ("activation_rate", None),
        ("avg_activation_days", None),
        ("win_rate", None),
        ("reincidence_rate", None),
        ("nps", None),
        ("win_rate", "R1"),
    }

    win = by[("win_rate", None)]
    expected = compare_proportions(30, 200, 60, 200)
    assert (win.n_a, win.n_b, win.rate_a, win.rate_b) == (200, 200, 0.3, 0.15)
    assert win.effect == pytest.approx(-0.15) and win.relative_effect == pytest.approx(-0.5)
    assert win.p_value == pytest.approx(expected.p_value)
    assert (win.ci_low, win.ci_high) == (
        pytest.approx(expected.ci_low),
        pytest.approx(expected.ci_high),
    )
    assert (win.direction, win.category, win.recent_weeks, win.baseline_weeks) == (
        "worse",
        "reactivation",
        2,
        2,
    )
    assert (win.period_start, win.period_end) == (date(2024, 6, 3), date(2024, 6, 30))
    assert win.filters == {"metric": "win_rate"} and win.extra["lag_weeks"] == 0

    act = by[("activation_rate", None)]
    assert (act.rate_a, act.rate_b, act.direction, act.category) == (
        0.5,
        0.75,
        "better",
        "onboarding",
    )
    assert act.p_value == pytest.approx(compare_proportions(60, 80, 40, 80).p_value)
    assert act.extra["lag_weeks"] == 5 and act.extra["recent_first_week"] == "2024-05-13"
    assert (act.period_start, act.period_end) == (date(2024, 4, 29), date(2024, 5, 26))

    days = by[("avg_activation_days", None)]
    # Weekly means 10, 12 vs 15, 17: effect 5; Welch t = 5 / √(2/2 + 2/2) with 2 df.
    assert (days.rate_a, days.rate_b, days.effect) == (
        pytest.approx(11),
        pytest.approx(16),
        pytest.approx(5),
    )
    assert days.p_value == pytest.approx(2 * sps.t.sf(5 / math.sqrt(2), 2))
    half = sps.t.ppf(0.975, 2) * math.sqrt(2)
    assert (days.ci_low, days.ci_high) == (pytest.approx(5 - half), pytest.approx(5 + half))
    assert days.direction == "worse" and (days.n_a, days.n_b) == (40, 40)
    assert days.extra["lag_weeks"] == 9 and days.period_start == date(2024, 4, 1)

    reinc = by[("reincidence_rate", None)]
    assert (reinc.rate_a, reinc.rate_b, reinc.direction) == (0.1, 0.2, "worse")
    assert reinc.extra["lag_weeks"] == 13 and reinc.period_start == date(2024, 3, 4)

    nps = by[("nps", None)]
    # Baseline NPS (50 − 20)/100 = 0.30, variance 0.70 − 0.09; recent (30 − 40)/100 = −0.10,
    # variance 0.70 − 0.01; se = √(0.61/100 + 0.69/100).
    se = math.sqrt(0.0061 + 0.0069)
    assert (nps.rate_a, nps.rate_b, nps.effect) == (
        pytest.approx(30),
        pytest.approx(-10),
        pytest.approx(-40),
    )
    assert nps.p_value == pytest.approx(2 * sps.norm.sf(0.4 / se))
    assert nps.ci_low == pytest.approx(100 * (-0.4 - 1.959964 * se), abs=1e-3)
    assert (nps.direction, nps.category, nps.relative_effect) == (
        "worse",
        "quality",
        pytest.approx(-0.4 / 0.3),
    )

    r1 = by[("win_rate", "R1")]
    assert (r1.rate_a, r1.rate_b, r1.direction, r1.segment) == (0.2, 0.3, "better", None)
    assert r1.filters == {"metric": "win_rate", "region": "R1"}


def test_no_rows_no_finding(engine: Engine) -> None:
    with engine.connect() as conn:
        assert detect_metric_drift(conn, make_ctx()) == []


def test_a_single_week_per_side_gives_no_weekly_mean_test(engine: Engine) -> None:
    # Days lag 9 weeks: baseline 04-01, 04-08 (only 04-01 has a row), recent 04-15, 04-22.
    rows = [
        week(d, onboarding_completed=10, activation_days_sum=total)
        for d, total in (("2024-04-01", 100), ("2024-04-15", 100), ("2024-04-22", 130))
    ]
    with engine.begin() as conn:
        conn.execute(PerformanceMetric.__table__.insert(), rows)
    with engine.connect() as conn:
        assert detect_metric_drift(conn, make_ctx()) == []
    # With the second baseline week it is tested.
    with engine.begin() as conn:
        conn.execute(
            PerformanceMetric.__table__.insert(),
            week("2024-04-08", onboarding_completed=10, activation_days_sum=120),
        )
    with engine.connect() as conn:
        assert [f.metric for f in detect_metric_drift(conn, make_ctx())] == ["avg_activation_days"]


# --- the demo's planted and null scenarios (every detector of this engineer) -----------

DEMO_AS_OF = date(2026, 11, 23)


def _demo(tmp: Path, scenario: str, seed: int) -> Engine:
    """Generate a demo scenario into SQLite and collect the weeks drift compares (no lag)."""
    from chanperf.demo.generator import generate, period_for, write
    from chanperf.demo.scenario_file import load_scenario
    from chanperf.metrics.collect import collect

    url = f"sqlite:///{tmp / scenario}.db"
    eng = make_engine(url)
    Base.metadata.create_all(eng)
    settings = Settings(database_url=url)
    scn = load_scenario(scenario)
    period = period_for(DEMO_AS_OF, scn.history_months, settings.tz)
    with eng.begin() as conn:
        write(conn, generate(scn, seed=seed, accounts=None, period=period, org_id=1))
    baseline, _ = demo_ctx().weeks()
    collect(settings, org_id=1, start=baseline[0], end=DEMO_AS_OF, as_of=period.end)
    return eng


def demo_ctx() -> AnalysisContext:
    config = load_analysis_config(REPO_ROOT / "rules")
    return AnalysisContext(1, DEMO_AS_OF, load_policies(REPO_ROOT / "policies"), config)


MINE = (
    "detect_bottlenecks",
    "predict_churn_risk",
    "detect_excessive_exceptions",
    "detect_policy_gaps",
    "detect_misalignments",
    "detect_metric_drift",
)


@pytest.mark.slow
def test_planted_patterns_are_found(tmp_path_factory: pytest.TempPathFactory) -> None:
    eng = _demo(tmp_path_factory.mktemp("planted"), "planted", 7)
    with eng.connect() as conn:
        found = run_detectors(conn, demo_ctx(), only=MINE)

    def one(kind: str, **fields: Any) -> Any:
        hits = [
            f
            for f in found
            if f.kind == kind and all(getattr(f, k) == v for k, v in fields.items())
        ]
        assert len(hits) == 1, (kind, fields, len(hits))
        return hits[0]

    # stuck_sudeste: 47 % of SUDESTE's STALLED accounts are over 90 days, none elsewhere. The
    # median (84 days) stays under the maximum, so the sign test does not see it.
    stuck = one("state_bottleneck", signal="over_max_share", state="STALLED", region="SUDESTE")
    assert stuck.rate_b > 0.3 and stuck.rate_a < 0.05 and stuck.p_value_adj < 1e-6
    # churn_ouro: OURO's at-risk share rises against the baseline snapshot.
    ouro = one("churn_risk", segment="OURO")
    assert ouro.effect > 0 and ouro.p_value_adj < 1e-3
    # exceptions_perfume: a quarter of PERF-001's lines excepted, 85 % granted.
    perf = one("excessive_exceptions", sku="PERF-001")
    assert perf.exception_rate == pytest.approx(0.25, abs=0.02) and perf.granted_share > 0.8
    assert perf.p_value_adj < 1e-6
    # whatsapp_gap: WHATSAPP is not allowed and wins far less.
    whatsapp = one("uncovered_activity", dimension="strategy", value="WHATSAPP")
    assert whatsapp.effect < -0.2 and whatsapp.p_value_adj < 1e-6
    # margin_diamante and priority_nordeste.
    margin = one("misalignment", signal="margin", segment="DIAMANTE")
    assert margin.margin < 0.25 and margin.p_value_adj < 1e-6
    share = one("misalignment", signal="priority_share_vs_min", region="NORDESTE")
    assert share.priority_share < 0.2 and share.p_value_adj < 1e-6
    # nps_drift: channel NPS falls in the recent weeks.
    nps = one("metric_drift", metric="nps", region=None, segment=None)
    assert nps.direction == "worse" and nps.category == "quality" and nps.p_value_adj < 1e-6


@pytest.mark.slow
def test_null_scenario_gives_no_discovery(tmp_path_factory: pytest.TempPathFactory) -> None:
    eng = _demo(tmp_path_factory.mktemp("null"), "null", 11)
    with eng.connect() as conn:
        found = run_detectors(conn, demo_ctx(), only=MINE)
    assert len(found) > 100  # every comparison is reported, significant or not
    adjusted = [f.p_value_adj for f in found if f.p_value_adj is not None]
    assert min(adjusted) > 0.05
    # The smallest raw p-value (NPS of one region, about 0.001) is what ~130 tests give by chance.
    assert min(f.p_value for f in found if f.p_value is not None) > 5e-4
