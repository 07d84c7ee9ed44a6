"""The rule format: load `rules/*.yaml`, validate with positions, return typed Rules.

A rule consumes one finding kind; its `when` decides whether the finding is an
insight (sample size, practical effect and `p_value_adj` thresholds are written
here, in the rule, never in Python). Severity ladders, pt-BR templates and the
proposal template are applied after a match (see insight_drafts.py).
Everything an author can get wrong is reported as `path:line:col: message`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chanperf.analysis.findings import FINDING_FIELDS
from chanperf.core.enums import InsightCategory, InsightType, Severity, SuggestedAction
from chanperf.core.errors import Problem, ValidationError
from chanperf.core.yaml_positions import YamlDocument, read_yaml, schema_problems
from chanperf.policies.load import PolicySet
from chanperf.rules.templates import expr_names, template_problems

RULE_SCHEMA = "rule.v1.json"
COMPARISONS = ("gt", "gte", "lt", "lte", "eq", "neq")
# durable_rules cannot read numbers it would get in exponent notation; facts are
# clamped to this range (rules_engine), so thresholds must lie inside it.
NUMBER_MIN, NUMBER_MAX = 1e-4, 1e15
Literal_ = str | int | float | bool


@dataclass(frozen=True)
class Ref:
    """A right-hand side naming a policy parameter or another field of the same finding."""

    source: Literal["policy", "field"]
    name: str


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # one of COMPARISONS or "in"
    value: Literal_ | Ref | tuple[Literal_, ...]


@dataclass(frozen=True)
class Exists:
    field: str
    present: bool


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


Condition = Compare | Exists | AllOf | AnyOf


@dataclass(frozen=True)
class SeverityStep:
    level: Severity
    when: Condition


@dataclass(frozen=True)
class ProposalTemplate:
    """Which parameter to patch (`parameter` may hold placeholders) and how the value is derived."""

    policy: str
    parameter: str
    from_field: str | None = None
    value: Any = None
    expr: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    finding: str
    when: Condition
    type: InsightType
    category: InsightCategory
    affected: Mapping[str, str]
    severity_default: Severity
    severity_ladder: tuple[SeverityStep, ...]
    title: str
    observation: str
    recommendation: str
    suggested_action: SuggestedAction
    suggested_params: Mapping[str, Any] = field(default_factory=dict)
    # More evidence keys: key -> the finding field whose value it holds.
    evidence_keys: Mapping[str, str] = field(default_factory=dict)
    proposal: ProposalTemplate | None = None
    reraise_margin: float | None = None
    source_path: str = ""
    line: int | None = None


def load_rules(folder: Path | str, policy_set: PolicySet) -> tuple[Rule, ...]:
    """Every rule of `folder/*.yaml` (rule tests under `tests/` are not rules)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError([Problem(str(folder), "rules folder not found")])
    return load_rule_files(sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")), policy_set)


def load_rule_files(paths: Sequence[Path], policy_set: PolicySet) -> tuple[Rule, ...]:
    problems: list[Problem] = []
    rules: list[Rule] = []
    first_seen: dict[str, str] = {}
    for path in paths:
        doc, file_problems = read_yaml(path)
        problems += file_problems
        if doc is None:
            continue
        schema = schema_problems(doc, doc.data, RULE_SCHEMA)
        problems += schema
        if schema or file_problems:
            continue
        for i, raw in enumerate(doc.data["rules"]):
            at: list[str | int] = ["rules", i]
            line, col = doc.mark([*at, "id"])
            if raw["id"] in first_seen:
                problems.append(
                    doc.problem(
                        [*at, "id"],
                        f"duplicate rule id {raw['id']!r} (first defined at {first_seen[raw['id']]})",
                    )
                )
                continue
            first_seen[raw["id"]] = f"{doc.path}:{line}:{col}"
            checker = _RuleChecker(doc, at, raw, policy_set)
            rule = checker.build()
            problems += checker.problems
            if rule is not None and not checker.problems:
                rules.append(rule)
    if problems:
        raise ValidationError(problems, summary=f"{len(problems)} problem(s) in rules")
    return tuple(rules)


class _RuleChecker:
    """Turns one schema-valid rule mapping into a Rule, collecting semantic problems."""

    def __init__(
        self, doc: YamlDocument, at: list[str | int], raw: dict[str, Any], policy_set: PolicySet
    ):
        self.doc, self.at, self.raw, self.policy_set = doc, at, raw, policy_set
        self.problems: list[Problem] = []
        self.fields: Mapping[str, type] = FINDING_FIELDS.get(raw["finding"], {})

    def error(self, rel: Sequence[str | int], message: str) -> None:
        self.problems.append(
            self.doc.problem([*self.at, *rel], f"rule {self.raw['id']!r}: {message}")
        )

    def build(self) -> Rule | None:
        raw = self.raw
        if raw["finding"] not in FINDING_FIELDS:
            self.error(["finding"], f"unknown finding kind {raw['finding']!r}")
            return None
        when = self.condition(raw["when"], ["when"])
        sev = raw["severity"]
        ladder = tuple(
            SeverityStep(
                Severity(step["level"]),
                self.condition(step["when"], ["severity", "ladder", j, "when"]),
            )
            for j, step in enumerate(sev.get("ladder", []))
        )
        for key in ("title", "observation", "recommendation"):
            self.template(raw[key], [key])
        affected = raw["insight"].get("affected", {})
        for key, value in affected.items():
            self.template(value, ["insight", "affected", key])
        for key, value in raw.get("suggested_params", {}).items():
            if isinstance(value, str):
                self.template(value, ["suggested_params", key])
        evidence_keys = dict(raw.get("evidence_keys", {}))
        for key, name in evidence_keys.items():
            if name not in self.fields:
                self.error(
                    ["evidence_keys", key], f"finding {raw['finding']!r} has no field {name!r}"
                )
        proposal = self.proposal(raw.get("proposal"))
        return Rule(
            id=raw["id"],
            description=raw["description"],
            finding=raw["finding"],
            when=when,
            type=InsightType(raw["insight"]["type"]),
            category=InsightCategory(raw["insight"]["category"]),
            affected=dict(affected),
            severity_default=Severity(sev["default"]),
            severity_ladder=ladder,
            title=raw["title"],
            observation=raw["observation"],
            recommendation=raw["recommendation"],
            suggested_action=SuggestedAction(raw["suggested_action"]),
            suggested_params=dict(raw.get("suggested_params", {})),
            evidence_keys=evidence_keys,
            proposal=proposal,
            reraise_margin=raw.get("reraise_margin"),
            source_path=self.doc.path,
            line=self.doc.mark([*self.at, "id"])[0],
        )

    def template(self, text: str, rel: list[str | int]) -> None:
        for message in template_problems(text, self.fields, self.policy_set.get):
            self.error(rel, message)

    def field_type(self, name: str, rel: list[str | int]) -> type | None:
        if name not in self.fields:
            self.error(rel, f"finding {self.raw['finding']!r} has no field {name!r}")
            return None
        if self.fields[name] is dict:
            self.error(rel, f"field {name!r} is a mapping: conditions cannot use it")
            return None
        return self.fields[name]

    def condition(self, raw: dict[str, Any], rel: list[str | int]) -> Condition:
        if "all" in raw or "any" in raw:
            key = "all" if "all" in raw else "any"
            items = tuple(self.condition(c, [*rel, key, k]) for k, c in enumerate(raw[key]))
            return AllOf(items) if key == "all" else AnyOf(items)
        name = raw["field"]
        ftype = self.field_type(name, [*rel, "field"])
        if "exists" in raw:
            return Exists(name, raw["exists"])
        op = next(k for k in raw if k != "field")
        value = raw[op]
        if isinstance(value, dict):
            source, ref_name = next(iter(value.items()))
            value = Ref(source, ref_name)
            resolved = self.resolve(value, [*rel, op, source])
        else:
            resolved = value
        if op == "in":
            if isinstance(value, list):
                value = tuple(value)
            elif resolved is not None and not isinstance(resolved, list):
                self.error([*rel, op], f"'in' needs a list, {value.name!r} is {resolved!r}")
            for item in resolved if isinstance(resolved, list) else ():
                self.check_type(ftype, "eq", item, [*rel, op])
        elif resolved is not None:
            self.check_type(ftype, op, resolved, [*rel, op])
        return Compare(name, op, value)

    def resolve(self, ref: Ref, rel: list[str | int]) -> Any:
        if ref.source == "field":
            ftype = self.field_type(ref.name, rel)
            return None if ftype is None else _SAMPLE.get(ftype)
        try:
            return self.policy_set.get(ref.name)
        except Exception:
            self.error(rel, f"unknown policy parameter {ref.name!r}")
            return None

    def check_type(self, ftype: type | None, op: str, value: Any, rel: list[str | int]) -> None:
        if ftype is None or ftype is object:
            return
        numeric = ftype in (int, float)
        if op not in ("eq", "neq") and not numeric:
            self.error(rel, f"'{op}' compares numbers, field is {ftype.__name__}")
        elif numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            self.error(rel, f"field is a number, {value!r} is not")
        elif numeric and value != 0 and not (NUMBER_MIN <= abs(value) < NUMBER_MAX):
            self.error(rel, f"{value!r} is outside the numbers rules may use (0 or 0.0001 to 1e15)")
        elif ftype is str and not isinstance(value, str):
            self.error(rel, f"field is text, {value!r} is not: quote it")
        elif ftype is bool and not isinstance(value, bool):
            self.error(rel, f"field is true/false, {value!r} is not")
        elif ftype not in (int, float, str, bool):
            self.error(rel, f"field of type {ftype.__name__} cannot be compared")

    def proposal(self, raw: dict[str, Any] | None) -> ProposalTemplate | None:
        if raw is None:
            return None
        if raw["policy"] not in self.policy_set.policies:
            self.error(["proposal", "policy"], f"unknown policy {raw['policy']!r}")
        self.template(raw["parameter"], ["proposal", "parameter"])
        if "from_field" in raw:
            self.field_type(raw["from_field"], ["proposal", "from_field"])
        if "expr" in raw:
            try:
                for name in expr_names(raw["expr"]):
                    if name.startswith("policy."):
                        self.resolve(Ref("policy", name), ["proposal", "expr"])
                    else:
                        self.field_type(name, ["proposal", "expr"])
            except (SyntaxError, ValueError) as exc:
                self.error(["proposal", "expr"], f"bad expression: {exc}")
        return ProposalTemplate(
            policy=raw["policy"],
            parameter=raw["parameter"],
            from_field=raw.get("from_field"),
            value=raw.get("value"),
            expr=raw.get("expr"),
        )


# A stand-in value per field type, so a field-to-field comparison is type-checked like a literal.
_SAMPLE: dict[type, Any] = {int: 0, float: 0.0, str: "", bool: False}
