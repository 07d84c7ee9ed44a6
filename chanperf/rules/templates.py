"""pt-BR text templates and the small proposal-value expressions of rules.

Templates use `str.format` syntax with named finding fields and an optional
filter: `{rate_b:pct}` -> "45%", `{effect:pp}` -> "33 p.p.", `{cost_difference:money}` -> "R$ 15.000",
`{ratio:x}` -> "1,7x", `{n:num}`, `{median_days_a:int}`, `{p_value_adj:p}` -> "0,012",
`{period_start:date}` -> "01/03/2024", `{dimension:label}` -> "segmento" (pt-BR name of a
code). `{policy.<name>.<path>}` quotes a policy parameter; `{scope}` reads "região X,
segmento Y" (or "canal inteiro") from the finding's region and segment. Names and
filters are checked when rules load.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Callable, Mapping
from typing import Any

from chanperf.core import ptbr

MISSING_TEXT = "n/d"


def _scope(values: Mapping[str, Any]) -> str:
    parts = [
        f"{ptbr.LABELS[key]} {values[key]}"
        for key in ("region", "segment")
        if values.get(key) is not None
    ]
    return ", ".join(parts) or "canal inteiro"


# Placeholders computed from several fields rather than read from one.
DERIVED: dict[str, Callable[[Mapping[str, Any]], str]] = {"scope": _scope}


FILTERS: dict[str, Callable[[Any], str]] = {
    "": ptbr.number,
    "num": ptbr.number,
    "pct": ptbr.percent,
    "pp": ptbr.points,
    "money": ptbr.money,
    "x": ptbr.times,
    "int": lambda v: ptbr.br_number(round(float(v)), 0),
    "p": ptbr.p_value,
    "date": ptbr.date_br,
    "label": ptbr.label,
}


def placeholders(template: str) -> list[tuple[str, str]]:
    """(name, filter) of every `{...}` in template; ValueError on malformed syntax."""
    out = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or conversion or "{" in (spec or ""):
            raise ValueError(f"placeholder {{{name}}} must be a field name with an optional filter")
        out.append((name, spec or ""))
    return out


def template_problems(
    template: str, fields: Mapping[str, type], policy_get: Callable[[str], Any]
) -> list[str]:
    """Messages for unknown placeholders or filters in `template` (empty when fine)."""
    try:
        found = placeholders(template)
    except ValueError as exc:
        return [f"bad template: {exc}"]
    problems = []
    for name, spec in found:
        if spec not in FILTERS:
            problems.append(
                f"unknown filter {spec!r} in {{{name}:{spec}}} (use: {', '.join(f for f in FILTERS if f)})"
            )
        if name.startswith("policy."):
            try:
                policy_get(name)
            except Exception:
                problems.append(f"unknown policy parameter {name!r} in template")
        elif name not in fields and name not in DERIVED:
            problems.append(f"unknown placeholder {{{name}}}: the finding has no field {name!r}")
    return problems


def render_text(template: str, values: Mapping[str, Any], policy_get: Callable[[str], Any]) -> str:
    """Fill a pt-BR template; a field without a value reads "n/d"."""
    out = []
    for literal, name, spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name in DERIVED:
            out.append(DERIVED[name](values))
            continue
        value = policy_get(name) if name.startswith("policy.") else values.get(name)
        out.append(MISSING_TEXT if value is None else FILTERS[spec or ""](value))
    return "".join(out)


def render_value(template: Any, values: Mapping[str, Any], policy_get: Callable[[str], Any]) -> Any:
    """Like render_text, but "{field}" alone keeps the field's own type (None stays None)."""
    if not isinstance(template, str):
        return template
    found = placeholders(template)
    if len(found) == 1 and template == "{" + found[0][0] + "}":
        name = found[0][0]
        return policy_get(name) if name.startswith("policy.") else values.get(name)
    if any(values.get(n) is None and not n.startswith("policy.") for n, _ in found):
        return None
    parts: list[str] = []
    for literal, key, _spec, _conv in string.Formatter().parse(template):
        parts.append(literal)
        if key is not None:
            parts.append(str(policy_get(key) if key.startswith("policy.") else values[key]))
    return "".join(parts)


# Proposal values may be derived by a tiny arithmetic language: numbers, finding
# fields, policy.<...> parameters, + - * /, and min/max/round/abs. Nothing else
# is evaluated, so a rule file can never run code.
_CALLS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "round": round, "abs": abs}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def expr_names(expr: str) -> list[str]:
    """Field names and policy addresses an expression uses; ValueError if outside the whitelist."""
    tree = ast.parse(expr, mode="eval")
    names: list[str] = []

    def visit(node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            visit(node.left)
            visit(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            visit(node.operand)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CALLS
        ):
            if node.keywords:
                raise ValueError("keyword arguments are not allowed")
            for arg in node.args:
                visit(arg)
        elif (dotted := _dotted(node)) is not None and (
            "." not in dotted or dotted.startswith("policy.")
        ):
            names.append(dotted)
        else:
            raise ValueError(f"not allowed in an expression: {ast.unparse(node)!r}")

    visit(tree.body)
    return names


def eval_expr(expr: str, values: Mapping[str, Any], policy_get: Callable[[str], Any]) -> Any:
    def ev(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return _CALLS[node.func.id](*(ev(a) for a in node.args))
        name = _dotted(node) or ""
        return policy_get(name) if name.startswith("policy.") else values[name]

    expr_names(expr)  # refuses anything outside the whitelist before evaluating
    return ev(ast.parse(expr, mode="eval").body)
