"""Policy files as text: JSON Patch on the document, round-trip YAML, unified diffs, atomic writes.

PyYAML (the loader) drops comments; ruamel.yaml's round-trip mode keeps comments,
key order, quotes and flow style, so a proposal's diff touches only the lines that
change and reads like a pull request. The patch itself is RFC 6902 (jsonpatch),
applied to ruamel's tree in place so the tree keeps its formatting.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonpatch
from jsonpointer import escape
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from chanperf.core.errors import ConflictError

_MISSING = object()


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line the author wrote
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_text(text: str) -> Any:
    return _yaml().load(text)


def dump_text(tree: Any) -> str:
    out = io.StringIO()
    _yaml().dump(tree, out)
    return out.getvalue()


def pointer(parameter: str) -> str:
    """JSON pointer of `params.<parameter>` (dotted path; `~` and `/` escaped per RFC 6901)."""
    return "/params/" + "/".join(escape(part) for part in parameter.split("."))


def _plain(value: Any) -> Any:
    """ruamel's scalar and container subclasses as plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def make_patch(document: Mapping[str, Any], parameter: str, value: Any) -> list[dict[str, Any]]:
    """RFC 6902 ops that set `params.<parameter>` to `value` on `document`.

    An existing value gets a `test` op (its old value) then `replace`: applying
    refuses when someone changed it meanwhile. A missing path gets `test` ops on the
    parent containers' absence being impossible in JSON Patch, so the first missing
    key is `add`ed with the rest of the path nested in its value.
    """
    parts = parameter.split(".")
    node: Any = document.get("params", {})
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            nested: Any = value
            for key in reversed(parts[i + 1 :]):
                nested = {key: nested}
            at = pointer(".".join(parts[: i + 1]))
            return [{"op": "add", "path": at, "value": nested}]
        node = node[part]
    path = pointer(parameter)
    return [
        {"op": "test", "path": path, "value": _plain(node)},
        {"op": "replace", "path": path, "value": value},
    ]


def _styled(value: Any, like: Any) -> Any:
    """Keep the file's quoting: policy codes are double-quoted (YAML 1.1 reads NO as false)."""
    if isinstance(value, Mapping):
        return CommentedMap((k, _styled(v, None)) for k, v in value.items())
    if isinstance(value, str) and (like is None or isinstance(like, DoubleQuotedScalarString)):
        return DoubleQuotedScalarString(value)
    return value


def _last_entry(node: Any) -> tuple[CommentedMap, Any] | None:
    """The innermost last (map, key) under `node`: where ruamel keeps a trailing comment."""
    found = None
    while isinstance(node, CommentedMap) and node:
        key = list(node.keys())[-1]
        found, node = (node, key), node[key]
    return found


def _add_key(parent: CommentedMap, key: str, value: Any) -> None:
    """Append `key` to a mapping, quoted like its siblings, keeping the next line's comment below it.

    ruamel stores a comment that precedes the *next* key of an outer mapping as the
    trailing comment of the innermost last entry; a key appended after that entry
    would land below the comment, so the comment moves to the new last entry.
    """
    quoted = any(isinstance(k, DoubleQuotedScalarString) for k in parent)
    before = _last_entry(parent)
    parent[DoubleQuotedScalarString(key) if quoted else key] = value
    after = _last_entry(parent)
    if before is None or after is None:
        return
    items = before[0].ca.items
    token = items.get(before[1], [None, None, None, None])[2]
    if token is None or not token.value.startswith("\n"):
        return  # an end-of-line comment belongs to its own line: leave it
    items[before[1]][2] = None
    after[0].ca.items.setdefault(after[1], [None, None, None, None])[2] = token


def apply_to_text(
    text: str, patch: list[dict[str, Any]], new_version: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The file text after `patch` (and `version: new_version`), and its plain document.

    Raises ConflictError when a `test` op fails or a path is gone: the file moved on.
    """
    tree = load_text(text)
    try:
        for op in patch:
            ptr = jsonpatch.JsonPointer(op["path"])
            old = ptr.resolve(tree, _MISSING)
            parent, key = ptr.to_last(tree)
            if op["op"] not in ("add", "replace"):
                jsonpatch.JsonPatch([op]).apply(tree, in_place=True)
                continue
            value = _styled(op["value"], None if old is _MISSING else old)
            if op["op"] == "add" and old is _MISSING and isinstance(parent, CommentedMap):
                _add_key(parent, str(key), value)
            else:
                jsonpatch.JsonPatch([{**op, "value": value}]).apply(tree, in_place=True)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ConflictError(
            f"the policy file changed and the patch no longer applies: {exc}"
        ) from None
    if new_version is not None:
        tree["version"] = new_version
    return dump_text(tree), _plain(tree)


def unified_diff(old: str, new: str, relpath: str) -> str:
    """A diff `git apply` accepts from the repository root (`a/<relpath>`, `b/<relpath>`)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{relpath}",
        tofile=f"b/{relpath}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def atomic_write(path: Path, data: bytes) -> None:
    """Write beside the file, fsync, then rename over it: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
