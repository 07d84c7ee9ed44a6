"""The compiled form is golden-tested; the pure evaluator follows durable's semantics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chanperf.core.settings import REPO_ROOT
from chanperf.policies.load import load_policies
from chanperf.rules.compile import NEVER, compile_condition, golden_text
from chanperf.rules.load import AllOf, AnyOf, Compare, Exists, Ref
from chanperf.rules.pure import matches

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "compiled_rules.json"


def test_compiled_shipped_pack_equals_the_golden_file() -> None:
    # On a deliberate change: python scripts/regenerate_golden.py, then review the diff.
    assert golden_text(REPO_ROOT / "rules", REPO_ROOT / "policies") == GOLDEN.read_text(
        encoding="utf-8"
    )


def test_golden_ruleset_is_plain_json_with_kind_first() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    (ruleset,) = golden["ruleset"].values()
    for rule_id, rule in ruleset.items():
        assert rule["run"] == rule_id
        assert "kind" in rule["all"][0]["m"]["$and"][0]


def test_condition_encodings() -> None:
    ps = load_policies(REPO_ROOT / "policies")
    cond = AllOf(
        (
            Compare("effect", "gte", 0.1),
            Compare("rate_b", "gt", Ref("policy", "reactivation.max_reincidence_rate")),
            Compare("segment", "in", Ref("policy", "strategy.priority_segments")),
            Compare("region", "in", ("A", "B")),
            AnyOf((Exists("sku", True), Compare("better_kit", "neq", Ref("field", "policy_kit")))),
        )
    )
    assert compile_condition(cond, ps) == {
        "$and": [
            {"$gte": {"effect": 0.1}},
            {"$gt": {"rate_b": 0.25}},
            {"segment": "OURO"},
            {"$or": [{"region": "A"}, {"region": "B"}]},
            {
                "$or": [
                    {"$ex": {"sku": 1}},
                    {
                        "$and": [
                            {"$ex": {"policy_kit": 1}},
                            {"$neq": {"better_kit": {"$m": "policy_kit"}}},
                        ]
                    },
                ]
            },
        ]
    }
    assert compile_condition(Compare("region", "in", ()), ps) == NEVER


@pytest.mark.parametrize(
    ("cond", "fact", "expected"),
    [
        ({"$gt": {"x": 1}}, {"x": 2}, True),
        ({"$gt": {"x": 1}}, {}, False),
        ({"$neq": {"x": 1}}, {}, False),  # durable: a missing field never compares
        ({"$neq": {"x": 1}}, {"x": 2}, True),
        ({"$lte": {"x": {"$m": "y"}}}, {"x": 1, "y": 1}, True),
        ({"$lte": {"x": {"$m": "y"}}}, {"x": 1}, False),
        ({"$ex": {"x": 1}}, {"x": 0}, True),
        ({"$nex": {"x": 1}}, {"x": 0}, False),
        (
            {"$or": [{"s": "a"}, {"$and": [{"$gte": {"y": 1}}, {"$lt": {"y": 2}}]}]},
            {"y": 1.5},
            True,
        ),
        (NEVER, {"kind": "k"}, False),
    ],
)
def test_pure_evaluator(cond: dict[str, object], fact: dict[str, object], expected: bool) -> None:
    assert matches(cond, fact) is expected
