"""Rule unit tests, like `promtool test rules`: findings in, expected insights out.

`rules/tests/*.yaml` list tests; each runs through durable *and* the pure
evaluator (they must agree) and its insights must be exactly the expected ones
(rule id and finding index), with the given fields equal. Coverage counts, per
rule, "fires", "does not fire" (a finding of its kind on which it stays silent)
and each severity level (every ladder step and the default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from chanperf.analysis.findings import Finding, finding_from_dict
from chanperf.core.errors import ChanperfError, Problem, ValidationError
from chanperf.core.yaml_positions import read_yaml, schema_problems
from chanperf.insights.drafts import InsightDraft, build_insight_drafts
from chanperf.policies.load import PolicySet, load_policies
from chanperf.rules.engine import Backend, evaluate
from chanperf.rules.load import Rule, load_rules

TEST_SCHEMA = "rule-test.v1.json"


@dataclass(frozen=True)
class RuleTest:
    path: str
    name: str
    findings: tuple[Finding, ...]
    params: Mapping[str, Any]
    expect: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class TestResult:
    test: RuleTest
    failures: tuple[str, ...]
    drafts: tuple[InsightDraft, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Coverage:
    items: dict[str, bool] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * sum(self.items.values()) / len(self.items) if self.items else 100.0

    @property
    def missing(self) -> list[str]:
        return [item for item, hit in self.items.items() if not hit]


def load_rule_tests(folder: Path | str) -> list[RuleTest]:
    folder = Path(folder)
    problems: list[Problem] = []
    tests: list[RuleTest] = []
    for path in sorted(folder.glob("*.yaml")):
        doc, file_problems = read_yaml(path)
        problems += file_problems
        if doc is None:
            continue
        found = schema_problems(doc, doc.data, TEST_SCHEMA)
        problems += found
        if found:
            continue
        defaults = doc.data.get("defaults", {})
        for i, raw in enumerate(doc.data["tests"]):
            findings = []
            for j, data in enumerate(raw["findings"]):
                at: list[str | int] = ["tests", i, "findings", j]
                try:
                    findings.append(finding_from_dict({**defaults, **data}))
                except ValidationError as exc:
                    problems += [doc.problem(at, p.message) for p in exc.problems]
                except ValueError as exc:
                    problems.append(doc.problem(at, str(exc)))
            tests.append(
                RuleTest(
                    doc.path,
                    raw["name"],
                    tuple(findings),
                    raw.get("params", {}),
                    tuple(raw["expect"]),
                )
            )
    if problems:
        raise ValidationError(problems, summary=f"{len(problems)} problem(s) in rule tests")
    return tests


def run_rule_test(
    test: RuleTest,
    rules: Sequence[Rule],
    policy_set: PolicySet,
    backends: Sequence[Backend] = ("durable", "pure"),
) -> TestResult:
    try:
        policies = policy_set.with_params(test.params) if test.params else policy_set
    except ChanperfError as exc:
        return TestResult(test, (str(exc),), ())
    results = {}
    for backend in backends:
        matches = evaluate(rules, policies, test.findings, backend=backend)
        results[backend] = (matches, build_insight_drafts(matches))
    first_matches, drafts = results[backends[0]]
    failures = []
    keys = {
        b: [(m.rule.id, m.finding_index, str(m.severity)) for m in ms]
        for b, (ms, _d) in results.items()
    }
    if any(k != keys[backends[0]] for k in keys.values()):
        failures.append(f"backends disagree: {keys}")
    got = {(m.rule.id, m.finding_index): d for m, d in zip(first_matches, drafts, strict=True)}
    wanted = {(e["rule"], e.get("finding", 0)): e for e in test.expect}
    for rule_id, index in sorted(set(got) - set(wanted)):
        failures.append(f"unexpected insight from rule {rule_id} on finding {index}")
    for rule_id, index in sorted(set(wanted) - set(got)):
        failures.append(f"expected rule {rule_id} to fire on finding {index}, it did not")
    for key in sorted(set(wanted) & set(got)):
        failures += _compare(got[key], wanted[key])
    return TestResult(test, tuple(failures), tuple(drafts))


def _compare(draft: InsightDraft, expected: Mapping[str, Any]) -> list[str]:
    out = []
    for name, want in expected.items():
        if name in ("rule", "finding"):
            continue
        if name == "proposal":
            p = draft.proposal
            have: Any = (
                None
                if p is None
                else {"policy": p.policy, "parameter": p.parameter, "value": p.value}
            )
            if want is not None and have is not None:
                have = {k: have[k] for k in want}
        else:
            have = getattr(draft, name)
            have = dict(have) if isinstance(have, Mapping) else have
            have = have.value if isinstance(have, Enum) else have
        if have != want:
            out.append(f"{draft.rule_id}: {name} is {have!r}, expected {want!r}")
    return out


def coverage(rules: Sequence[Rule], results: Sequence[TestResult]) -> Coverage:
    cov = Coverage()
    for rule in rules:
        cov.items[f"{rule.id}: fires"] = False
        cov.items[f"{rule.id}: does not fire"] = False
        for level in [*(str(s.level) for s in rule.severity_ladder), str(rule.severity_default)]:
            cov.items[f"{rule.id}: severity {level}"] = False
    for result in results:
        fired = {(d.rule_id, _index(result.test, d.finding)) for d in result.drafts}
        for draft in result.drafts:
            cov.items[f"{draft.rule_id}: fires"] = True
            cov.items[f"{draft.rule_id}: severity {draft.severity}"] = True
        for rule in rules:
            for index, finding in enumerate(result.test.findings):
                if finding.kind == rule.finding and (rule.id, index) not in fired:
                    cov.items[f"{rule.id}: does not fire"] = True
    return cov


def _index(test: RuleTest, finding: Finding) -> int:
    return next(i for i, f in enumerate(test.findings) if f is finding)


def run_all(
    rules_dir: Path,
    policies_dir: Path,
    tests_dir: Path | None,
    min_coverage: float,
    echo: Any = print,
) -> bool:
    """Load everything, run every test, print results and coverage; False on any failure."""

    policy_set = load_policies(policies_dir)
    rules = load_rules(rules_dir, policy_set)
    tests = load_rule_tests(tests_dir or rules_dir / "tests")
    results = [run_rule_test(t, rules, policy_set) for t in tests]
    for r in results:
        echo(f"{'PASS' if r.passed else 'FAIL'} {r.test.path}: {r.test.name}")
        for failure in r.failures:
            echo(f"    {failure}")
    cov = coverage(rules, results)
    failed = sum(not r.passed for r in results)
    echo(f"{len(results) - failed} passed, {failed} failed; coverage {cov.percent:.1f}%")
    for item in cov.missing:
        echo(f"    not exercised: {item}")
    if cov.percent + 1e-9 < min_coverage:
        echo(f"coverage {cov.percent:.1f}% is below --min-coverage {min_coverage:g}")
        return False
    return failed == 0
