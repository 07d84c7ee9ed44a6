"""A proposal's plan says whether a test fits the organisation's limit, and how.

Populations are given (as `measure_population` would measure them), so the numbers
behind each verdict can be worked out here: the required MDE is half the expected
change (rules/analysis/experiments.yaml), the window of reincidence is the policy's
90 days, the limit 12 weeks.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from chanperf.core.database import make_engine, session_factory
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.demo.run import run_demo
from chanperf.experiments.design import PopulationStats
from chanperf.experiments.leading import LeadingStats
from chanperf.experiments.planning import FITS, LONGER, NOT_TESTABLE
from chanperf.models.performance import PolicyProposal
from chanperf.policies.load import load_policies
from tests.proposals.test_generate import CONFIG, discount_finding, policies_copy, proposal_for

REGIONS = (("R1", 40.0), ("R2", 30.0), ("R3", 20.0), ("R4", 10.0))


def discount_population(volume: float, capture: float, lead_baseline: float) -> PopulationStats:
    scale = volume / 100.0
    return PopulationStats(
        n=1200,
        baseline=0.25,
        affected_share=0.4,
        weekly_volume=volume,
        weeks=12,
        region_volumes=tuple((r, v * scale) for r, v in REGIONS),
        leading=LeadingStats(30, 1200, lead_baseline, 0.25, capture, 0.6),
    )


def test_discount_fits_through_a_sequential_test_on_30_day_relapse(tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    spec = proposal_for(
        policies, discount_finding(), population=discount_population(400, 0.6, 0.15)
    )
    plan = spec.experiment_plan
    assert plan is not None and plan["verdict"] == FITS
    design = plan["design"]
    # the 90-day window alone is longer than 12 weeks: only the leading metric can fit
    assert design["metric"]["leading"] and design["metric"]["window_days"] == 30
    assert design["kind"] == "group_sequential" and len(design["looks"]) == 4
    # expected change on reincidence 0.4 x (0.12 - 0.45) = -0.132; on 30-day relapse 0.6 x that
    lead_change = 0.6 * 0.4 * (0.12 - 0.45)
    assert design["metric"]["expected_change"] == pytest.approx(lead_change)
    assert design["metric"]["mde"] == pytest.approx(0.5 * abs(lead_change))
    assert design["duration_days"] <= 12 * 7
    assert spec.experiment_duration_days == design["duration_days"]
    assert plan["expected_duration_days"] == design["duration_days"]
    assert plan["sample_size_per_arm"] == design["sample_size_per_arm"]
    assert plan["stopping_rule"]["kind"] == "group_sequential"
    assert [row["weeks"] for row in plan["mde_over_time"]] == [4, 8, 12, 26]
    assert plan["leading_metric"]["accepted"] and plan["alternative"] is None
    assert plan["summary"].startswith("Cabe no limite de 12 semanas: teste sequencial")


def test_discount_at_demo_volume_is_longer_than_the_limit_and_says_why(tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    spec = proposal_for(
        policies, discount_finding(), population=discount_population(25.5, 0.25, 0.055)
    )
    plan = spec.experiment_plan
    assert plan is not None and plan["verdict"] == LONGER
    reasons = " ".join(plan["verdict_reasons"])
    assert "90 dias" in reasons and "capta só 25%" in reasons and "mínimo 40%" in reasons
    # no leading metric: the shortest design is the fixed 50/50 test on 90-day reincidence
    design = plan["design"]
    assert design["name"] == "fixed" and not design["metric"]["leading"]
    mde = 0.5 * 0.4 * 0.33
    assert plan["mde"] == pytest.approx(mde)
    weeks = math.ceil(2 * design["sample_size_per_arm"] / 25.5)
    assert plan["expected_duration_days"] == weeks * 7 + 90 > 12 * 7
    # nothing matures within 12 weeks
    assert [row["mde"] for row in plan["mde_over_time"][:3]] == [None, None, None]
    alt = plan["alternative"]
    assert alt["kind"] == "staged_rollout" and alt["analysis"] == "difference_in_differences"
    assert alt["treated_regions"] == ["R1", "R3"] or alt["treated_regions"] == ["R1", "R2"]
    assert "diferença-em-diferenças" in plan["summary"]
    assert plan["summary"].startswith("Não cabe em 12 semanas")


def test_no_volume_is_not_testable(tmp_path: Path) -> None:
    policies = load_policies(policies_copy(tmp_path))
    population = PopulationStats(
        n=0, baseline=None, affected_share=None, weekly_volume=None, weeks=0
    )
    spec = proposal_for(policies, discount_finding(), population=population)
    plan = spec.experiment_plan
    assert plan is not None and plan["verdict"] == NOT_TESTABLE
    assert plan["design"] is None and spec.experiment_duration_days is None
    assert plan["summary"].startswith("Não testável: Sem volume semanal")


@pytest.mark.slow
def test_every_planted_demo_proposal_has_a_verdict(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(
        database_url=url, policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules"
    )
    lines: list[str] = []
    run_demo(settings, as_of=date(2026, 6, 30), echo=lines.append)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.scalars(select(PolicyProposal)).all()
    finally:
        engine.dispose()
    assert rows
    for row in rows:
        plan = row.experiment_plan or {}
        assert plan["verdict"] in (FITS, LONGER, NOT_TESTABLE)
        assert plan["summary"] and plan["verdict_reasons"] is not None
        if plan["design"] is not None:
            assert row.experiment_duration_days == plan["design"]["duration_days"]
    (discount,) = [r for r in rows if r.affected_policy == "reactivation.max_discount_pct"]
    plan = discount.experiment_plan or {}
    assert plan["verdict"] == FITS or any("90 dias" in r for r in plan["verdict_reasons"])
    assert any("Plano:" in line for line in lines)
    assert CONFIG.max_duration_weeks == 12


def test_cli_and_api_show_the_verdict_and_the_plan(settings, sessions, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from api.schemas import PolicyProposalSchema
    from chanperf.cli.main import main
    from chanperf.proposals.store import store_proposal

    policies = load_policies(policies_copy(tmp_path))
    spec = proposal_for(
        policies, discount_finding(), population=discount_population(400, 0.6, 0.15)
    )
    with sessions.begin() as s:
        row, _ = store_proposal(s, spec, None)
        pid = row.id
        assert row.experiment_duration_days == spec.experiment_plan["design"]["duration_days"]
        dumped = PolicyProposalSchema().dump(row)
        assert dumped["experiment_verdict"] == FITS
        assert dumped["experiment_summary"].startswith("Cabe no limite de 12 semanas")
    runner = CliRunner()
    base = ["--database-url", settings.database_url, "proposals", "plan", str(pid)]
    out = runner.invoke(main, base)
    assert out.exit_code == 0, out.output
    design = spec.experiment_plan["design"]
    assert (
        f"Veredito: FITS (cabe no limite); limite 12 semanas; duração {design['duration_days']} dias"
        in out.output
    )
    assert "leitura 1: dia" in out.output and "|z| ≥ 4,333" in out.output
    assert "reincidência em 30 dias" in out.output and "26 semanas:" in out.output
    out = runner.invoke(main, [*base, "--json"])
    assert out.exit_code == 0 and '"verdict": "FITS"' in out.output
    missing = runner.invoke(main, [*base[:-1], "999"])
    assert missing.exit_code != 0
