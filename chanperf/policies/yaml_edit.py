"""Style-preserving edits of a YAML file: only the text of the values that change is rewritten.

A round trip through a YAML library re-emits the whole file in the library's own
style (list indentation, spacing, quotes it did not record), so a one-value change
can show up as many changed lines in review. Here PyYAML (the loader's parser) is
used only to learn where each value's text starts and ends (its node marks); the
old and new documents are compared value by value and each changed value's span
is replaced by the new value written the way the file writes it: the same quotes,
flow or block, the file's indentation and line ending. Everything else - comments,
blank lines, key order, untouched values - stays byte for byte.

`rewrite` refuses (`UnsupportedEdit`) what it cannot write in place (block scalars,
anchors whose edit would change every alias); the caller decides what to do then.
The result is always re-read and compared with the wanted document, so a rendering
slip is a refusal, never a silently different file.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from chanperf.policies.yaml_style import (
    _STR,
    UnsupportedEdit,
    _canon,
    _detect_style,
    _is_flow,
    _quote,
    _scalar,
)


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str


class _Editor:
    def __init__(self, text: str, root: yaml.Node) -> None:
        self.text = text
        self.root = root
        self.style = _detect_style(text, root)
        self.splices: list[_Splice] = []

    # -- positions ---------------------------------------------------------------
    def _line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def _next_line(self, index: int) -> int:
        """Start of the line after the one holding `index` (the end of the text if none)."""
        found = self.text.find("\n", index)
        return len(self.text) if found < 0 else found + 1

    def _alone_on_line(self, index: int) -> bool:
        return not self.text[self._line_start(index) : index].strip()

    def _last_end(self, node: yaml.Node) -> int:
        """Where the text of `node` ends (a block collection's own end mark lies past comments)."""
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("|", ">"):
                raise UnsupportedEdit("block scalars are not edited in place")
            return int(node.end_mark.index)
        if _is_flow(node) or not node.value:
            return int(node.end_mark.index)
        last = node.value[-1]
        return self._last_end(last[1] if isinstance(node, yaml.MappingNode) else last)

    def _dash(self, item: yaml.Node) -> int:
        """Index of the `-` that opens block sequence item `item`."""
        before = self.text[: item.start_mark.index].rstrip()
        if not before.endswith("-"):
            raise UnsupportedEdit("a sequence item without its dash")
        return len(before) - 1

    def _add(self, start: int, end: int, text: str) -> None:
        self.splices.append(_Splice(start, end, text))

    # -- the comparison -------------------------------------------------------------
    def change(self, node: yaml.Node, old: Any, new: Any, flow: bool, anchors: set[int]) -> None:
        if _canon(old) == _canon(new):
            return
        if id(node) in anchors:
            raise UnsupportedEdit("an aliased value is not edited in place")
        if isinstance(node, yaml.MappingNode) and isinstance(new, Mapping) and new and old:
            self._change_mapping(node, old, new, flow, anchors)
        elif isinstance(node, yaml.SequenceNode) and isinstance(new, list) and new and old:
            self._change_sequence(node, old, new, flow, anchors)
        elif isinstance(node, yaml.ScalarNode) and not isinstance(new, Mapping | list):
            self._replace_scalar(node, new, flow)
        elif isinstance(node, yaml.ScalarNode) or _is_flow(node):
            # a scalar becomes a collection (or a flow one changes shape): written in flow
            start, end = node.start_mark.index, self._last_end(node)
            text = self._flow(new, node, outer_flow=flow)
            self._add(start, end, text if end > start else " " + text)
        else:
            raise UnsupportedEdit("a block collection replaced by another kind of value")

    def _replace_scalar(self, node: yaml.ScalarNode, new: Any, flow: bool) -> None:
        if node.style in ("|", ">"):
            raise UnsupportedEdit("block scalars are not edited in place")
        start, end = node.start_mark.index, node.end_mark.index
        rendered = _scalar(new, node.style if isinstance(new, str) else None, flow)
        if start == end:  # an empty value (`key:`, `-`): its mark is right after the indicator
            rendered = " " + rendered
        # A comment after the value keeps its column (the value grew or shrank beside it).
        after = re.match(r"[ \t]+(?=#)", self.text[end:])
        if after and "\n" not in self.text[start:end]:
            room = len(after.group()) + (end - start) - len(rendered)
            self._add(start, end + len(after.group()), rendered + " " * max(room, 1))
        else:
            self._add(start, end, rendered)

    def _change_mapping(
        self,
        node: yaml.MappingNode,
        old: Mapping[Any, Any],
        new: Mapping[Any, Any],
        flow: bool,
        anchors: set[int],
    ) -> None:
        if not isinstance(old, Mapping) or len(old) != len(node.value):
            raise UnsupportedEdit("a mapping with repeated or merged keys")
        added = {k: v for k, v in new.items() if k not in old}
        if _is_flow(node) and (added or any(k not in new for k in old)):
            self._rewrite_flow_mapping(node, old, new)
            return
        inner = flow or _is_flow(node)
        for (key, value), (name, was) in zip(node.value, old.items(), strict=True):
            if name not in new:
                self._remove_lines(key.start_mark.index, value)
            else:
                self.change(value, was, new[name], inner, anchors)
        if added:
            self._insert_entries(node, added)

    def _remove_lines(self, first: int, last: yaml.Node) -> None:
        """Remove the whole lines from the one holding `first` to the end of node `last`."""
        if not self._alone_on_line(first):
            raise UnsupportedEdit("an entry sharing its line is not removed in place")
        self._add(self._line_start(first), self._next_line(self._last_end(last)), "")

    def _insert_entries(self, node: yaml.MappingNode, added: Mapping[Any, Any]) -> None:
        """New keys after the mapping's last line, at its keys' column, laid out like a sibling."""
        like = node.value[-1]
        key_col = node.value[0][0].start_mark.column
        nl = self.style.newline
        text = "".join(
            " " * key_col
            + self._key(k, node, like)
            + ":"
            + self._block(v, self._sibling_value(node, v), key_col)
            + nl
            for k, v in added.items()
        )
        at = self._next_line(self._last_end(node))
        if at == len(self.text) and not self.text.endswith("\n"):
            text = nl + text[: -len(nl)]  # the file ends without a line break: so does the new one
        self._add(at, at, text)

    def _sibling_value(self, node: yaml.MappingNode, value: Any) -> yaml.Node | None:
        """An existing value of the same kind in `node`: its layout is copied for the new one."""
        for _k, v in reversed(node.value):
            if isinstance(value, Mapping) and isinstance(v, yaml.MappingNode):
                return v
            if isinstance(value, list) and isinstance(v, yaml.SequenceNode):
                return v
            if not isinstance(value, Mapping | list) and isinstance(v, yaml.ScalarNode):
                return v
        return None

    def _change_sequence(
        self,
        node: yaml.SequenceNode,
        old: list[Any],
        new: list[Any],
        flow: bool,
        anchors: set[int],
    ) -> None:
        inner = flow or _is_flow(node)
        items = node.value
        matcher = difflib.SequenceMatcher(
            None, [_canon(v) for v in old], [_canon(v) for v in new], autojunk=False
        )
        opcodes = matcher.get_opcodes()
        if _is_flow(node) and len(old) != len(new):
            self._rewrite_flow_sequence(node, new, opcodes)
            return
        for op, i1, i2, j1, j2 in opcodes:
            if op == "equal":
                continue
            if op == "replace" and i2 - i1 == j2 - j1:
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    self.change(items[i], old[i], new[j], inner, anchors)
                continue
            for item in items[i1:i2]:
                self._remove_lines(self._dash(item), item)
            if j2 > j1:
                self._insert_items(node, i2, new[j1:j2])

    def _insert_items(self, node: yaml.SequenceNode, before: int, values: list[Any]) -> None:
        """New block items before item `before` (or after the last), laid out like their neighbour."""
        like = node.value[max(min(before, len(node.value)) - 1, 0)]
        dash = self._dash(node.value[0])
        col = dash - self._line_start(dash)
        gap = max(node.value[0].start_mark.column - col - 1, 1)  # spaces after the dash
        nl = self.style.newline
        text = "".join(
            " " * col + "-" + " " * gap + self._item(v, like, col + 1 + gap) + nl for v in values
        )
        if before < len(node.value):
            at = self._line_start(self._dash(node.value[before]))
        else:
            at = self._next_line(self._last_end(node))
            if at == len(self.text) and not self.text.endswith("\n"):
                text = nl + text[: -len(nl)]
        self._add(at, at, text)

    # -- flow collections -------------------------------------------------------------
    def _span(self, node: yaml.Node) -> str:
        return self.text[node.start_mark.index : self._last_end(node)]

    def _separator(self, first_end: int, second_start: int | None) -> str:
        """What the file writes between two flow items (`, ` when there is only one)."""
        return ", " if second_start is None else self.text[first_end:second_start]

    def _rewrite_flow_sequence(
        self,
        node: yaml.SequenceNode,
        new: list[Any],
        opcodes: Sequence[tuple[str, int, int, int, int]],
    ) -> None:
        """Items added or removed: the items' text is rewritten, unchanged items kept as written."""
        items = node.value
        second = items[1].start_mark.index if len(items) > 1 else None
        sep = self._separator(self._last_end(items[0]), second)
        parts: list[str] = []
        for op, i1, i2, j1, j2 in opcodes:
            if op == "equal":
                parts.extend(self._span(item) for item in items[i1:i2])
            else:
                like = items[min(i1, len(items) - 1)]
                parts.extend(self._flow(v, like, True) for v in new[j1:j2])
        self._add(items[0].start_mark.index, self._last_end(items[-1]), sep.join(parts))

    def _rewrite_flow_mapping(
        self, node: yaml.MappingNode, old: Mapping[Any, Any], new: Mapping[Any, Any]
    ) -> None:
        """Keys added or removed: the entries' text is rewritten, unchanged ones kept as written."""
        entries = node.value
        second = entries[1][0].start_mark.index if len(entries) > 1 else None
        sep = self._separator(self._last_end(entries[0][1]), second)
        parts: list[str] = []
        for (key, value), name in zip(entries, old, strict=True):
            if name not in new:
                continue
            if _canon(old[name]) == _canon(new[name]):
                parts.append(self.text[key.start_mark.index : self._last_end(value)])
            else:
                parts.append(f"{self._span(key)}: {self._flow(new[name], value, True)}")
        like = entries[-1]
        parts.extend(
            f"{self._key(k, node, like)}: {self._flow(v, like[1], True)}"
            for k, v in new.items()
            if k not in old
        )
        start, end = entries[0][0].start_mark.index, self._last_end(entries[-1][1])
        self._add(start, end, sep.join(parts))

    def _flow(self, value: Any, like: yaml.Node | None, outer_flow: bool) -> str:
        if isinstance(value, Mapping):
            entries = []
            for k, v in value.items():
                key_node, sub = _entry(like, str(k))
                key_style = _quote(key_node) if key_node is not None else self.style.key_style
                entries.append(f"{_scalar(str(k), key_style, True)}: {self._flow(v, sub, True)}")
            return "{" + ", ".join(entries) + "}"
        if isinstance(value, list):
            item = like.value[0] if isinstance(like, yaml.SequenceNode) and like.value else None
            return "[" + ", ".join(self._flow(v, item, True) for v in value) + "]"
        return _scalar(value, self._str_style(like), outer_flow)

    # -- block collections -------------------------------------------------------------
    def _str_style(self, like: yaml.Node | None) -> str | None:
        if isinstance(like, yaml.ScalarNode) and like.tag == _STR:
            return like.style
        return self.style.str_style

    def _key(self, name: Any, node: yaml.MappingNode, like: tuple[Any, Any] | None) -> str:
        style = _quote(like[0]) if like else self.style.key_style
        return _scalar(str(name), style, bool(node.flow_style))

    def _block(self, value: Any, like: yaml.Node | None, key_col: int) -> str:
        """What follows `key:` for a new value, in the file's block layout."""
        nl = self.style.newline
        if isinstance(value, Mapping) and value and not _is_flow(like):
            col = key_col + self.style.map_step
            out = []
            for k, v in value.items():
                key_node, sub = _entry(like, str(k))
                key_style = _quote(key_node) if key_node is not None else self.style.key_style
                out.append(
                    nl
                    + " " * col
                    + _scalar(str(k), key_style, False)
                    + ":"
                    + self._block(v, sub, col)
                )
            return "".join(out)
        if isinstance(value, list) and value and not self._flow_list(like):
            item = like.value[0] if isinstance(like, yaml.SequenceNode) and like.value else None
            col = key_col + self.style.seq_offset
            return "".join(nl + " " * col + "- " + self._item(v, item, col + 2) for v in value)
        return " " + self._flow(value, like, False)

    def _flow_list(self, like: yaml.Node | None) -> bool:
        if isinstance(like, yaml.SequenceNode):
            return bool(like.flow_style)
        return self.style.flow_seqs

    def _item(self, value: Any, like: yaml.Node | None, col: int) -> str:
        """A new block sequence item's text after `- ` (its value starts at column `col`)."""
        if isinstance(value, Mapping) and value and not _is_flow(like):
            lines = []
            for k, v in value.items():
                key_node, sub = _entry(like, str(k))
                key_style = _quote(key_node) if key_node is not None else self.style.key_style
                lines.append(_scalar(str(k), key_style, False) + ":" + self._block(v, sub, col))
            return (self.style.newline + " " * col).join(lines)
        return self._flow(value, like, False)


def _entry(like: yaml.Node | None, name: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The key and value node called `name` in template mapping `like` (layout hints)."""
    if isinstance(like, yaml.MappingNode):
        for k, v in like.value:
            if str(k.value) == name:
                return k, v
        if like.value:
            return like.value[0][0], None
    return None, None


def _aliased(root: yaml.Node) -> set[int]:
    """Nodes written once and referenced again (`&a` ... `*a`): editing one changes all."""
    seen: Counter[int] = Counter()
    stack = [root]
    while stack:
        node = stack.pop()
        seen[id(node)] += 1
        if seen[id(node)] > 1:
            continue
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return {n for n, count in seen.items() if count > 1}


def compose(text: str) -> yaml.Node:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        raise UnsupportedEdit("an empty document")
    return node


def rewrite(text: str, new: Any) -> str:
    """`text` changed so that it reads as `new`, touching only the values that differ."""
    root = compose(text)
    old = yaml.safe_load(text)
    editor = _Editor(text, root)
    editor.change(root, old, new, False, _aliased(root))
    out = text
    last = len(text) + 1
    for splice in sorted(editor.splices, key=lambda s: (s.start, s.end), reverse=True):
        if splice.end > last:
            raise UnsupportedEdit("two changes overlap")
        out = out[: splice.start] + splice.text + out[splice.end :]
        last = splice.start
    try:
        reread = yaml.safe_load(out)
    except yaml.YAMLError:
        raise UnsupportedEdit("the edited text is not valid YAML") from None
    if _canon(reread) != _canon(new):
        raise UnsupportedEdit("the edited text does not read back as the wanted document")
    return out
