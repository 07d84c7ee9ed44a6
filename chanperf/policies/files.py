"""Policy files as text: JSON Patch on the document, in-place edits, unified diffs, atomic writes.

The patch is RFC 6902 (jsonpatch) on the document as the loader reads it (PyYAML);
the file is then edited in place (`yaml_edit.rewrite`): only the values that change
are rewritten, in the file's own style, so a proposal's diff holds just those lines
and reads like a pull request whatever indentation, quoting or line ending the
policy repository uses. A change that cannot be written in place (block scalars,
aliased values) falls back to a ruamel.yaml round trip, which keeps comments, key
order and quotes but re-emits the file in its own layout.
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
import yaml
from jsonpointer import escape
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from chanperf.core.errors import ConflictError
from chanperf.policies.yaml_edit import UnsupportedEdit, rewrite

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


def read_document(text: str) -> Any:
    """The document as the loader reads it (PyYAML, YAML 1.1); a broken file is a conflict."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConflictError(f"the policy file is not valid YAML: {exc}") from None


def apply_to_text(
    text: str, patch: list[dict[str, Any]], new_version: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The file text after `patch` (and `version: new_version`), and its plain document.

    Only the changed values' text changes (see the module's doc). Raises ConflictError
    when a `test` op fails or a path is gone: the file moved on.
    """
    document = read_document(text)
    if not isinstance(document, dict):
        raise ConflictError("the policy file does not hold a mapping")
    try:
        wanted = jsonpatch.apply_patch(document, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ConflictError(
            f"the policy file changed and the patch no longer applies: {exc}"
        ) from None
    if new_version is not None:
        wanted["version"] = new_version
    try:
        return rewrite(text, wanted), wanted
    except UnsupportedEdit:
        return _round_trip(text, patch, new_version)


def _round_trip(
    text: str, patch: list[dict[str, Any]], new_version: int | None
) -> tuple[str, dict[str, Any]]:
    """The patch applied on ruamel's tree: the fallback for what `rewrite` cannot edit in place."""
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
    new_text = dump_text(tree)
    if "\r\n" in text:  # ruamel writes LF; the file's own line ending stays
        new_text = new_text.replace("\r\n", "\n").replace("\n", "\r\n")
    return new_text, read_document(new_text)


def read_policy_text(path: Path) -> str:
    """The file's text exactly as stored: CRLF stays CRLF (no newline translation)."""
    return path.read_bytes().decode("utf-8")


def repo_path(path: Path) -> str:
    """`path` relative to its policy repository's root, as a diff names it.

    The root is the git top level of the file's folder - the nearest folder up from
    it holding `.git` (a directory, or a file in a worktree or submodule) - or the
    folder itself when it is not in git. Symbolic links are resolved first: git
    refuses a patch whose path goes through one.
    """
    real = path.resolve()
    for folder in real.parents:
        if (folder / ".git").exists():
            return real.relative_to(folder).as_posix()
    return real.name


def unified_diff(old: str, new: str, relpath: str) -> str:
    """A diff `git apply` accepts at the repository root (`a/<relpath>`, `b/<relpath>`).

    Lines keep their own endings (a CRLF file's lines carry their CR), so the
    patch applies to the file byte for byte.
    """
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
