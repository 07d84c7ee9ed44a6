"""Lint a policy and rule repository: policies, rules, rule tests and the insight grouping
(`analysis/grouping.yaml`) validated together."""

from __future__ import annotations

from pathlib import Path

from chanperf.core.errors import Problem, ValidationError
from chanperf.insights.grouping import load_grouping_config
from chanperf.policies.load import load_policies
from chanperf.rules.load import load_rules
from chanperf.rules.testing import load_rule_tests


def lint(policies_dir: Path, rules_dir: Path) -> list[Problem]:
    """Every problem in the policies, the rules and the rule tests (empty list = clean)."""

    try:
        policy_set = load_policies(policies_dir)
    except ValidationError as exc:
        # Rules reference policy parameters: they cannot be checked against a broken set.
        return [*exc.problems, Problem(str(rules_dir), "rules not checked: fix the policies first")]
    problems: list[Problem] = []
    try:
        load_rules(rules_dir, policy_set)
    except ValidationError as exc:
        problems += exc.problems
    if (rules_dir / "tests").is_dir():
        try:
            load_rule_tests(rules_dir / "tests")
        except ValidationError as exc:
            problems += exc.problems
    try:
        load_grouping_config(rules_dir)
    except ValidationError as exc:
        problems += exc.problems
    return problems
