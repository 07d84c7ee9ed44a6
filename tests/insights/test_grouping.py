"""One insight per cause: cuts moving with their parent become its drill-down.

The findings are written by hand (NPS counts, CIs) and evaluated by the shipped rules,
the way the analysis does; the expected heterogeneity figures are worked out in the
comments and recomputed here with `math` only.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from chanperf.analysis.findings import Finding, MetricDrift, OnboardingTarget, StateBottleneck
from chanperf.cli.main import main
from chanperf.core.errors import ValidationError
from chanperf.core.settings import REPO_ROOT
from chanperf.insights.drafts import InsightDraft, build_insight_drafts
from chanperf.insights.grouping import (
    GroupingConfig,
    group_drafts,
    heterogeneity,
    load_grouping_config,
)
from chanperf.policies.load import load_policies
from chanperf.rules.engine import evaluate
from chanperf.rules.load import load_rules

RULES = REPO_ROOT / "rules"
CONFIG = load_grouping_config(RULES)
POLICIES = load_policies(REPO_ROOT / "policies")
PERIOD = {"org_id": 1, "period_start": date(2026, 3, 2), "period_end": date(2026, 6, 28)}


def nps(
    a: tuple[int, int, int], b: tuple[int, int, int], region: str | None = None, segment=None
) -> MetricDrift:
    """An NPS drift from (promoters, detractors, answers) before (a) and after (b)."""
    (p_a, d_a, n_a), (p_b, d_b, n_b) = a, b
    rate_a, rate_b = 100 * (p_a - d_a) / n_a, 100 * (p_b - d_b) / n_b
    cut = {"region": region} if region else {"segment": segment} if segment else {}
    return MetricDrift(
        **PERIOD,
        filters={"metric": "nps", **cut},
        metric="nps",
        category="quality",
        direction="worse" if rate_b < rate_a else "better",
        worsening=rate_a - rate_b,
        relative_worsening=(rate_a - rate_b) / abs(rate_a),
        recent_weeks=4,
        baseline_weeks=12,
        n=n_a + n_b,
        n_a=n_a,
        n_b=n_b,
        rate_a=rate_a,
        rate_b=rate_b,
        effect=rate_b - rate_a,
        p_value=1e-6,
        p_value_adj=1e-5,  # the run's BH is not what is tested here
        region=region,
        segment=segment,
        extra={
            "promoters_a": p_a,
            "detractors_a": d_a,
            "promoters_b": p_b,
            "detractors_b": d_b,
            "test": "z_test_nps_difference",
        },
    )


def drafts_for(findings: list[Finding]) -> list[InsightDraft]:
    return build_insight_drafts(evaluate(load_rules(RULES, POLICIES), POLICIES, findings))


def scope(d: InsightDraft) -> tuple[str, str]:
    """(region, segment) of an insight, "" where it has none (sortable)."""
    return (d.affected_region or "", d.affected_segment or "")


# A channel-wide drop: NPS 40 -> -10 everywhere. Baseline 55 % promoters, 15 % detractors;
# recent 30 % and 40 %, in both regions and both segments alike.
CHANNEL_WIDE = [
    nps((550, 150, 1000), (120, 160, 400)),
    nps((275, 75, 500), (60, 80, 200), region="R1"),
    nps((275, 75, 500), (60, 80, 200), region="R2"),
    nps((220, 60, 400), (48, 64, 160), segment="S1"),
    nps((330, 90, 600), (72, 96, 240), segment="S2"),
]


def test_a_channel_wide_nps_drop_is_one_insight_with_its_cuts_in_the_drilldown():
    drafts = drafts_for(CHANNEL_WIDE)
    assert sorted(scope(d) for d in drafts) == sorted(
        [("", ""), ("R1", ""), ("R2", ""), ("", "S1"), ("", "S2")]
    ), "every scope fires the NPS rule before grouping"
    (one,) = group_drafts(drafts, CHANNEL_WIDE, CONFIG)
    assert (one.rule_id, scope(one)) == ("nps_drift", ("", ""))
    drill = one.evidence["drilldown"]
    assert [(e["dimension"], e["value"], e["rate_b"], e["n_b"]) for e in drill] == [
        ("region", "R1", -10.0, 200),
        ("region", "R2", -10.0, 200),
        ("segment", "S1", -10.0, 160),
        ("segment", "S2", -10.0, 240),
    ]
    # each cut changed exactly as the rest of the channel: difference 0, p = 1
    assert all(e["difference_vs_rest"] == 0 and e["heterogeneity_p"] == 1.0 for e in drill)
    assert not any(e["differs"] or e["own_insight"] for e in drill)
    assert one.evidence["effect"] == -50.0  # the parent's own evidence is kept


# The channel falls 36 points because region RN falls 100 (40 -> -60) while RO1 and RO2
# fall 20 (40 -> 20). Baseline: RN 110/30 of 200, RO1 and RO2 220/60 of 400.
# Recent: RN 10 promoters, 70 detractors of 100; RO1 and RO2 90/50 of 200.
ONE_REGION_FURTHER = [
    nps((550, 150, 1000), (190, 170, 500)),
    nps((110, 30, 200), (10, 70, 100), region="RN"),
    nps((220, 60, 400), (90, 50, 200), region="RO1"),
    nps((220, 60, 400), (90, 50, 200), region="RO2"),
]


def _p(diff: float, variance: float) -> float:
    return math.erfc(abs(diff) / math.sqrt(variance) / math.sqrt(2))


def test_a_region_falling_much_further_than_the_channel_stays_its_own_insight():
    drafts = drafts_for(ONE_REGION_FURTHER)
    assert len(drafts) == 4
    grouped = group_drafts(drafts, ONE_REGION_FURTHER, CONFIG)
    assert sorted(scope(d) for d in grouped) == [("", ""), ("RN", "")]
    channel = next(d for d in grouped if scope(d) == ("", ""))
    rn, ro1, ro2 = channel.evidence["drilldown"]
    # RN against the rest (RO1 + RO2: 440/120 of 800 -> 180/100 of 400): NPS change
    # -1.0 vs -0.2; variances (p + d)/n - nps^2 over n: RN 0.54/200 + 0.44/100,
    # rest 0.54/800 + 0.66/400 -> 0.009425.
    assert rn["value"] == "RN" and rn["difference_vs_rest"] == pytest.approx(-80.0)
    assert rn["heterogeneity_p"] == pytest.approx(_p(0.8, 0.009425), rel=1e-9)
    assert rn["differs"] and rn["own_insight"]
    # RO1 against RN + RO2 (330/90 of 600 -> 100/120 of 300): change -0.2 vs -0.4667;
    # variances 0.54/400 + 0.66/200 and 0.54/600 + (0.7333 - 0.0044)/300.
    v = 0.54 / 400 + 0.66 / 200 + 0.54 / 600 + (220 / 300 - (20 / 300) ** 2) / 300
    rest_change = -20 / 300 - 0.4
    assert ro1["difference_vs_rest"] == pytest.approx(100 * (-0.2 - rest_change))
    assert ro1["heterogeneity_p"] == pytest.approx(_p(-0.2 - rest_change, v))
    # Holm over three cuts: RO1 and RO2 share the second and third step, p x 2
    assert ro1["heterogeneity_p_adj"] == pytest.approx(2 * ro1["heterogeneity_p"])
    # RO1 differs (it fell less than the rest), but the channel explains it: folded
    assert ro1["differs"] and not ro1["own_insight"]
    assert ro2["differs"] and not ro2["own_insight"]
    (region,) = [d for d in grouped if scope(d) == ("RN", "")]
    assert region.evidence["effect"] == pytest.approx(-100.0)


def test_keep_separate_any_keeps_every_differing_cut():
    config = dataclasses.replace(CONFIG, keep_separate="any")
    grouped = group_drafts(drafts_for(ONE_REGION_FURTHER), ONE_REGION_FURTHER, config)
    assert sorted(scope(d) for d in grouped) == [
        ("", ""),
        ("RN", ""),
        ("RO1", ""),
        ("RO2", ""),
    ]


def test_a_stricter_alpha_folds_what_differs_only_mildly():
    # RO1's adjusted p is about 0.0057: at alpha 0.001 it no longer differs; RN's is ~1e-15
    config = dataclasses.replace(CONFIG, alpha=0.001, keep_separate="any")
    grouped = group_drafts(drafts_for(ONE_REGION_FURTHER), ONE_REGION_FURTHER, config)
    assert sorted(scope(d) for d in grouped) == [("", ""), ("RN", "")]
    drill = next(d for d in grouped if scope(d) == ("", "")).evidence["drilldown"]
    assert [e["differs"] for e in drill] == [True, False, False]


def test_without_a_parent_insight_the_cuts_stay_as_they_are():
    # the channel moved 4 points only: below the rule's 10, so no channel insight
    findings = [
        nps((550, 150, 1000), (520, 160, 1000)),
        *ONE_REGION_FURTHER[1:2],
    ]
    drafts = drafts_for(findings)
    assert [scope(d) for d in drafts] == [("RN", "")]
    assert group_drafts(drafts, findings, CONFIG) == drafts


def test_no_nesting_configured_changes_nothing():
    drafts = drafts_for(CHANNEL_WIDE)
    assert group_drafts(drafts, CHANNEL_WIDE, GroupingConfig()) == drafts


def target(effect: float, ci: tuple[float, float], n: int, region: str | None = None):
    return OnboardingTarget(
        **PERIOD,
        filters={"region": region} if region else {},
        region=region,
        metric="activation_rate",
        value=0.7 + effect,
        target=0.7,
        n=n,
        n_b=n,
        rate_b=0.7 + effect,
        effect=effect,
        ci_low=ci[0],
        ci_high=ci[1],
        p_value=1e-6,
        p_value_adj=1e-5,
        policy="onboarding",
        parameter="target_activation_rate",
    )


def test_without_counts_the_cut_is_compared_with_its_parent_through_the_intervals():
    # parent: -0.10 (CI -0.15..-0.05, se 0.1/3.92); cut: a quarter of it, -0.30 (se 0.2/3.92)
    # Var(cut - parent) = se_c^2 + se_p^2 - 2 * 0.25 * se_c^2; rest = (-0.10 + 0.075) / 0.75
    parent, cut = target(-0.10, (-0.15, -0.05), 1000), target(-0.30, (-0.40, -0.20), 250, "R1")
    test = heterogeneity(cut, parent)
    assert test is not None and test.method == "z_test_cut_vs_parent_ci"
    z95 = 1.959963984540054
    se_c, se_p = 0.2 / (2 * z95), 0.1 / (2 * z95)
    assert test.difference == pytest.approx(-0.30 - (-0.10 + 0.075) / 0.75)
    assert test.p_value == pytest.approx(_p(0.2, se_c**2 + se_p**2 - 0.5 * se_c**2))
    assert test.p_value < 1e-4


def test_a_cut_moving_the_other_way_is_not_folded():
    parent = target(-0.10, (-0.15, -0.05), 1000)
    up = target(0.05, (0.01, 0.09), 250, "R1")
    grouped = group_drafts(_plain_drafts(parent, up), [parent, up], CONFIG)
    assert [d.finding for d in grouped] == [parent, up]
    (entry,) = grouped[0].evidence["drilldown"]
    assert (entry["value"], entry["differs"], entry["own_insight"]) == ("R1", True, True)


def _plain_drafts(*findings: Finding) -> list[InsightDraft]:
    """Drafts of one made-up rule for every finding (grouping only reads rule and finding)."""
    (template,) = drafts_for([nps((550, 150, 1000), (120, 160, 400))])
    return [dataclasses.replace(template, finding=f, evidence={}) for f in findings]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("version: 1\nalpha: 0.05\nnest:\n  - {parent: [region], child: region}\n", 4),
        ("version: 1\nalpha: 2\nnest: []\n", 2),
        ("version: 1\nalpha: 0.05\nnest:\n  - {parent: [], child: kit}\n", 4),
    ],
)
def test_a_bad_grouping_file_names_its_line(tmp_path: Path, text: str, line: int):
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "grouping.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_grouping_config(tmp_path)
    assert [p.line for p in err.value.problems] == [line]


def test_the_shipped_file_nests_regions_and_segments_under_the_channel():
    assert CONFIG.alpha == 0.05 and CONFIG.correction == "holm"
    assert {(n.parent, n.child) for n in CONFIG.nests} >= {((), "region"), ((), "segment")}


def test_lint_reports_a_bad_grouping_file_with_its_line(tmp_path: Path):
    shutil.copytree(RULES, tmp_path / "rules")
    path = tmp_path / "rules" / "analysis" / "grouping.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("alpha: 0.05", "alpha: -1"), encoding="utf-8"
    )
    line = 1 + path.read_text(encoding="utf-8").split("\n").index("alpha: -1")
    args = ["lint", "--policies-dir", str(REPO_ROOT / "policies")]
    result = CliRunner().invoke(main, [*args, "--rules-dir", str(tmp_path / "rules")])
    assert result.exit_code == 1
    assert f"{path}:{line}:" in result.output and "alpha" in result.output


def test_a_region_folded_into_the_channel_brings_its_segment_cuts_along():
    def both(finding: MetricDrift, segment: str) -> MetricDrift:
        return dataclasses.replace(
            finding, segment=segment, filters={**finding.filters, "segment": segment}
        )

    # the channel-wide drop of CHANNEL_WIDE, with R1 cut by segment (same rates: 40 -> -10)
    findings = [
        *CHANNEL_WIDE[:3],
        both(nps((110, 30, 200), (24, 32, 80), region="R1"), "S1"),
        both(nps((165, 45, 300), (36, 48, 120), region="R1"), "S2"),
    ]
    (one,) = group_drafts(drafts_for(findings), findings, CONFIG)
    assert scope(one) == ("", "")
    r1, r2 = one.evidence["drilldown"]
    assert (r1["value"], r2["value"]) == ("R1", "R2") and "drilldown" not in r2
    assert [(e["dimension"], e["value"], e["n_b"], e["differs"]) for e in r1["drilldown"]] == [
        ("segment", "S1", 80, False),
        ("segment", "S2", 120, False),
    ]


def win_rate(x_a: int, n_a: int, x_b: int, n_b: int, region: str | None = None) -> MetricDrift:
    rate_a, rate_b = x_a / n_a, x_b / n_b
    return MetricDrift(
        **PERIOD,
        filters={"metric": "win_rate", **({"region": region} if region else {})},
        metric="win_rate",
        category="reactivation",
        direction="worse" if rate_b < rate_a else "better",
        worsening=rate_a - rate_b,
        relative_worsening=(rate_a - rate_b) / rate_a,
        recent_weeks=4,
        baseline_weeks=12,
        n=n_a + n_b,
        n_a=n_a,
        n_b=n_b,
        rate_a=rate_a,
        rate_b=rate_b,
        effect=rate_b - rate_a,
        p_value=1e-6,
        p_value_adj=1e-5,
        region=region,
        extra={"x_a": x_a, "x_b": x_b, "test": "two_proportions"},
    )


def test_a_proportion_kpi_is_tested_from_its_counts():
    # channel 600/1000 -> 200/500; R1 300/500 -> 60/200 (-0.30), so the rest (R2)
    # 300/500 -> 140/300 (-0.1333): difference -1/6, Wald variances
    # 0.6*0.4/500 + 0.3*0.7/200 + 0.6*0.4/500 + (7/15)(8/15)/300
    findings = [
        win_rate(600, 1000, 200, 500),
        win_rate(300, 500, 60, 200, "R1"),
        win_rate(300, 500, 140, 300, "R2"),
    ]
    v = 0.24 / 500 + 0.21 / 200 + 0.24 / 500 + (7 / 15) * (8 / 15) / 300
    test = heterogeneity(findings[1], findings[0])
    assert test is not None and test.method == "z_test_cut_vs_rest"
    assert test.difference == pytest.approx(-0.3 - (140 / 300 - 0.6))
    assert test.p_value == pytest.approx(_p(1 / 6, v))
    # all three fire the reactivation drift rule; R1 went further (own insight), R2 less
    drafts = drafts_for(findings)
    assert len(drafts) == 3
    grouped = group_drafts(drafts, findings, CONFIG)
    assert sorted(scope(d) for d in grouped) == [("", ""), ("R1", "")]
    r1, r2 = grouped[0].evidence["drilldown"]
    assert (r1["differs"], r1["own_insight"], r2["differs"], r2["own_insight"]) == (
        True,
        True,
        True,
        False,
    )


def test_a_state_transition_rate_is_tested_from_its_counts_too():
    def moves(x_a: int, n_a: int, x_b: int, n_b: int, region: str | None = None):
        return StateBottleneck(
            **PERIOD,
            filters={
                "state": "ACTIVE",
                "to_state": "STALLED",
                **({"region": region} if region else {}),
            },
            signal="transition_rate",
            state="ACTIVE",
            to_state="STALLED",
            region=region,
            n_a=n_a,
            n_b=n_b,
            effect=x_b / n_b - x_a / n_a,
            extra={"baseline_transitions": x_a, "recent_transitions": x_b},
        )

    # the win-rate numbers above, as transitions: the same test and figures
    test = heterogeneity(moves(300, 500, 60, 200, "R1"), moves(600, 1000, 200, 500))
    v = 0.24 / 500 + 0.21 / 200 + 0.24 / 500 + (7 / 15) * (8 / 15) / 300
    assert test is not None and test.method == "z_test_cut_vs_rest"
    assert test.p_value == pytest.approx(_p(1 / 6, v))
