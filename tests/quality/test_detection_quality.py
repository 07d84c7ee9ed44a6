"""Detection quality on scenarios the analysis has never seen (a fixed-seed slice for CI).

Every code of the shipped scenarios is renamed at random and every planted effect is
rescaled, so nothing tuned to the demo's names or sizes can pass. The full run with its
recall and false-discovery figures is `chanperf eval` (figures in the README); these
seeds are the first ones of that run, fixed before looking at any result.
"""

from __future__ import annotations

from datetime import date

import pytest

from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.demo.quality import evaluate_run, prepare

pytestmark = pytest.mark.slow

AS_OF = date(2026, 6, 30)
BASE = Settings(policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules")


def test_renaming_leaves_no_demo_code_behind(tmp_path):
    scenario, policies, doc = prepare("planted", 1000, BASE.policies_dir, tmp_path, rescale=True)
    text = scenario.read_text() + "".join(p.read_text() for p in policies.glob("*.yaml"))
    for code in ("NORTE", "KIT_A", "KIT_B", "OURO", "WHATSAPP", "PERF-001", "NORDESTE"):
        assert code not in text
    # the policy pack follows the scenario: the renamed region override is still there
    region = next(p["affected"]["region"] for p in doc["planted"] if p["id"] == "kit_norte")
    assert f"{region}:" in (policies / "onboarding.yaml").read_text()


def test_unseen_planted_scenario_every_pattern_found():
    run = evaluate_run("planted", 1000, BASE, AS_OF)
    missed = [pid for pid, _detector, found in run.planted if not found]
    assert not missed, (
        f"missed {missed}; insights: {[(f.rule_id, f.region, f.segment) for f in run.insights]}"
    )


@pytest.mark.parametrize("seed", [1500, 1501])
def test_unseen_null_scenario_has_no_insight(seed):
    run = evaluate_run("null", seed, BASE, AS_OF)
    assert run.clean, [(f.rule_id, f.region, f.segment, f.text[:120]) for f in run.insights]
