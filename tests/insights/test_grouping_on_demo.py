"""One insight per cause through the whole analysis: the planted demo channel, whose NPS
drops everywhere in the last 8 weeks, with one region planted to drop much further.

The scenario file is the shipped `planted` one plus one effect; what the analysis must
report comes from those two effects, not from chanperf code.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from sqlalchemy import select

from chanperf.analysis.run import analyze
from chanperf.core.database import make_engine
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.demo.run import run_demo
from chanperf.demo.scenario_file import resolve_scenario_path
from chanperf.models.performance import PerformanceInsight
from tests.demo_data import DEMO_AS_OF

pytestmark = pytest.mark.slow

FURTHER = "SAO_PAULO"  # the scenario's clean region (no other planted effect)


def test_the_channel_falling_and_one_region_falling_much_further_are_two_insights(tmp_path):
    doc = yaml.safe_load(resolve_scenario_path("planted").read_text(encoding="utf-8"))
    (drop,) = [e for e in doc["effects"] if "nps_promoter_share" in e["set"]]
    # the channel: 55 % promoters / 15 % detractors -> 30 / 40 (NPS 40 -> -10) over the
    # last 56 days, half of them in the drift's baseline weeks; the region: 2 / 90
    # (NPS -88) over the last 30 days, the drift's four recent weeks (a later effect wins)
    assert drop["where"]["last_days"] > 30
    doc["effects"].append(
        {
            "name": "NPS despenca em uma região",
            "where": {"region": FURTHER, "last_days": 30},
            "set": {"nps_promoter_share": 0.02, "nps_detractor_share": 0.90},
        }
    )
    scenario = tmp_path / "further.yaml"
    scenario.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    shutil.copytree(REPO_ROOT / "policies", tmp_path / "policies")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        policies_dir=tmp_path / "policies",
        rules_dir=REPO_ROOT / "rules",
        database_url_chosen=True,
    )
    run_demo(
        settings,
        scenario=str(scenario),
        seed=7,
        as_of=DEMO_AS_OF,
        analyse=False,
        echo=lambda _: None,
    )
    analyze(settings, 1, DEMO_AS_OF)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = list(conn.execute(select(PerformanceInsight.__table__)).mappings())
    engine.dispose()

    nps = {
        (r["affected_region"], r["affected_segment"]): r
        for r in rows
        if r["rule_id"] == "nps_drift"
    }
    assert set(nps) == {(None, None), (FURTHER, None)}
    drill = {(e["dimension"], e["value"]): e for e in nps[None, None]["evidence"]["drilldown"]}
    assert set(drill) == {("region", r) for r in doc["regions"]} | {
        ("segment", s) for s in doc["segments"]
    }
    further = drill["region", FURTHER]
    assert further["differs"] and further["own_insight"]
    assert further["difference_vs_rest"] < 0  # it fell more than the rest of the channel
    assert not any(e["own_insight"] for k, e in drill.items() if k != ("region", FURTHER))
    # the region's own insight: its NPS fell more than the channel's
    assert nps[FURTHER, None]["evidence"]["effect"] < nps[None, None]["evidence"]["effect"]
