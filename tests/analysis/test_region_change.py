"""When a region's difference started decides the insight's type, on a generated channel.

tests/fixtures/region_change.yaml plants two regions: NORTE activated 62 % until 150 days
before the end and 36 % since (a slip: EXECUTION_DRIFT, dated); SUL always activated 55 %
and failed 35 % (a gap: POLICY_GAP, and no drift). The whole pipeline runs once (collect,
detect, rules, insights); the expected numbers come from the scenario file.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chanperf.analysis.run import analyze
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.demo.run import run_demo
from chanperf.models.performance import PerformanceInsight

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).resolve().parents[1] / "fixtures" / "region_change.yaml"
AS_OF = date(2026, 6, 30)
DROP_DAYS = 150  # the scenario's `last_days` of NORTE's drop


@pytest.fixture(scope="module")
def insights(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("region_change")
    shutil.copytree(REPO_ROOT / "policies", tmp / "policies")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'demo.db'}",
        policies_dir=tmp / "policies",
        rules_dir=REPO_ROOT / "rules",
        database_url_chosen=True,
    )
    run_demo(
        settings, scenario=str(SCENARIO), seed=3, as_of=AS_OF, analyse=False, echo=lambda _: None
    )
    analyze(settings, 1, AS_OF)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(PerformanceInsight.__table__)).mappings()]
    finally:
        engine.dispose()


def _within(observed: float, planted: float, n: int, k: float = 3.0) -> bool:
    return abs(observed - planted) <= k * math.sqrt(planted * (1 - planted) / n)


def test_a_recent_drop_is_one_dated_drift_and_no_gap(insights: list[dict[str, Any]]) -> None:
    norte = [i for i in insights if i["affected_region"] == "NORTE"]
    assert [i["insight_type"] for i in norte] == ["EXECUTION_DRIFT"], [
        (i["rule_id"], i["title"]) for i in norte
    ]
    (drift,) = norte
    assert drift["rule_id"] == "onboarding_metric_drift"
    evidence = drift["evidence"]
    # The drop began 150 days before the end of the as-of day: found within three weeks.
    planted_start = AS_OF + timedelta(days=1) - timedelta(days=DROP_DAYS)
    found_start = date.fromisoformat(evidence["change_start"])
    assert abs((found_start - planted_start).days) <= 21, (found_start, planted_start)
    # The rates before and after are the planted 62 % and 36 %, and the text quotes them.
    assert _within(evidence["rate_a"], 0.62, evidence["n_a"])
    assert _within(evidence["rate_b"], 0.36, evidence["n_b"])
    assert f"a partir de {found_start:%d/%m/%Y}" in drift["title"]


def test_a_region_always_worse_is_a_gap_and_no_drift(insights: list[dict[str, Any]]) -> None:
    sul = [i for i in insights if i["affected_region"] == "SUL"]
    assert [(i["insight_type"], i["rule_id"]) for i in sul] == [
        ("POLICY_GAP", "region_failure_above_channel")
    ], [(i["rule_id"], i["title"]) for i in sul]
    evidence = sul[0]["evidence"]
    # The difference was there before any change the scan could date, too.
    assert "change_p_value" in evidence
    if evidence["change_p_value"] < 0.05:
        assert evidence["effect_before"] >= 0.10
    assert _within(evidence["rate_b"], 0.35, evidence["n_b"])


def test_no_other_region_or_segment_gives_an_insight(insights: list[dict[str, Any]]) -> None:
    others = [i for i in insights if i["affected_region"] not in ("NORTE", "SUL")]
    assert not others, [(i["rule_id"], i["title"]) for i in others]
