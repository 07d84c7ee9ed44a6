"""A pure-Python evaluator of the compiled condition form (see rule_compiler).

It cross-checks durable (the rule tests run both and require identical results),
evaluates severity ladders, and is the fallback where `durable` cannot be imported.
Semantics follow what durable was measured to do: a comparison with a missing
field is false (`$neq` too), `$ex`/`$nex` test presence, and facts never hold
None (absent fields are left out of the fact).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$neq": operator.ne,
}


def compile_predicate(cond: Mapping[str, Any]) -> Predicate:
    """Turn one compiled condition into a Python function of a fact (built once, called often)."""
    if len(cond) != 1:
        parts = [compile_predicate({k: v}) for k, v in cond.items()]
        return lambda fact: all(p(fact) for p in parts)
    key, arg = next(iter(cond.items()))
    if key == "$and":
        parts = [compile_predicate(c) for c in arg]
        return lambda fact: all(p(fact) for p in parts)
    if key == "$or":
        parts = [compile_predicate(c) for c in arg]
        return lambda fact: any(p(fact) for p in parts)
    if key in ("$ex", "$nex"):
        (name,) = arg
        present = key == "$ex"
        return lambda fact: (name in fact) is present
    if key in _CMP:
        ((name, rhs),) = arg.items()
        return _comparison(name, _CMP[key], rhs)
    if key.startswith("$"):
        raise ValueError(f"operator {key} is not supported")
    return _comparison(key, operator.eq, arg)


def _comparison(name: str, op: Callable[[Any, Any], bool], rhs: Any) -> Predicate:
    if isinstance(rhs, Mapping):
        if set(rhs) != {"$m"}:
            raise ValueError(f"right-hand side {rhs!r} is not supported")
        other = rhs["$m"]

        def by_field(fact: Mapping[str, Any]) -> bool:
            if name not in fact or other not in fact:
                return False
            try:
                return op(fact[name], fact[other])
            except TypeError:
                return False

        return by_field

    def by_value(fact: Mapping[str, Any]) -> bool:
        if name not in fact:
            return False
        try:
            return op(fact[name], rhs)
        except TypeError:
            return False

    return by_value


def matches(cond: Mapping[str, Any], fact: Mapping[str, Any]) -> bool:
    return compile_predicate(cond)(fact)


def rule_predicate(compiled_rule: Mapping[str, Any]) -> Predicate:
    """A durable rule `{"all": [{"m": cond}], "run": ...}` as a predicate (one pattern only)."""
    patterns = compiled_rule["all"]
    if len(patterns) != 1 or set(patterns[0]) != {"m"}:
        raise ValueError("only single-pattern rules are supported")
    return compile_predicate(patterns[0]["m"])
