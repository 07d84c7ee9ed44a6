"""Compile typed rules to durable_rules' JSON ruleset form, as plain dicts (pure code).

The compiled `ruleset` decides only *whether* a rule fires on a finding: one
pattern per rule, `{"kind": <finding kind>}` and-ed with the rule's `when`.
The kind test also keeps durable's own session-state record from matching.
Severity ladders are compiled into the same condition language but are not
given to durable: after a match they are evaluated by the pure evaluator
(`chanperf.rules.pure`), first matching step wins. Templates and proposals are applied
in Python (`chanperf.insights.drafts`). Policy references are resolved here, so a policy
change yields a different compiled content (and ruleset name).

Encodings durable lacks: `in` becomes an `$or` of equalities (an empty list
becomes `$nex kind`, which never holds); a comparison with another field is
guarded by `$ex` on that field, because durable treats a missing right-hand
field as matching.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chanperf.policies.load import PolicySet, load_policies
from chanperf.rules.load import AllOf, AnyOf, Compare, Condition, Exists, Ref, Rule, load_rules

_OPS = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte", "neq": "$neq"}
NEVER: dict[str, Any] = {"$nex": {"kind": 1}}


@dataclass(frozen=True)
class CompiledRules:
    """`ruleset` is durable's input for a ruleset called `name` (derived from the content)."""

    name: str
    ruleset: dict[str, Any]
    severity: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ruleset": {self.name: self.ruleset}, "severity": self.severity}


def compile_condition(cond: Condition, policy_set: PolicySet) -> dict[str, Any]:
    if isinstance(cond, AllOf | AnyOf):
        items = [compile_condition(c, policy_set) for c in cond.items]
        if len(items) == 1:
            return items[0]
        return {"$and" if isinstance(cond, AllOf) else "$or": items}
    if isinstance(cond, Exists):
        return {"$ex" if cond.present else "$nex": {cond.field: 1}}
    return _compare(cond, policy_set)


def _compare(cond: Compare, policy_set: PolicySet) -> dict[str, Any]:
    value = cond.value
    if isinstance(value, Ref) and value.source == "policy":
        value = policy_set.get(value.name)
    if cond.op == "in":
        options = list(value) if isinstance(value, list | tuple) else [value]
        if not options:
            return NEVER
        alternatives = [{cond.field: v} for v in options]
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
    if isinstance(value, Ref):
        rhs: Any = {"$m": value.name}
        test = {cond.field: rhs} if cond.op == "eq" else {_OPS[cond.op]: {cond.field: rhs}}
        return {"$and": [{"$ex": {value.name: 1}}, test]}
    if cond.op == "eq":
        return {cond.field: value}
    return {_OPS[cond.op]: {cond.field: value}}


def compile_rule(rule: Rule, policy_set: PolicySet) -> dict[str, Any]:
    when = compile_condition(rule.when, policy_set)
    parts = [{"kind": rule.finding}, *when.get("$and", [when])]
    return {"all": [{"m": {"$and": parts}}], "run": rule.id}


def compile_rules(rules: Sequence[Rule], policy_set: PolicySet) -> CompiledRules:
    ruleset = {rule.id: compile_rule(rule, policy_set) for rule in rules}
    severity = {
        rule.id: {
            "ladder": [
                {"level": str(step.level), "when": compile_condition(step.when, policy_set)}
                for step in rule.severity_ladder
            ],
            "default": str(rule.severity_default),
        }
        for rule in rules
    }
    digest = hashlib.sha256(json.dumps(ruleset, sort_keys=True).encode("utf-8")).hexdigest()
    return CompiledRules(name=f"chanperf_{digest[:16]}", ruleset=ruleset, severity=severity)


def golden_text(rules_dir: Path, policies_dir: Path) -> str:
    """The compiled shipped pack as stable, reviewable JSON."""

    policy_set = load_policies(policies_dir)
    compiled = compile_rules(load_rules(rules_dir, policy_set), policy_set)
    return json.dumps(compiled.as_dict(), indent=2, ensure_ascii=False) + "\n"
