"""Proposals from insight drafts: JSON Patch, a `git apply`-able diff, impact, plan, dedup.

Drafts are built the way the analysis builds them: findings evaluated by the
shipped rules (`rules/*.yaml`) against a copy of the shipped policies.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from scipy.stats import norm
from sqlalchemy import func, select

from chanperf.analysis.findings import DiscountReincidence, Finding, KitEffectiveness
from chanperf.core.enums import ProposalStatus, SuggestedAction
from chanperf.core.settings import REPO_ROOT
from chanperf.experiments.design import PopulationStats, load_experiment_config
from chanperf.insights.drafts import InsightDraft, build_insight_drafts
from chanperf.insights.store import InsightSync
from chanperf.models.performance import PolicyProposal
from chanperf.policies.load import PolicySet, load_policies
from chanperf.proposals.generate import ProposalSpec, generate_policy_proposal
from chanperf.proposals.store import create_proposals_for_run, store_proposal
from chanperf.proposals.workflow import SYSTEM_ACTOR
from chanperf.rules.engine import evaluate
from chanperf.rules.load import load_rules

RULES = REPO_ROOT / "rules"
CONFIG = load_experiment_config(RULES)
PERIOD = {"org_id": 1, "period_start": date(2026, 1, 1), "period_end": date(2026, 6, 30)}


def policies_copy(tmp_path: Path) -> Path:
    """A git checkout holding a copy of the shipped `policies/` folder."""
    repo = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "policies", repo / "policies")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git[:-2], "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "policies"], check=True)
    return repo / "policies"


def discount_finding() -> DiscountReincidence:
    return DiscountReincidence(
        **PERIOD,
        n=400,
        n_a=250,
        n_b=150,
        rate_a=0.12,
        rate_b=0.45,
        effect=0.33,
        relative_effect=2.75,
        ci_low=0.24,
        ci_high=0.42,
        p_value=1e-9,
        p_value_adj=1e-8,
        policy="reactivation",
        parameter="max_discount_pct",
        policy_value=10.0,
        high_threshold_pct=8.0,
        low_threshold_pct=5.0,
        current_max_discount_pct=10.0,
        suggested_max_discount_pct=5.0,
        cost_difference=15000.0,
    )


def kit_finding(policies: PolicySet, region: str | None = None) -> KitEffectiveness:
    """Region with an override in the shipped policy (replace), or a new region (add)."""
    overrides = policies.get("onboarding.regions")
    if region is None:
        region = next(iter(overrides))
        parameter, policy_kit = f"regions.{region}.default_kit", overrides[region]["default_kit"]
    else:
        parameter, policy_kit = (
            f"regions.{region}.default_kit",
            policies.get("onboarding.default_kit"),
        )
    return KitEffectiveness(
        **PERIOD,
        n=200,
        n_a=120,
        n_b=80,
        rate_a=0.45,
        rate_b=0.78,
        effect=0.33,
        relative_effect=0.73,
        ci_low=0.2,
        ci_high=0.45,
        p_value=1e-6,
        p_value_adj=1e-5,
        region=region,
        policy="onboarding",
        parameter=parameter,
        policy_value=policy_kit,
        policy_kit=policy_kit,
        better_kit="K_BETTER",
        ratio=0.78 / 0.45,
    )


def drafts_for(policies: PolicySet, *findings: Finding) -> list[InsightDraft]:
    return build_insight_drafts(evaluate(load_rules(RULES, policies), policies, list(findings)))


def proposal_for(policies: PolicySet, finding: Finding, **kw: object) -> ProposalSpec:
    (draft,) = [d for d in drafts_for(policies, finding) if d.proposal is not None]
    spec = generate_policy_proposal(draft, policies, config=CONFIG, **kw)  # type: ignore[arg-type]
    assert spec is not None
    return spec


def git_apply_check(policies_dir: Path, diff: str) -> None:
    repo = policies_dir.parent
    done = subprocess.run(
        ["git", "-C", str(repo), "apply", "--check", "-"],
        input=diff,
        text=True,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr + diff


def hand_sample_size(p1: float, p2: float, alpha: float, power: float) -> int:
    """Cohen's h and the normal approximation, two arms of equal size.

    n = 2 ((z_{1-a/2} + z_power) / h)^2: the arcsine of a rate from n accounts has
    variance 1/(4n), i.e. 2 asin(sqrt(p)) has 1/n, so the difference of two arms has 2/n.
    """
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return math.ceil(2 * (z / h) ** 2)


def test_discount_insight_lowers_the_cap(tmp_path: Path) -> None:
    folder = policies_copy(tmp_path)
    policies = load_policies(folder)
    spec = proposal_for(policies, discount_finding())
    assert spec.suggested_action == SuggestedAction.ADJUST_PARAMETER
    assert (spec.policy_name, spec.parameter_path) == ("reactivation", "max_discount_pct")
    assert (spec.current_value, spec.proposed_value) == (10, 5)
    assert spec.base_policy_version == 1
    assert spec.policy_patch == [
        {"op": "test", "path": "/params/max_discount_pct", "value": 10},
        {"op": "replace", "path": "/params/max_discount_pct", "value": 5},
    ]
    assert spec.proposed_policy["params"]["max_discount_pct"] == 5
    assert spec.proposed_policy["version"] == 2
    diff = spec.policy_diff
    assert diff.startswith("--- a/policies/reactivation.yaml\n+++ b/policies/reactivation.yaml\n")
    assert "-version: 1\n+version: 2\n" in diff
    assert "-  max_discount_pct: 10\n+  max_discount_pct: 5\n" in diff
    # only the two changed lines: comments, order and quotes untouched
    assert sum(1 for line in diff.splitlines() if line[:1] in "+-") == 6
    git_apply_check(folder, diff)
    assert "10 para 5" in spec.title
    assert spec.experiment_plan is not None and spec.risk_assessment is not None


@pytest.mark.parametrize("new_region", [False, True], ids=["override", "new-region"])
def test_kit_insight_sets_the_regions_default_kit(tmp_path: Path, new_region: bool) -> None:
    folder = policies_copy(tmp_path)
    policies = load_policies(folder)
    finding = kit_finding(policies, "R9" if new_region else None)
    spec = proposal_for(policies, finding)
    assert spec.parameter_path == f"regions.{finding.region}.default_kit"
    assert spec.proposed_value == "K_BETTER"
    op = spec.policy_patch[-1]
    assert op["op"] == ("add" if new_region else "replace")
    assert spec.proposed_policy["params"]["regions"][finding.region] == {"default_kit": "K_BETTER"}
    git_apply_check(folder, spec.policy_diff)
    # apply the diff for real: the file still loads, comments and quoting kept
    subprocess.run(
        ["git", "-C", str(folder.parent), "apply", "-"],
        input=spec.policy_diff,
        text=True,
        check=True,
    )
    text = (folder / "onboarding.yaml").read_text()
    assert 'default_kit: "K_BETTER"' in text
    assert text.count("#") == (REPO_ROOT / "policies/onboarding.yaml").read_text().count("#")
    assert load_policies(folder).policies["onboarding"].version == 2


def test_json_pointer_escaping(tmp_path: Path) -> None:
    from chanperf.policies.files import make_patch, pointer

    assert pointer("regions.A/B~C.default_kit") == "/params/regions/A~1B~0C/default_kit"
    patch = make_patch({"params": {"regions": {}}}, "regions.A/B.default_kit", "K")
    assert patch == [{"op": "add", "path": "/params/regions/A~1B", "value": {"default_kit": "K"}}]


def test_plan_sample_size_matches_a_hand_calculation(tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    population = PopulationStats(
        n=900, baseline=0.52, affected_share=0.6, weekly_volume=25.0, weeks=12
    )
    spec = proposal_for(policies, kit_finding(policies), population=population)
    impact, plan = spec.expected_impact, spec.experiment_plan
    assert impact is not None and plan is not None
    # expected = baseline + affected share x (kit effect) = 0.52 + 0.6 x 0.33
    assert impact["expected"] == pytest.approx(0.52 + 0.6 * 0.33)
    # MDE: half the expected change, at least the floor (rules/analysis/experiments.yaml)
    mde = max(CONFIG.mde_min_absolute, CONFIG.mde_fraction_of_expected * 0.6 * 0.33)
    assert plan["mde"] == pytest.approx(mde)
    n = hand_sample_size(0.52 + mde, 0.52, CONFIG.alpha, CONFIG.power)
    assert plan["sample_size_per_arm"] == n
    # duration: ceil(2 n / weekly volume) weeks + the activation window (30 days)
    assert plan["enrollment_weeks"] == math.ceil(2 * n / 25.0)
    assert plan["maturation_days"] == 30
    assert plan["expected_duration_weeks"] == math.ceil(2 * n / 25.0) + math.ceil(30 / 7)
    assert plan["population"] == {"source": "onboardings", "region": spec.affected_region}
    assert [a["name"] for a in plan["arms"]] == ["control", "treatment"]
    assert plan["alpha"] == CONFIG.alpha and plan["power"] == CONFIG.power
    assert plan["guardrails"] and plan["stopping_rule"]["harm_alpha"] == CONFIG.harm_alpha
    assert plan["primary_metric"] == {
        "name": "activation_rate",
        "direction": "increase",
        "baseline": 0.52,
    }


def test_discount_plan_hand_calculation(tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    population = PopulationStats(
        n=600, baseline=0.25, affected_share=0.4, weekly_volume=10.0, weeks=12
    )
    spec = proposal_for(policies, discount_finding(), population=population)
    plan = spec.experiment_plan
    assert plan is not None
    expected = 0.25 + 0.4 * (0.12 - 0.45)
    assert spec.expected_impact and spec.expected_impact["expected"] == pytest.approx(expected)
    mde = max(CONFIG.mde_min_absolute, CONFIG.mde_fraction_of_expected * abs(expected - 0.25))
    assert plan["target_rate"] == pytest.approx(0.25 - mde)  # lower reincidence is better
    n = hand_sample_size(0.25, 0.25 - mde, CONFIG.alpha, CONFIG.power)
    assert plan["sample_size_per_arm"] == n
    assert plan["maturation_days"] == 90
    assert plan["expected_duration_days"] == math.ceil(2 * n / 10.0) * 7 + 90


def test_no_proposal_for_actions_without_a_policy_change(tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    (draft,) = [d for d in drafts_for(policies, discount_finding()) if d.proposal]
    import dataclasses

    escalate = dataclasses.replace(draft, suggested_action=SuggestedAction.ESCALATE)
    assert generate_policy_proposal(escalate, policies, config=CONFIG) is None


def test_runs_update_the_open_proposal_instead_of_adding_a_twin(sessions, tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    drafts = drafts_for(policies, discount_finding(), kit_finding(policies))
    sync = InsightSync((), (), (), 0)
    with sessions.begin() as s:
        assert create_proposals_for_run(s, 1, drafts, sync, policies, config=CONFIG) == 2
    with sessions.begin() as s:
        assert create_proposals_for_run(s, 1, drafts, sync, policies, config=CONFIG) == 0
    with sessions() as s:
        rows = s.scalars(select(PolicyProposal).order_by(PolicyProposal.id)).all()
        assert len(rows) == 2
        assert {r.status for r in rows} == {ProposalStatus.PENDING_REVIEW}
        assert {r.requested_by for r in rows} == {SYSTEM_ACTOR}
        assert all(r.fingerprint and r.policy_diff and r.policy_patch for r in rows)
    # a decided (rejected) proposal is closed: the next run opens a new one
    with sessions.begin() as s:
        row = s.scalars(select(PolicyProposal).limit(1)).one()
        row.status = ProposalStatus.REJECTED
    with sessions.begin() as s:
        assert create_proposals_for_run(s, 1, drafts, sync, policies, config=CONFIG) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(PolicyProposal)) == 3


def test_store_keeps_what_was_approved(sessions, tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    spec = proposal_for(policies, discount_finding())
    with sessions.begin() as s:
        row, created = store_proposal(s, spec, None)
        assert created
        row.status = ProposalStatus.APPROVED
        pid = row.id
    import dataclasses

    changed = dataclasses.replace(spec, policy_diff="other", description="new evidence")
    with sessions.begin() as s:
        row, created = store_proposal(s, changed, None)
        assert not created and row.id == pid
    with sessions() as s:
        row = s.get(PolicyProposal, pid)
        assert row.description == "new evidence" and row.policy_diff == spec.policy_diff


def test_cli_lists_diffs_approves_applies(settings, sessions, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from chanperf.cli.main import main

    folder = policies_copy(tmp_path)
    policies = load_policies(folder)
    with sessions.begin() as s:
        row, _ = store_proposal(s, proposal_for(policies, discount_finding()), None)
        pid = row.id
    runner = CliRunner()
    base = ["--database-url", settings.database_url, "proposals"]
    out = runner.invoke(main, [*base, "list"])
    assert out.exit_code == 0 and "PENDING_REVIEW" in out.output
    out = runner.invoke(main, [*base, "diff", str(pid)])
    assert out.exit_code == 0
    git_apply_check(folder, out.output)
    out = runner.invoke(main, [*base, "approve", str(pid), "--as", SYSTEM_ACTOR])
    assert out.exit_code == 1 and "cannot review" in out.output
    assert runner.invoke(main, [*base, "approve", str(pid), "--as", "ana"]).exit_code == 0
    out = runner.invoke(
        main, [*base, "apply", str(pid), "--policies-dir", str(folder), "--as", "ops"]
    )
    assert out.exit_code == 0 and "version 2" in out.output
    out = runner.invoke(main, [*base, "apply", str(pid), "--policies-dir", str(folder)])
    assert out.exit_code == 1 and "IMPLEMENTED" in out.output
    assert runner.invoke(main, [*base, "show", str(pid)]).exit_code == 0


def test_replay_shows_the_insight_that_would_disappear(settings, sessions, tmp_path, monkeypatch):
    """A detector that compares kits against whatever the policy prescribes: under the
    proposed policy the better kit *is* the policy kit, so the insight goes away."""
    import chanperf.analysis.detect as analyzers
    from chanperf.proposals.replay import replay_proposal

    folder = policies_copy(tmp_path)
    policies = load_policies(folder)
    finding = kit_finding(policies)

    def fake_kit_detector(conn, ctx):
        import dataclasses

        kit = ctx.policies.get(f"onboarding.{finding.parameter}")
        return [dataclasses.replace(finding, policy_kit=kit, policy_value=kit)]

    monkeypatch.setattr(analyzers, "detectors", lambda: [("kit", fake_kit_detector)])
    with sessions.begin() as s:
        row, _ = store_proposal(s, proposal_for(policies, finding), None)
        pid = row.id
    with sessions() as s:
        before = s.scalar(select(func.count()).select_from(PolicyProposal))
    result = replay_proposal(
        settings.with_(policies_dir=folder), 1, pid, weeks=4, as_of=date(2026, 6, 30)
    )
    assert [i[0] for i in result.disappear] == ["kit_better_than_policy_kit"]
    assert result.appear == () and result.remain == ()
    assert any("disappears: kit_better_than_policy_kit" in line for line in result.lines())
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(PolicyProposal)) == before
