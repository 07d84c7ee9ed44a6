"""`chanperf eval`'s channels and figures.

The channels must really be new (names no shipped scenario or policy uses, counts
and levels that vary with the seed, policies each null channel meets), a planted
pattern must be found end to end, and the figures must be the ones a hand count of
a small set of results gives.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chanperf.cli.main import main
from chanperf.core.settings import REPO_ROOT, Settings
from chanperf.demo import quality
from chanperf.demo.quality import Found, Planted, QualityReport, RunResult, eval_jobs, evaluate
from chanperf.demo.scenario_file import load_scenario
from chanperf.demo.shapes import PATTERNS, SHAPES, draw_channel, shipped_codes
from chanperf.policies.load import load_policies

BASE = Settings(policies_dir=REPO_ROOT / "policies", rules_dir=REPO_ROOT / "rules")
SEEDS = range(1000, 1006)


def _names(channel) -> set[str]:
    doc = channel.doc
    return (
        set(doc["regions"])
        | set(doc["segments"])
        | channel.kits()
        | set(doc["strategies"])
        | set(doc["skus"])
    )


def test_drawn_channels_use_no_shipped_name_and_their_counts_vary():
    shipped = shipped_codes() | {"NORTE", "KIT_A", "DISCOUNT", "OURO", "PERF-001"}
    policy_text = "".join(p.read_text() for p in (REPO_ROOT / "policies").glob("*.yaml"))
    counts: dict[str, set[int]] = {k: set() for k in ("regions", "segments", "strategies", "skus")}
    days, months = set(), set()
    for shape_name, shape in SHAPES.items():
        for seed in SEEDS:
            channel = draw_channel(shape_name, seed, planted=False)
            names = _names(channel)
            assert not names & shipped
            assert not any(f'"{n}"' in policy_text for n in names)
            c = channel.counts()
            assert shape.regions[0] <= c["regions"] <= shape.regions[1]
            assert shape.segments[0] <= c["segments"] <= shape.segments[1]
            assert shape.accounts[0] <= channel.doc["accounts"] <= shape.accounts[1]
            for key in counts:
                counts[key].add(c[key])
            days.add(channel.as_of)
            months.add(channel.doc["history_months"])
    # 18 draws: every count takes more than one value, and so do the dates
    assert all(len(v) > 1 for v in counts.values()), counts
    assert len(days) == 3 * len(SEEDS) and len(months) > 3
    # the shapes differ: every compact channel has fewer regions than every wide one
    assert SHAPES["compact"].regions[1] < SHAPES["wide"].regions[0]


def test_same_seed_draws_the_same_channel_and_planted_differs_from_null():
    a, b = draw_channel("young", 1003, True), draw_channel("young", 1003, True)
    assert a.doc == b.doc and a.policies == b.policies and a.as_of == b.as_of
    null = draw_channel("young", 1003, False)
    assert null.planted == [] and null.doc["effects"] == []
    assert a.planted and _names(a) != _names(null)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_null_channels_meet_their_own_policies(shape, tmp_path):
    for seed in SEEDS:
        ch = draw_channel(shape, seed, planted=False)
        p = {k: v["params"] for k, v in ch.policies.items()}
        rates = ch.doc["rates"]
        assert rates["activation_rate"] - p["onboarding"]["target_activation_rate"] >= 0.1
        assert rates["reincidence_rate"] + 0.1 <= p["reactivation"]["max_reincidence_rate"] + 1e-9
        assert rates["exception_rate"] * 2.2 <= p["pricing"]["max_exception_rate"] + 1e-9
        buckets = next(iter(ch.doc["strategies"].values()))["discount_buckets"]
        assert max(b["to"] for b in buckets) == p["reactivation"]["max_discount_pct"]
        assert set(ch.doc["strategies"]) == set(p["reactivation"]["allowed_strategies"])
        region = p["strategy"]["priority_regions"][0]
        assert (
            p["strategy"]["min_priority_share"] <= 0.7 * ch.doc["regions"][region]["weight"] + 0.005
        )
        # every kit a region uses is the one its policy prescribes
        for r, doc in ch.doc["regions"].items():
            prescribed = (
                p["onboarding"]["regions"]
                .get(r, {})
                .get("default_kit", p["onboarding"]["default_kit"])
            )
            assert set(doc.get("kits") or {prescribed}) == {prescribed}
    # the files pass the same validation `chanperf demo` and the analysis apply
    quality.write_channel(ch, tmp_path)
    assert load_scenario(str(tmp_path / "scenario.yaml")).name == ch.doc["scenario"]
    assert set(load_policies(tmp_path / "policies").policies) == set(ch.policies)


def test_every_pattern_is_planted_somewhere():
    seen = {
        p["id"]
        for shape in SHAPES
        for seed in range(1000, 1020)
        for p in draw_channel(shape, seed, planted=True).planted
    }
    assert seen == set(PATTERNS)


@pytest.mark.slow
def test_a_planted_failure_region_is_found_on_a_drawn_channel():
    channel = draw_channel("compact", 1000, planted=True, patterns=("failures",))
    [planted] = channel.planted
    result = evaluate(channel, BASE)
    assert result.planted == (
        Planted("failures", "detect_region_patterns", True, channel.sizes["failures"]),
    )
    hits = [f for f in result.insights if f.kind == "region_failure"]
    assert [f.region for f in hits] == [planted["affected"]["region"]]


def _found(kind: str, rule: str = "r") -> Found:
    return Found(rule, kind, "EXECUTION_DRIFT", "quality", None, None, None, None, "")


HAND_MADE = QualityReport(
    [
        RunResult("compact", 1, (), (), (), null=True),
        RunResult(
            "compact",
            2,
            (),
            (_found("metric_drift"), _found("metric_drift")),
            ("r", "r"),
            null=True,
        ),
        RunResult("wide", 1, (), (), (), null=True),
        RunResult(
            "wide", 2, (), (_found("churn_risk"), _found("metric_drift")), ("r", "r"), null=True
        ),
        RunResult(
            "wide",
            1,
            (
                Planted("failures", "detect_region_patterns", True, 0.3),
                Planted("churn", "predict_churn_risk", False, 0.2),
            ),
            (_found("region_failure"), _found("metric_drift", "kpi_drift")),
            ("kpi_drift",),
        ),
        RunResult(
            "compact",
            1,
            (Planted("churn", "predict_churn_risk", True, 0.25),),
            (_found("churn_risk"),),
            (),
        ),
    ]
)


def test_figures_from_a_hand_made_set_of_results():
    r = HAND_MADE
    assert r.null_share() == (2, 4)
    assert r.false_rates() == {"metric_drift": (2, 3), "predict_churn_risk": (1, 1)}
    assert r.recall() == {
        "churn (predict_churn_risk)": (1, 2),
        "failures (detect_region_patterns)": (1, 1),
    }
    assert r.sizes() == {
        "churn (predict_churn_risk)": (0.25, 0.2),
        "failures (detect_region_patterns)": (0.3, None),
    }
    assert r.unexplained_by_rule() == {"kpi_drift": 1}
    assert r.by_shape() == {
        "compact": {"found": 1, "planted": 1, "null_dirty": 1, "null": 2},
        "wide": {"found": 1, "planted": 2, "null_dirty": 1, "null": 2},
    }
    # Wilson interval of 2/4 by hand: centre 0.5, half-width 1.96*sqrt(1/16 + 1.96^2/64)/(1 + 1.96^2/4)
    low, high = quality.wilson(2, 4)
    assert low == pytest.approx(0.1500, abs=1e-4) and high == pytest.approx(0.8500, abs=1e-4)
    # 13 detectors share a 5 % budget: one false run in four is far over it for both
    assert r.over_budget() == ["metric_drift", "predict_churn_risk"]
    assert QualityReport([HAND_MADE.runs[0], HAND_MADE.runs[2]]).over_budget() == []
    # the JSON keeps every run: the table can be printed again from it
    assert QualityReport.from_json(json.loads(json.dumps(r.as_json()))).runs == r.runs


def test_jobs_pair_every_shape_and_seed_with_a_planted_and_a_null_run():
    jobs = eval_jobs(["compact", "wide", "young"], 2, 50)
    assert len(jobs) == 12 and len(set(jobs)) == 12
    assert {(s, seed) for s, seed, _ in jobs} == {
        (s, n) for s in ("compact", "wide", "young") for n in (50, 51)
    }
    assert eval_jobs(["wide"], 3, 1, "null") == [
        ("wide", 1, False),
        ("wide", 2, False),
        ("wide", 3, False),
    ]
    with pytest.raises(ValueError, match="unknown shape"):
        eval_jobs(["round"], 1, 1)


def test_eval_command_prints_the_table_and_fails_over_the_null_share(monkeypatch):
    fake = {(r.shape, r.seed, not r.null): r for r in HAND_MADE.runs}
    monkeypatch.setattr(
        quality, "evaluate", lambda ch, _base: fake[(ch.shape, ch.seed, bool(ch.planted))]
    )
    args = [
        "eval",
        "--seeds",
        "2",
        "--seed",
        "1",
        "--shape",
        "compact",
        "--shape",
        "wide",
        "--runs",
        "null",
    ]
    ok = CliRunner().invoke(main, [*args, "--max-null-share", "0.5"])
    assert ok.exit_code == 0, ok.output
    assert "Null runs with any insight: 2/4 = 50.0%" in ok.output
    assert "metric_drift" in ok.output and "2/4" in ok.output
    over = CliRunner().invoke(main, [*args, "--max-null-share", "0.25"])
    assert over.exit_code == 1
    as_json = CliRunner().invoke(main, [*args, "--json", "-"])
    assert '"null_runs_with_insight": 2' in as_json.output
