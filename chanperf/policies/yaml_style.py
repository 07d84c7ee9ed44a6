"""How a YAML file writes its values, and a value written that way.

`_detect_style` reads the file's own conventions from its text and PyYAML's node marks
(list indentation and offset, the quotes it uses, flow or block collections, line
ending); `_scalar` writes a value as such a file would. `yaml_edit` uses both to rewrite
only the values that change.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml


class UnsupportedEdit(Exception):
    """A change that cannot be written in place without touching text around it."""


_STR = "tag:yaml.org,2002:str"
# A plain scalar may not start with an indicator, nor hold ": " or " #" (YAML 1.1, 7.3.3).
_INDICATOR_START = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_CHARS = set(",[]{}")
_T = TypeVar("_T")


def _canon(value: Any) -> str:
    """Equality as YAML means it: 1, 1.0 and true are three different values."""
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class _Style:
    """How this file writes what is not visible in the value: line ending, indentation, quotes."""

    newline: str
    map_step: int
    seq_offset: int
    str_style: str | None
    key_style: str | None
    flow_seqs: bool


def _nodes(node: yaml.Node) -> Iterator[yaml.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, yaml.MappingNode):
            for k, v in reversed(current.value):
                stack.extend((v, k))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))


def _majority(seen: list[_T], default: _T) -> _T:
    return Counter(seen).most_common(1)[0][0] if seen else default


def _quote(node: yaml.Node | None) -> str | None:
    """A scalar node's quoting: None (plain), "'" or '"'."""
    return getattr(node, "style", None)


def _is_flow(node: yaml.Node | None) -> bool:
    return bool(getattr(node, "flow_style", False))


def _detect_style(text: str, root: yaml.Node) -> _Style:
    steps: list[int] = []
    offsets: list[int] = []
    values: list[str | None] = []
    keys: list[str | None] = []
    seq_flow: list[bool] = []
    for node in _nodes(root):
        if isinstance(node, yaml.SequenceNode):
            seq_flow.append(bool(node.flow_style))
        if not isinstance(node, yaml.MappingNode):
            continue
        for k, v in node.value:
            keys.append(_quote(k))
            if isinstance(v, yaml.ScalarNode) and v.tag == _STR and v.value:
                values.append(v.style)
            if node.flow_style or _is_flow(v):
                continue
            if isinstance(v, yaml.MappingNode) and v.value:
                steps.append(v.value[0][0].start_mark.column - k.start_mark.column)
            elif isinstance(v, yaml.SequenceNode) and v.value:
                offsets.append(v.start_mark.column - k.start_mark.column)
    return _Style(
        newline="\r\n" if "\r\n" in text else "\n",
        map_step=_majority([s for s in steps if s > 0], 2),
        seq_offset=_majority([o for o in offsets if o >= 0], 2),
        str_style=_majority(values, None),
        key_style=_majority(keys, None),
        flow_seqs=_majority(seq_flow, True),
    )


def _plain_ok(value: str, flow: bool) -> bool:
    if not value or value != value.strip() or any(c in value for c in "\n\r\t"):
        return False
    if value[0] in _INDICATOR_START or ": " in value or " #" in value or value.endswith(":"):
        return False
    if flow and any(c in _FLOW_CHARS for c in value):
        return False
    return yaml.SafeLoader.resolve(yaml.SafeLoader, yaml.ScalarNode, value, (True, False)) == _STR  # type: ignore[arg-type]


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:  # YAML 1.1 floats need a dot: 1.0e-05
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent if exponent[0] in '+-' else '+' + exponent}"
    return text


def _scalar(value: Any, style: str | None, flow: bool) -> str:
    """`value` as YAML text; a string keeps `style` (plain, ' or ") where that still reads back."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if not isinstance(value, str):
        raise UnsupportedEdit(f"cannot write a {type(value).__name__} value")
    if style is None and _plain_ok(value, flow):
        return value
    if style == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one
