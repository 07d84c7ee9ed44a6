"""`rules stats` on a fixture worked out by hand: firings per run, labels, precision with its
Wilson interval, rules silent in the window and rules reading a field nobody sets."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from pathlib import Path

import pytest

from chanperf.analysis.findings import KitEffectiveness
from chanperf.core.enums import FeedbackLabel, RunStatus
from chanperf.models.runs import AnalysisRun
from chanperf.policies.load import load_policies
from chanperf.rules.firings import fields_set, record_firings
from chanperf.rules.load import Rule, load_rule_files
from chanperf.rules.stats import fields_read, rule_stats, wilson
from tests.api.conftest import add_insight
from tests.insights.test_store import kit_finding

ROOT = Path(__file__).parents[2]
RULES_FILE = ROOT / "tests" / "fixtures" / "feedback_rules" / "rules.yaml"
AS_OF = date(2026, 11, 30)


def fixture_rules() -> tuple[Rule, ...]:
    return load_rule_files([RULES_FILE], load_policies(ROOT / "policies"))


def hand_wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's score interval written out: (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def test_wilson_is_the_score_interval():
    low, high = hand_wilson(3, 4)
    assert (round(low, 4), round(high, 4)) == (0.3006, 0.9544)
    assert wilson(3, 4) == pytest.approx((low, high), abs=1e-12)


def run(session, as_of: date, started: datetime) -> AnalysisRun:
    row = AnalysisRun(
        org_id=1, as_of=as_of, started_at=started, status=RunStatus.SUCCEEDED, kind="ANALYZE"
    )
    session.add(row)
    session.flush()
    return row


def adjusted(finding: KitEffectiveness) -> KitEffectiveness:
    return dataclasses.replace(finding, p_value_adj=finding.p_value)  # as a run's BH sets it


@pytest.fixture
def recorded(sessions):
    """Two runs: June (kit_better matched 2 findings) and November (1); quiet_rule never.
    No kit finding ever had median_days_b; no region_failure finding was ever produced.
    Insights of kit_better labelled 3 TRUE_POSITIVE and 1 FALSE_POSITIVE, one unlabelled;
    one of a rule the pack no longer has; one of org 2 (not counted)."""
    with sessions.begin() as s:
        june = run(s, date(2026, 6, 30), datetime(2026, 7, 1, 6, 0))
        kits = [adjusted(kit_finding(effect=0.3)), adjusted(kit_finding(effect=0.2))]
        record_firings(s, june, kits, [("kit_better", "kit_effectiveness")] * 2)
        nov = run(s, date(2026, 11, 29), datetime(2026, 11, 30, 6, 0))
        record_firings(s, nov, [adjusted(kit_finding())], [("kit_better", "kit_effectiveness")])
        labels = [FeedbackLabel.TRUE_POSITIVE] * 3 + [FeedbackLabel.FALSE_POSITIVE, None]
        for label in labels:
            add_insight(s, rule_id="kit_better", label=label, labelled_by="ana")
        add_insight(s, rule_id="retired_rule", label=FeedbackLabel.EXPECTED)
        add_insight(s, org_id=2, rule_id="kit_better", label=FeedbackLabel.FALSE_POSITIVE)


def test_rule_stats_by_hand(sessions, recorded):
    with sessions() as s:
        report = rule_stats(s, 1, fixture_rules(), AS_OF, days=90)
    assert (report.window_start, report.runs_in_window) == (date(2026, 9, 2), 1)
    kit, quiet = report.rules
    assert (kit.rule_id, kit.fired, kit.fired_recent, kit.last_fired) == (
        "kit_better",
        3,
        1,
        date(2026, 11, 29),
    )
    assert kit.last_fired_at == datetime(2026, 11, 30, 6, 0)
    assert kit.labelled == 4
    assert kit.labels == {
        "TRUE_POSITIVE": 3,
        "FALSE_POSITIVE": 1,
        "EXPECTED": 0,
        "NOT_ACTIONABLE": 0,
    }
    assert kit.precision == 0.75
    assert (kit.precision_low, kit.precision_high) == pytest.approx(hand_wilson(3, 4), abs=1e-9)
    # Its observation quotes {median_days_b}, which no kit finding ever had.
    assert kit.unproduced_fields == ("median_days_b",) and kit.finding_kind_seen
    assert (quiet.fired, quiet.fired_recent, quiet.last_fired, quiet.labelled) == (0, 0, None, 0)
    assert (quiet.precision, quiet.precision_low) == (None, None)
    assert not quiet.finding_kind_seen and quiet.unproduced_fields == ()
    assert report.never_fired == ("quiet_rule",)
    assert report.reads_unproduced == ("kit_better",)
    assert report.not_in_pack == ("retired_rule",)


def test_a_window_that_holds_both_runs(sessions, recorded):
    with sessions() as s:
        report = rule_stats(s, 1, fixture_rules(), AS_OF, days=160)  # from 2026-06-24
    assert report.runs_in_window == 2 and report.rules[0].fired_recent == 3


def test_fields_read_and_fields_set():
    kit, quiet = fixture_rules()
    # conditions, texts and the affected region: {region}, {better_kit}, {policy_kit}, ...
    assert fields_read(kit) == {"n_b", "p_value_adj", "region", "better_kit", "policy_kit",
                                "median_days_b"}  # fmt: skip
    assert fields_read(quiet) == {"n_b", "p_value_adj", "region", "ratio"}
    seen = fields_set([kit_finding(), kit_finding(effect=0.1)])["kit_effectiveness"]
    assert seen["kind"] == 2 and seen["effect"] == 2 and seen["median_days_b"] == 0
    assert seen["filters"] == 0  # an empty mapping is not a value
