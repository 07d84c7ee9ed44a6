"""`chanperf init`: a policy repository started from the packaged packs, ready for its CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from chanperf.cli.main import main
from chanperf.core.settings import PACKAGED_PACKS, REPO_ROOT

PACK_FILES = [
    "policies/onboarding.yaml",
    "policies/pricing.yaml",
    "policies/reactivation.yaml",
    "policies/states.yaml",
    "policies/strategy.yaml",
    "rules/analysis/config.yaml",
    "rules/analysis/experiments.yaml",
    "rules/analysis/grouping.yaml",
    "rules/drift.yaml",
    "rules/onboarding.yaml",
    "rules/policy.yaml",
    "rules/pricing.yaml",
    "rules/reactivation.yaml",
    "rules/revenue.yaml",
    "rules/states.yaml",
    "rules/tests/onboarding_test.yaml",
    "rules/tests/other_test.yaml",
    "rules/tests/reactivation_test.yaml",
    "rules/tests/states_test.yaml",
]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_init_writes_the_packs_a_workflow_and_a_readme(tmp_path: Path) -> None:
    repo = tmp_path / "canal-policies"
    result = CliRunner().invoke(main, ["init", str(repo)])
    assert result.exit_code == 0, result.output
    assert _files(repo) == sorted([*PACK_FILES, ".github/workflows/policies.yml", "README.md"])
    for name in PACK_FILES:
        assert (repo / name).read_bytes() == (REPO_ROOT / name).read_bytes(), name
    workflow = (repo / ".github/workflows/policies.yml").read_text()
    assert '      - run: pip install "chanperf==0.1.0"\n' in workflow
    assert "      - run: chanperf lint --policies-dir policies --rules-dir rules\n" in workflow
    assert (
        "      - run: chanperf rules test --policies-dir policies --rules-dir rules"
        " --min-coverage 100\n" in workflow
    )
    assert result.output.splitlines()[0] == f"wrote {repo / 'policies/onboarding.yaml'}"


def test_the_new_repository_passes_its_own_ci(tmp_path: Path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    CliRunner().invoke(main, ["init", str(repo), "--requirement", "chanperf @ git+https://x/y"])
    assert (
        'pip install "chanperf @ git+https://x/y"'
        in (repo / ".github/workflows/policies.yml").read_text()
    )
    monkeypatch.chdir(repo)
    lint = CliRunner().invoke(main, ["lint"])
    assert lint.exit_code == 0, lint.output
    assert f"policies: {repo / 'policies'} (the working folder)" in lint.output
    tests = CliRunner().invoke(main, ["rules", "test", "--min-coverage", "100"])
    assert tests.exit_code == 0, tests.output
    assert "25 passed, 0 failed; coverage 100.0%" in tests.output


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"error: {tmp_path}: the folder is not empty; `chanperf init` starts a new policy "
        "repository (--force writes the starter files into it, replacing files of the same "
        "name)\n"
    )
    assert _files(tmp_path) == ["notes.txt"]


def test_init_force_writes_beside_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "pricing.yaml").write_text("old")
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "policies/pricing.yaml").read_bytes() == (
        PACKAGED_PACKS / "policies/pricing.yaml"
    ).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--requirement", 'chanperf" ; rm -rf /'],
            "--requirement: not a one-line pip requirement",
        ),
        (["--requirement", " "], "--requirement: not a one-line pip requirement"),
    ],
)
def test_init_refuses_a_requirement_that_breaks_the_workflow(tmp_path, args, message) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "r"), *args])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {message}")
    assert not (tmp_path / "r").exists()


def test_init_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "f")])
    assert (result.exit_code, result.output) == (
        1,
        f"error: {tmp_path / 'f'}: exists and is not a folder\n",
    )


def test_apply_refuses_to_edit_the_packaged_policies(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no policies/ here: the packaged ones are the default
    result = CliRunner().invoke(
        main, ["--database-url", f"sqlite:///{tmp_path / 'x.db'}", "proposals", "apply", "1"]
    )
    assert result.exit_code == 1
    assert result.output == (
        f"error: {PACKAGED_PACKS / 'policies'}: the policies packaged with chanperf are not "
        "edited in place; start a policy repository with `chanperf init DIR` and point "
        "CHANPERF_POLICIES_DIR (or --policies-dir) at its policies/\n"
    )
