"""YAML files read with their node positions, so every problem points at `path:line:col`.

Policies and rules share this: PyYAML's composed node tree keeps where each value
starts; a JSON Schema error's `absolute_path` is walked down that tree to find it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from chanperf.core.errors import Problem

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"

# YAML 1.1 turns these unquoted words into booleans: a region or state called NO
# would silently become False. Only the spelled-out true/false are accepted.
_BOOL_WORDS = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
# Sexagesimal (6:30 -> 390) and leading-zero octal (0777 -> 511) integers.
_SURPRISING_INT = re.compile(r"^[-+]?(0[0-7_]+|[0-9][0-9_]*(:[0-5]?[0-9])+)$")


@dataclass(frozen=True)
class YamlDocument:
    """A parsed file: the plain data plus the node tree that knows positions."""

    path: str
    data: Any
    node: yaml.Node | None

    def mark(self, at: Sequence[str | int]) -> tuple[int | None, int | None]:
        """1-based line and column of the value at `at`; the nearest existing parent if gone."""
        node = self.node
        if node is None:
            return None, None
        for step in at:
            child = _child(node, step)
            if child is None:
                break
            node = child
        return node.start_mark.line + 1, node.start_mark.column + 1

    def key_mark(self, at: Sequence[str | int], key: str) -> tuple[int | None, int | None]:
        """Position of the *key* `key` inside the mapping at `at` (for unknown keys)."""
        node = self.node
        for step in at:
            node = _child(node, step) if node is not None else None
        if isinstance(node, yaml.MappingNode):
            for k, _v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    return k.start_mark.line + 1, k.start_mark.column + 1
        return self.mark(at)

    def problem(self, at: Sequence[str | int], message: str, *, key: str | None = None) -> Problem:
        line, col = self.key_mark(at, key) if key is not None else self.mark(at)
        return Problem(self.path, message, line, col)


def _child(node: yaml.Node, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(step):
                return v
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]
    return None


def read_yaml(path: Path, display: str | None = None) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse one file; syntax errors and YAML 1.1 traps come back as problems."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(shown, f"cannot read file: {exc}")]
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        if mark is None:
            return None, [Problem(shown, message)]
        return None, [Problem(shown, message, mark.line + 1, mark.column + 1)]
    except yaml.YAMLError as exc:
        return None, [Problem(shown, f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    return YamlDocument(shown, data, node), list(_traps(shown, node))


def _traps(path: str, node: yaml.Node | None) -> Iterable[Problem]:
    if node is None:
        return
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                stack.extend((v, k))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))
        elif isinstance(current, yaml.ScalarNode) and current.style is None:
            word = current.value
            if current.tag.endswith(":bool") and _BOOL_WORDS.match(word):
                yield Problem(
                    path,
                    f'unquoted {word!r} is read as a boolean by YAML 1.1: quote it ("{word}")',
                    current.start_mark.line + 1,
                    current.start_mark.column + 1,
                )
            elif current.tag.endswith(":int") and _SURPRISING_INT.match(word):
                yield Problem(
                    path,
                    f"unquoted {word!r} is read as a base-60 or octal number by YAML 1.1: quote it",
                    current.start_mark.line + 1,
                    current.start_mark.column + 1,
                )


@cache
def load_schema(name: str) -> dict[str, Any]:
    with (SCHEMAS_DIR / name).open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def schema_problems(
    doc: YamlDocument, instance: Any, schema_name: str, prefix: Sequence[str | int] = ()
) -> list[Problem]:
    """Every schema violation of `instance` (found at `prefix` inside `doc`), positioned."""
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    problems: list[Problem] = []
    for error in sorted(
        validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))
    ):
        for leaf in _leaves(error):
            problems.extend(_describe(doc, leaf, list(prefix)))
    return sorted(set(problems), key=lambda p: (p.line or 0, p.col or 0, p.message))


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    # oneOf/anyOf errors say "is not valid under any of the given schemas": the most
    # specific sub-error (jsonschema's best_match) tells the author what to fix.
    if error.validator in ("oneOf", "anyOf") and error.context:
        return [jsonschema.exceptions.best_match(error.context)]
    return [error]


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path) or "(document)"


def _describe(
    doc: YamlDocument, error: jsonschema.ValidationError, prefix: list[str | int]
) -> list[Problem]:
    at = prefix + list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = [
            k
            for k in error.instance
            if k not in allowed and not any(p.search(str(k)) for p in patterns)
        ]
        if error.schema.get("additionalProperties") is False:
            return [
                doc.problem(at, f"{_dotted([*at, k])}: unknown key {k!r}", key=str(k))
                for k in extra
            ]
    return [doc.problem(at, f"{_dotted(at)}: {error.message}")]
