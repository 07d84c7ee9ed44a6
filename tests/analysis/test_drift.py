"""Weekly KPI drift from WEEKLY metric rows inserted by hand.

as_of = 2024-06-30 (a Sunday), history_weeks = 8, changepoint_min_weeks = 2: win rate and
NPS scan the 8 weeks 05-06 … 06-24. Cohort KPIs end at their latest matured week: the
30-day activation window moves them back ceil(30/7) = 5 weeks (04-01 … 05-20), average
activation days two windows, ceil(60/7) = 9 weeks (03-04 … 04-22); the 90-day reincidence
window 13 weeks (no rows here: no finding).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from sqlalchemy import Engine

from chanperf.analysis.context import AnalysisConfig, AnalysisContext, load_analysis_config
from chanperf.analysis.detect import run_detectors
from chanperf.analysis.detectors.drift import detect_metric_drift, first_week_needed
from chanperf.analysis.findings import MetricDrift
from chanperf.core.changepoint import max_z_p_value
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.models.base import Base
from chanperf.models.performance import PerformanceMetric, SegmentMetric
from chanperf.policies.load import load_policies


def make_ctx() -> AnalysisContext:
    config = AnalysisConfig(history_weeks=8, changepoint_min_weeks=2)
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


def _mondays(first: str, count: int) -> list[str]:
    start = date.fromisoformat(first).toordinal()
    return [date.fromordinal(start + 7 * i).isoformat() for i in range(count)]


@pytest.fixture
def weekly(engine: Engine) -> Engine:
    rows: dict[str, dict[str, Any]] = {}

    def put(day: str, **measures: Any) -> None:
        rows.setdefault(day, {}).update(measures)

    # Win rate: 30/100 in the 5 weeks 05-06 … 06-03, 15/100 in the 3 weeks 06-10 … 06-24.
    for i, day in enumerate(_mondays("2024-05-06", 8)):
        put(day, reactivation_won=30 if i < 5 else 15, reactivation_resolved=100)
    # NPS: 25 promoters and 10 detractors of 50 for 6 weeks, then 15 and 20 of 50 for 2.
    for i, day in enumerate(_mondays("2024-05-06", 8)):
        p, d = (25, 10) if i < 6 else (15, 20)
        put(day, nps_responses=50, nps_promoters=p, nps_detractors=d)
    # Activation: 20/40 in 04-01 … 04-22, then 30/40 in 04-29 … 05-20.
    for i, day in enumerate(_mondays("2024-04-01", 8)):
        put(day, onboarding_activated_in_window=20 if i < 4 else 30, onboarding_matured=40)
    # Days: 20 completions a week, mean days 10, 12, 10, 12 then 15, 17, 15, 17.
    for day, mean in zip(_mondays("2024-03-04", 8), (10, 12, 10, 12, 15, 17, 15, 17), strict=True):
        put(day, onboarding_completed=20, activation_days_sum=20 * mean)
    # Outside the win-rate history (the week before it): ignored by the win-rate scan.
    put("2024-04-29", reactivation_won=0, reactivation_resolved=999)
    channel = [week(day, **measures) for day, measures in rows.items()]
    # Ignored: a DAILY row and another org.
    channel += [
        {
            **week("2024-06-17", reactivation_won=0, reactivation_resolved=999),
            "period_type": "DAILY",
        },
        {**week("2024-06-17", reactivation_won=0, reactivation_resolved=999), "org_id": 2},
    ]
    # Region R1: win rate 10/50 every week (no change); a kit cut is ignored.
    region = [
        {
            **week(d, reactivation_won=10, reactivation_resolved=50),
            "dimension": "region",
            "dimension_value": "R1",
        }
        for d in _mondays("2024-05-06", 8)
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


def test_weekly_kpis_change_points(weekly: Engine) -> None:
    with weekly.connect() as conn:
        found = detect_metric_drift(conn, make_ctx())
    assert all(isinstance(f, MetricDrift) for f in found)
    by = {(f.metric, f.region): f for f in found}
    assert set(by) == {
        ("activation_rate", None),
        ("avg_activation_days", None),
        ("win_rate", None),
        ("nps", None),
        ("win_rate", "R1"),
    }

    win = by[("win_rate", None)]
    # Pooled 195/800, v = p(1 − p); one successive difference, −0.15 / √(2/100): mean(d²) =
    # 1.125 / 7 < v, so φ = 1. Best split after 5 weeks: z = −0.15 / √(v (1/500 + 1/300)).
    v = 195 / 800 * (1 - 195 / 800)
    z = -0.15 / math.sqrt(v * (1 / 500 + 1 / 300))
    assert (win.n_a, win.n_b, win.rate_a, win.rate_b) == (500, 300, 0.3, 0.15)
    assert win.change_start == date(2024, 6, 10)
    assert (win.baseline_weeks, win.recent_weeks) == (5, 3)
    assert win.effect == pytest.approx(-0.15) and win.relative_effect == pytest.approx(-0.5)
    assert win.extra["statistic"] == pytest.approx(z) and win.extra["dispersion"] == 1.0
    # Splits after 2 … 6 weeks: information times 200/800 … 600/800.
    units = np.array([i / 8 for i in range(2, 7)])
    assert win.p_value == pytest.approx(max_z_p_value(z, units))
    assert 2 * sps.norm.sf(abs(z)) < win.p_value < 5 * 2 * sps.norm.sf(abs(z))
    assert win.ci_low == pytest.approx(-0.15 - 1.959964 * 0.15 / abs(z), abs=1e-6)
    assert (win.direction, win.category) == ("worse", "reactivation")
    assert (win.worsening, win.relative_worsening) == (pytest.approx(0.15), pytest.approx(0.5))
    assert (win.period_start, win.period_end) == (date(2024, 6, 10), date(2024, 6, 30))
    assert win.filters == {"metric": "win_rate"} and win.extra["lag_weeks"] == 0
    assert win.extra["history_first_week"] == "2024-05-06"

    act = by[("activation_rate", None)]
    assert (act.rate_a, act.rate_b, act.direction, act.category) == (
        0.5,
        0.75,
        "better",
        "onboarding",
    )
    assert act.change_start == date(2024, 4, 29) and act.extra["lag_weeks"] == 5
    assert (act.period_start, act.period_end) == (date(2024, 4, 29), date(2024, 5, 26))

    days = by[("avg_activation_days", None)]
    # No known variance: successive differences of the weekly means over √(2/20) give
    # mean(d²) = (6 × 4 + 9) / 7 / 0.1; best split after 4 weeks, 11 → 16 days.
    variance = (6 * 4 + 9) / 7 / 0.1
    assert days.change_start == date(2024, 4, 1)
    assert (days.rate_a, days.rate_b, days.effect) == (
        pytest.approx(11),
        pytest.approx(16),
        pytest.approx(5),
    )
    assert days.extra["statistic"] == pytest.approx(5 / math.sqrt(variance * (2 / 80)))
    assert days.direction == "worse" and (days.n_a, days.n_b) == (80, 80)
    assert days.extra["lag_weeks"] == 9
    # The activation rate of the channel got better, not worse: nothing for days to follow.
    assert days.follows_metric is None and days.follows_p_value is None

    nps = by[("nps", None)]
    # Pooled P = 180/400, D = 100/400: NPS 0.2, unit variance 0.70 − 0.04 = 0.66; best split
    # after 6 weeks: 0.30 → −0.10, z = −0.4 / √(0.66 (1/300 + 1/100)).
    assert nps.change_start == date(2024, 6, 17)
    assert (nps.rate_a, nps.rate_b, nps.effect) == (
        pytest.approx(30),
        pytest.approx(-10),
        pytest.approx(-40),
    )
    assert nps.extra["statistic"] == pytest.approx(-0.4 / math.sqrt(0.66 * (1 / 300 + 1 / 100)))
    assert (nps.direction, nps.category, nps.relative_effect) == (
        "worse",
        "quality",
        pytest.approx(-0.4 / 0.3),
    )

    r1 = by[("win_rate", "R1")]
    # The same rate every week: no change anywhere (effect 0, p 1).
    assert (r1.rate_a, r1.rate_b, r1.direction, r1.p_value) == (0.2, 0.2, "unchanged", 1.0)
    assert r1.filters == {"metric": "win_rate", "region": "R1"}


def test_no_rows_no_finding(engine: Engine) -> None:
    with engine.connect() as conn:
        assert detect_metric_drift(conn, make_ctx()) == []


def test_too_few_weeks_gives_no_scan(engine: Engine) -> None:
    # Days history 03-04 … 04-22; three weeks with data are fewer than 2 × min_weeks.
    rows = [
        week(d, onboarding_completed=10, activation_days_sum=total)
        for d, total in (("2024-04-01", 100), ("2024-04-15", 100), ("2024-04-22", 130))
    ]
    with engine.begin() as conn:
        conn.execute(PerformanceMetric.__table__.insert(), rows)
    with engine.connect() as conn:
        assert detect_metric_drift(conn, make_ctx()) == []
    # With a fourth week it is scanned.
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
    """Generate a demo scenario into SQLite and collect the weeks the drift scans read."""
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
    collect(
        settings,
        org_id=1,
        start=first_week_needed(demo_ctx()),
        end=DEMO_AS_OF,
        as_of=period.end,
    )
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
    # nps_drift: channel NPS falls in the last 8 weeks (56 days before the end of 11-23).
    nps = one("metric_drift", metric="nps", region=None, segment=None)
    assert nps.direction == "worse" and nps.category == "quality" and nps.p_value_adj < 1e-6
    assert abs((nps.change_start - date(2026, 9, 28)).days) <= 7


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
