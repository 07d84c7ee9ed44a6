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
import math
import string
from collections.abc import Callable, Mapping
from typing import Any

MISSING_TEXT = "n/d"


def _br_number(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _num(value: Any) -> str:
    if isinstance(value, list | tuple):  # a policy list, e.g. priority regions
        return ", ".join(_num(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return _br_number(value, 0)
    return _br_number(value, 2).rstrip("0").rstrip(",")


def _pct(value: Any) -> str:
    pct = float(value) * 100
    return (
        _br_number(pct, 0) if math.isclose(pct, round(pct), abs_tol=0.05) else _br_number(pct, 1)
    ) + "%"


def _points(value: Any) -> str:
    """A difference of two rates in percentage points: 0.33 -> "33 p.p."."""
    return _pct(value).removesuffix("%") + " p.p."


def _money(value: Any) -> str:
    return "R$ " + _br_number(float(value), 0 if float(value).is_integer() else 2)


def _times(value: Any) -> str:
    text = _br_number(float(value), 1)
    return text.removesuffix(",0") + "x"


def _p_value(value: Any) -> str:
    return "< 0,001" if float(value) < 0.001 else _br_number(float(value), 3)


def _date(value: Any) -> str:
    year, month, day = str(value)[:10].split("-")
    return f"{day}/{month}/{year}"


# pt-BR names of the codes findings carry (dimensions, metrics, states); unknown codes pass through.
LABELS = {
    "region": "região",
    "segment": "segmento",
    "kit": "kit",
    "strategy": "estratégia",
    "activation_rate": "taxa de ativação",
    "median_activation_days": "mediana de dias até a ativação",
    "avg_activation_days": "média de dias até a ativação",
    "win_rate": "taxa de sucesso da reativação",
    "reactivation_rate": "taxa de sucesso da reativação",
    "reincidence_rate": "reincidência",
    "nps": "NPS",
    "nps_score": "NPS",
    "margin": "margem",
    "priority_share": "participação das regiões prioritárias",
    "time_in_state": "tempo no estado",
    "transition_rate": "taxa de transição",
    "worse": "piora",
    "better": "melhora",
}


def _label(value: Any) -> str:
    return LABELS.get(str(value), str(value))


def _scope(values: Mapping[str, Any]) -> str:
    parts = [
        f"{LABELS[key]} {values[key]}"
        for key in ("region", "segment")
        if values.get(key) is not None
    ]
    return ", ".join(parts) or "canal inteiro"


# Placeholders computed from several fields rather than read from one.
DERIVED: dict[str, Callable[[Mapping[str, Any]], str]] = {"scope": _scope}


FILTERS: dict[str, Callable[[Any], str]] = {
    "": _num,
    "num": _num,
    "pct": _pct,
    "pp": _points,
    "money": _money,
    "x": _times,
    "int": lambda v: _br_number(round(float(v)), 0),
    "p": _p_value,
    "date": _date,
    "label": _label,
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
