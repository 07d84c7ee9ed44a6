"""In-place YAML edits: each case's expected text is written by hand; only the changed values move.

`apply_to_text` is what proposals generate diffs with and what applying writes;
`repo_path` names the file in the diff relative to the policy repository's root.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from chanperf.core.errors import ConflictError
from chanperf.policies.files import apply_to_text, repo_path
from chanperf.policies.yaml_edit import UnsupportedEdit, rewrite

BASE = """\
# head comment
policy: p
version: 3   # bumped by proposals
params:
  cap: 10 # percent

  # a block list, items at the key's indentation
  plain_list:
  - A
  - 'B'   # second
  - "C"
  offset_list:
    - X
    - Y
  flow_list: ["A", 'B', C]
  flow_map: {k: 1, "q": 'w'}
  regions:
    "R1":
      kit: "K1"
  # closing comment
  last: true
"""


def edited(patch: list[dict], text: str = BASE, version: int | None = 4) -> str:
    new, document = apply_to_text(text, patch, version)
    assert yaml.safe_load(new) == document  # the text reads back as the document returned
    return new


def replace(path: str, value: object) -> list[dict]:
    return [{"op": "replace", "path": path, "value": value}]


def swap(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


VERSION = ("version: 3   #", "version: 4   #")


@pytest.mark.parametrize(
    ("patch", "lines"),
    [
        # the trailing comment keeps its column
        (replace("/params/cap", 5), [("  cap: 10 # percent", "  cap: 5  # percent")]),
        (replace("/params/cap", 12.5), [("  cap: 10 # percent", "  cap: 12.5 # percent")]),
        # a list element: the item alone, in its own quotes
        (replace("/params/plain_list/1", "Z"), [("  - 'B'   #", "  - 'Z'   #")]),
        (replace("/params/offset_list/0", "W"), [("    - X\n", "    - W\n")]),
        (replace("/params/flow_list/2", "D"), [("'B', C]", "'B', D]")]),
        (replace("/params/flow_map/q", "v"), [("'w'}", "'v'}")]),
        (replace("/params/regions/R1/kit", "K2"), [('"K1"', '"K2"')]),
        # a plain string that YAML 1.1 would read as a boolean gets quoted
        (replace("/params/offset_list/1", "NO"), [("    - Y\n", '    - "NO"\n')]),
        (replace("/params/last", False), [("  last: true", "  last: false")]),
        # the whole list replaced: only the items that differ move
        (
            replace("/params/plain_list", ["A", "C", "D"]),
            [("  - 'B'   # second\n", ""), ('  - "C"\n', '  - "C"\n  - "D"\n')],
        ),
        (
            replace("/params/offset_list", ["X", "N", "Y"]),
            [("    - X\n", "    - X\n    - N\n")],
        ),
        (replace("/params/flow_list", ["A", "C"]), [("""["A", 'B', C]""", """["A", C]""")]),
        (
            [{"op": "add", "path": "/params/flow_list/-", "value": "E"}],
            [("""'B', C]""", """'B', C, E]""")],
        ),
        (
            [{"op": "add", "path": "/params/flow_map/n", "value": 2}],
            [("""'w'}""", """'w', "n": 2}""")],
        ),
        # a new key: after the mapping's last line, before the next key's comment
        (
            [{"op": "add", "path": "/params/regions/R2", "value": {"kit": "K2"}}],
            [('      kit: "K1"\n', '      kit: "K1"\n    "R2":\n      kit: "K2"\n')],
        ),
        ([{"op": "remove", "path": "/params/offset_list/0"}], [("    - X\n", "")]),
    ],
)
def test_only_the_changed_value_moves(patch: list[dict], lines: list[tuple[str, str]]) -> None:
    assert edited(patch) == swap(BASE, VERSION, *lines)


def test_crlf_stays_crlf_also_on_new_lines() -> None:
    crlf = BASE.replace("\n", "\r\n")
    patch = [{"op": "add", "path": "/params/regions/R2", "value": {"kit": "K2"}}]
    new = edited([*patch, *replace("/params/cap", 5)], crlf)
    want = swap(
        BASE,
        VERSION,
        ("  cap: 10 # percent", "  cap: 5  # percent"),
        ('      kit: "K1"\n', '      kit: "K1"\n    "R2":\n      kit: "K2"\n'),
    )
    assert new == want.replace("\n", "\r\n")


def test_no_final_newline_is_kept() -> None:
    text = "version: 1\nparams:\n  a: 1"
    assert edited([{"op": "add", "path": "/params/b", "value": 2}], text, 2) == (
        "version: 2\nparams:\n  a: 1\n  b: 2"
    )


def test_a_new_list_and_map_follow_the_files_layout() -> None:
    text = "version: 1\nparams:\n    a:\n    - x\n    m:\n        k: 1\n"
    patch = [
        {"op": "add", "path": "/params/l", "value": ["p", "q"]},
        {"op": "add", "path": "/params/n", "value": {"z": {"y": 1}}},
    ]
    assert edited(patch, text, 2) == (
        "version: 2\nparams:\n    a:\n    - x\n    m:\n        k: 1\n"
        "    l:\n    - p\n    - q\n    n:\n        z:\n            y: 1\n"
    )


@pytest.mark.parametrize(
    ("text", "patch", "want"),
    [
        # an empty value's text is nothing: the new one goes right after the colon/dash
        ("version: 1\na:   # c\nb: 1\n", replace("/a", 5), "version: 2\na: 5 # c\nb: 1\n"),
        ("version: 1\nl:\n- a\n-\n", replace("/l/1", "b"), "version: 2\nl:\n- a\n- b\n"),
        ("version: 1\na:\nb: 1\n", replace("/a", {"z": [1]}), "version: 2\na: {z: [1]}\nb: 1\n"),
        # an empty flow map takes the new key inside its braces
        ("version: 1\nm: {}\n", replace("/m", {"z": [1]}), "version: 2\nm: {z: [1]}\n"),
    ],
)
def test_empty_values(text: str, patch: list[dict], want: str) -> None:
    assert edited(patch, text, 2) == want


def test_a_failed_test_op_is_a_conflict() -> None:
    patch = [{"op": "test", "path": "/params/cap", "value": 9}, *replace("/params/cap", 5)]
    with pytest.raises(ConflictError, match="no longer applies"):
        apply_to_text(BASE, patch, 4)


def test_what_cannot_be_edited_in_place_is_refused_then_round_tripped() -> None:
    text = "version: 1\nparams:\n  note: |\n    line one\n  cap: 1\n"
    with pytest.raises(UnsupportedEdit):
        rewrite(text, {"version": 1, "params": {"note": "other\n", "cap": 1}})
    new, document = apply_to_text(text, replace("/params/note", "other\n"), 2)
    assert (
        yaml.safe_load(new) == document == {"version": 2, "params": {"note": "other\n", "cap": 1}}
    )


def test_an_aliased_value_is_not_edited_in_one_place() -> None:
    text = "version: 1\nparams:\n  a: &x 5\n  b: *x\n"
    with pytest.raises(UnsupportedEdit):
        rewrite(text, {"version": 1, "params": {"a": 6, "b": 5}})


def _git_init(folder: Path) -> None:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)


def test_repo_path_is_relative_to_the_git_top_level(tmp_path: Path) -> None:
    root = tmp_path / "pol"
    (root / "sub").mkdir(parents=True)
    _git_init(root)
    assert repo_path(root / "reactivation.yaml") == "reactivation.yaml"
    assert repo_path(root / "sub" / "reactivation.yaml") == "sub/reactivation.yaml"
    # through a symbolic link: the real place, as git sees it
    os.symlink(root / "sub", tmp_path / "link")
    assert repo_path(tmp_path / "link" / "x.yaml") == "sub/x.yaml"


def test_repo_path_outside_git_is_the_folder_itself(tmp_path: Path) -> None:
    if any((folder / ".git").exists() for folder in tmp_path.parents):
        pytest.skip("the temporary folder is itself inside a git repository")
    (tmp_path / "policies").mkdir()
    assert repo_path(tmp_path / "policies" / "onboarding.yaml") == "onboarding.yaml"


def test_repo_path_in_a_worktree_whose_git_is_a_file(tmp_path: Path) -> None:
    main = tmp_path / "main"
    main.mkdir()
    _git_init(main)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(main)]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    subprocess.run([*git, "worktree", "add", "-q", str(tmp_path / "wt")], check=True)
    assert (tmp_path / "wt" / ".git").is_file()
    assert repo_path(tmp_path / "wt" / "policies" / "a.yaml") == "policies/a.yaml"
