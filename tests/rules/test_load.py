"""Rule loading: the shipped pack is valid and complete; broken files give exact positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from chanperf.analysis.findings import FINDING_FIELDS, FINDING_TYPES
from chanperf.core.errors import ValidationError
from chanperf.core.settings import REPO_ROOT
from chanperf.policies.load import PolicySet, load_policies
from chanperf.rules.load import AllOf, Compare, Ref, load_rules

BROKEN = Path(__file__).parents[1] / "fixtures" / "broken_rules"


@pytest.fixture(scope="module")
def policy_set() -> PolicySet:
    return load_policies(REPO_ROOT / "policies")


def test_shipped_pack_covers_every_finding_kind_with_unique_ids(policy_set: PolicySet) -> None:
    rules = load_rules(REPO_ROOT / "rules", policy_set)
    assert {r.finding for r in rules} == set(FINDING_TYPES)
    assert len({r.id for r in rules}) == len(rules)


def test_every_shipped_rule_states_sample_effect_and_significance(policy_set: PolicySet) -> None:
    for rule in load_rules(REPO_ROOT / "rules", policy_set):
        assert isinstance(rule.when, AllOf), rule.id
        fields = {c.field: c for c in rule.when.items if isinstance(c, Compare)}
        assert fields["p_value_adj"].op == "lt", rule.id
        assert any(f in fields for f in ("n", "n_a", "n_b")), rule.id


def test_policy_references_are_typed_refs(policy_set: PolicySet) -> None:
    rules = {r.id: r for r in load_rules(REPO_ROOT / "rules", policy_set)}
    when = rules["reincidence_above_policy_max"].when
    assert isinstance(when, AllOf)
    assert Compare("rate_b", "gt", Ref("policy", "reactivation.max_reincidence_rate")) in when.items


def test_finding_registry_knows_common_and_specific_fields() -> None:
    assert FINDING_FIELDS["kit_effectiveness"]["better_kit"] is str
    assert FINDING_FIELDS["kit_effectiveness"]["p_value_adj"] is float
    assert FINDING_FIELDS["churn_risk"]["at_risk_count"] is int


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad_yaml/region.yaml", "6:5: invalid YAML: expected ',' or ']', but got '<scalar>'"),
        ("wrong_type/region.yaml", "7:29: rule 'gap_rule': field is a number, 'trinta' is not"),
        ("unknown_key/region.yaml", "6:5: rules.0.reraise_margn: unknown key 'reraise_margn'"),
        (
            "unknown_field/region.yaml",
            "7:19: rule 'gap_rule': finding 'region_failure' has no field 'sample_size'",
        ),
        (
            "unknown_policy_ref/region.yaml",
            "7:40: rule 'gap_rule': unknown policy parameter 'onboarding.max_failure_rate'",
        ),
        (
            "unknown_placeholder/region.yaml",
            "8:12: rule 'gap_rule': unknown placeholder {failure_ratio}: "
            "the finding has no field 'failure_ratio'",
        ),
        (
            "duplicate_id/b.yaml",
            f"2:9: duplicate rule id 'gap_rule' (first defined at {BROKEN}/duplicate_id/a.yaml:2:9)",
        ),
    ],
)
def test_broken_rule_file_gives_exact_positions(
    case: str, expected: str, policy_set: PolicySet
) -> None:
    path = BROKEN / case
    with pytest.raises(ValidationError) as info:
        load_rules(path.parent, policy_set)
    assert [str(p) for p in info.value.problems] == [f"{path}:{expected}"]
