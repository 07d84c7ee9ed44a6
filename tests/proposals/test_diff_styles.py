"""A proposal's diff touches only the changed value and the version line, whatever the file's style.

Policy repositories write YAML in several common styles; each case below is the
same policy written one way, with the lines a proposal must change written out by
hand. The policies sit in a subfolder of a git repository, and every diff must
pass `git apply --check` at its root and produce exactly the hand-written file;
applying the approved proposal writes those same bytes.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from chanperf.core.settings import REPO_ROOT
from chanperf.policies.load import load_policies
from chanperf.proposals.apply import apply_proposal
from chanperf.proposals.store import store_proposal
from chanperf.proposals.workflow import approve_proposal
from tests.proposals.test_generate import discount_finding, kit_finding, proposal_for

SUBFOLDER = "config/pol"


@dataclass(frozen=True)
class Style:
    """A policy pair in one style and, for each proposal, the exact lines it changes."""

    reactivation: str
    onboarding: str
    version: tuple[str, str]
    discount: tuple[str, str]
    kit: tuple[str, str]
    # the line the new region's lines go after, and those lines (or, when
    # `new_region_inserts` is false, the line that changes and its new text)
    new_region: tuple[str, str]
    new_region_inserts: bool = True
    crlf: bool = False

    def text(self, name: str) -> str:
        text = getattr(self, name)
        return text.replace("\n", "\r\n") if self.crlf else text

    def changed(self, name: str, *pairs: tuple[str, str]) -> str:
        """The file with each `old` line replaced by `new` (each old line is there once)."""
        text = getattr(self, name)
        for old, new in pairs:
            assert text.count(old + "\n") == 1, old
            text = text.replace(old + "\n", new + "\n")
        return text.replace("\n", "\r\n") if self.crlf else text


INDENTLESS_REACTIVATION = """\
policy: reactivation
version: 1
owner: canal-reativacao
description: Reativação de revendas paradas
params:
  max_discount_pct: 10
  reincidence_window_days: 90
  max_reincidence_rate: 0.25
  target_win_rate: 0.35
  allowed_strategies:
  - CUPOM
  - LIGACAO
  - VISITA
  discount_tolerance_rate: 0.05
"""

INDENTLESS_ONBOARDING = """\
policy: onboarding
version: 1
owner: canal-onboarding
description: Onboarding de novas revendas
params:
  default_kit: KIT_A
  regions:
    NORTE:
      default_kit: KIT_A
  activation_window_days: 30
  target_activation_rate: 0.5
  max_activation_days: 20
"""

INDENTLESS = Style(
    reactivation=INDENTLESS_REACTIVATION,
    onboarding=INDENTLESS_ONBOARDING,
    version=("version: 1", "version: 2"),
    discount=("  max_discount_pct: 10", "  max_discount_pct: 5"),
    kit=("      default_kit: KIT_A", "      default_kit: K_BETTER"),
    new_region=("      default_kit: KIT_A", "    R9:\n      default_kit: K_BETTER"),
)

# Four-space mappings, list items offset under their key, single quotes.
OFFSET = Style(
    reactivation="""\
policy: 'reactivation'
version: 1
owner: 'canal-reativacao'
description: 'Reativação de revendas paradas'
params:
    max_discount_pct: 10
    reincidence_window_days: 90
    max_reincidence_rate: 0.25
    target_win_rate: 0.35
    allowed_strategies:
      - 'CUPOM'
      - 'LIGACAO'
    discount_tolerance_rate: 0.05
""",
    onboarding="""\
policy: 'onboarding'
version: 1
owner: 'canal-onboarding'
description: 'Onboarding de novas revendas'
params:
    default_kit: 'KIT_A'
    regions:
        'NORTE':
            default_kit: 'KIT_A'
    activation_window_days: 30
    target_activation_rate: 0.5
    max_activation_days: 20
""",
    version=("version: 1", "version: 2"),
    discount=("    max_discount_pct: 10", "    max_discount_pct: 5"),
    kit=("            default_kit: 'KIT_A'", "            default_kit: 'K_BETTER'"),
    new_region=(
        "            default_kit: 'KIT_A'",
        "        'R9':\n            default_kit: 'K_BETTER'",
    ),
)

# Flow lists and maps, double quotes.
FLOW = Style(
    reactivation="""\
policy: "reactivation"
version: 1
owner: "canal-reativacao"
description: "Reativação de revendas paradas"
params:
  max_discount_pct: 10
  reincidence_window_days: 90
  max_reincidence_rate: 0.25
  target_win_rate: 0.35
  allowed_strategies: ["CUPOM", "LIGACAO", "VISITA"]
  discount_tolerance_rate: 0.05
""",
    onboarding="""\
policy: "onboarding"
version: 1
owner: "canal-onboarding"
description: "Onboarding de novas revendas"
params: {default_kit: "KIT_A", regions: {"NORTE": {default_kit: "KIT_A"}},
  activation_window_days: 30, target_activation_rate: 0.5, max_activation_days: 20}
""",
    version=("version: 1", "version: 2"),
    discount=("  max_discount_pct: 10", "  max_discount_pct: 5"),
    kit=(
        'params: {default_kit: "KIT_A", regions: {"NORTE": {default_kit: "KIT_A"}},',
        'params: {default_kit: "KIT_A", regions: {"NORTE": {default_kit: "K_BETTER"}},',
    ),
    new_region=(
        'params: {default_kit: "KIT_A", regions: {"NORTE": {default_kit: "KIT_A"}},',
        'params: {default_kit: "KIT_A", regions: {"NORTE": {default_kit: "KIT_A"}, '
        '"R9": {default_kit: "K_BETTER"}},',
    ),
    new_region_inserts=False,
)

# Comments everywhere (on the changed lines too), blank lines, a document marker.
COMMENTED = Style(
    reactivation="""\
# Reactivation policy.
---
policy: reactivation   # the policy's name
version: 1             # +1 on every change

owner: canal-reativacao
description: "Reativação de revendas paradas"  # shown to people
params:
  # Cap on the discount.
  max_discount_pct: 10     # percent points
  reincidence_window_days: 90

  max_reincidence_rate: 0.25  # 0-1
  target_win_rate: 0.35
  allowed_strategies:   # in order of preference
    # the cheapest first
    - "CUPOM"   # discount
    - "LIGACAO"
  discount_tolerance_rate: 0.05
# end of the policy
""",
    onboarding="""\
# Onboarding policy.
policy: onboarding  # name
version: 1             # +1 on every change
owner: canal-onboarding
description: Onboarding de novas revendas
params:
  default_kit: "KIT_A"  # everywhere else
  regions:  # overrides
    "NORTE":  # the north
      default_kit: "KIT_A"  # tested in 2025

  # An onboarding counts as activated within this many days.
  activation_window_days: 30
  target_activation_rate: 0.5
  max_activation_days: 20  # median
""",
    version=(
        "version: 1             # +1 on every change",
        "version: 2             # +1 on every change",
    ),
    discount=(
        "  max_discount_pct: 10     # percent points",
        "  max_discount_pct: 5      # percent points",
    ),
    kit=(
        '      default_kit: "KIT_A"  # tested in 2025',
        '      default_kit: "K_BETTER" # tested in 2025',
    ),
    new_region=(
        '      default_kit: "KIT_A"  # tested in 2025',
        '    "R9":\n      default_kit: "K_BETTER"',
    ),
)

CRLF = Style(
    reactivation=INDENTLESS_REACTIVATION,
    onboarding=INDENTLESS_ONBOARDING,
    version=INDENTLESS.version,
    discount=INDENTLESS.discount,
    kit=INDENTLESS.kit,
    new_region=INDENTLESS.new_region,
    crlf=True,
)

STYLES = {
    "indentless-lists": INDENTLESS,
    "offset-lists-single-quotes": OFFSET,
    "flow": FLOW,
    "comments-everywhere": COMMENTED,
    "crlf": CRLF,
}


def repository(tmp_path: Path, style: Style) -> tuple[Path, Path]:
    """A git repository whose policies sit in `config/pol/` (root, policies folder)."""
    root = tmp_path / "repo"
    folder = root / SUBFOLDER
    shutil.copytree(REPO_ROOT / "policies", folder)
    for name in ("reactivation", "onboarding"):
        (folder / f"{name}.yaml").write_bytes(style.text(name).encode("utf-8"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "policies"], check=True)
    return root, folder


def git_apply(root: Path, diff: str, *options: str) -> None:
    done = subprocess.run(
        ["git", "apply", *options, "-"], cwd=root, input=diff.encode(), capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode() + diff


def changed_lines(diff: str) -> tuple[list[str], list[str]]:
    body = diff.splitlines(keepends=True)[2:]  # past the ---/+++ header
    removed = [line[1:] for line in body if line.startswith("-")]
    added = [line[1:] for line in body if line.startswith("+")]
    return removed, added


def proposals(folder: Path, which: str):
    policies = load_policies(folder)
    if which == "discount":
        return proposal_for(policies, discount_finding())
    return proposal_for(policies, kit_finding(policies, "R9" if which == "new-region" else None))


def expected(style: Style, which: str) -> tuple[str, str, list[str], list[str]]:
    """(policy file, its new text, removed lines, added lines) of one proposal, by hand."""
    name = "reactivation" if which == "discount" else "onboarding"
    if which == "new-region" and style.new_region_inserts:
        anchor, inserted = style.new_region
        new_text = style.changed(name, style.version, (anchor, f"{anchor}\n{inserted}"))
        return name, new_text, [style.version[0]], [style.version[1], *inserted.split("\n")]
    value = {"discount": style.discount, "override": style.kit}.get(which, style.new_region)
    new_text = style.changed(name, style.version, value)
    return name, new_text, [style.version[0], value[0]], [style.version[1], value[1]]


CASES = [
    pytest.param(style, which, id=f"{name}-{which}")
    for name, style in STYLES.items()
    for which in ("discount", "override", "new-region")
]


@pytest.mark.parametrize(("style", "which"), CASES)
def test_diff_touches_only_the_changed_value(tmp_path: Path, style: Style, which: str) -> None:
    root, folder = repository(tmp_path, style)
    spec = proposals(folder, which)
    name, new_text, removed_lines, added_lines = expected(style, which)
    diff = spec.policy_diff
    path = f"{SUBFOLDER}/{name}.yaml"
    assert diff.startswith(f"--- a/{path}\n+++ b/{path}\n")
    removed, added = changed_lines(diff)
    end = "\r\n" if style.crlf else "\n"
    assert sorted(removed) == sorted(line + end for line in removed_lines)
    assert sorted(added) == sorted(line + end for line in added_lines)
    git_apply(root, diff, "--check")
    git_apply(root, diff)
    assert (folder / f"{name}.yaml").read_bytes() == new_text.encode("utf-8")
    assert load_policies(folder).policies[name].version == 2


@pytest.mark.parametrize("style", list(STYLES.values()), ids=list(STYLES))
def test_applying_writes_exactly_the_diffed_content(sessions, tmp_path: Path, style: Style) -> None:
    root, folder = repository(tmp_path / "a", style)
    other_root, other_folder = repository(tmp_path / "b", style)
    policies = load_policies(folder)
    with sessions.begin() as s:
        discount, _ = store_proposal(s, proposal_for(policies, discount_finding()), None)
        kit, _ = store_proposal(s, proposal_for(policies, kit_finding(policies, "R9")), None)
        ids, diffs = (discount.id, kit.id), (discount.policy_diff, kit.policy_diff)
    for pid, diff in zip(ids, diffs, strict=True):
        with sessions.begin() as s:
            approve_proposal(s, 1, pid, "ana")
        with sessions.begin() as s:
            apply_proposal(s, 1, pid, folder, "ops")
        git_apply(other_root, diff)
    for name in ("reactivation", "onboarding"):
        written = (folder / f"{name}.yaml").read_bytes()
        assert written == (other_folder / f"{name}.yaml").read_bytes()
        assert written != style.text(name).encode("utf-8")
    assert root != other_root
