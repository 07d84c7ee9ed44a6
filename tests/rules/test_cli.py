"""`chanperf lint` and `chanperf rules test`, as a policy repository's CI runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from chanperf.cli.main import main
from chanperf.core.settings import REPO_ROOT

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_lint_passes_on_the_shipped_packs() -> None:
    code, out = _run(
        "lint",
        "--policies-dir",
        str(REPO_ROOT / "policies"),
        "--rules-dir",
        str(REPO_ROOT / "rules"),
    )
    assert code == 0, out
    assert "ok" in out


def test_lint_prints_every_problem_and_fails(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "rules", tmp_path / "rules")
    shutil.copy(
        FIXTURES / "broken_rules" / "unknown_field" / "region.yaml", tmp_path / "rules" / "x.yaml"
    )
    wrong_type = (FIXTURES / "broken_rules" / "wrong_type" / "region.yaml").read_text()
    (tmp_path / "rules" / "y.yaml").write_text(wrong_type.replace("id: gap_rule", "id: other_rule"))
    code, out = _run(
        "lint",
        "--policies-dir",
        str(REPO_ROOT / "policies"),
        "--rules-dir",
        str(tmp_path / "rules"),
    )
    assert code == 1
    assert (
        f"{tmp_path}/rules/x.yaml:7:19: rule 'gap_rule': finding 'region_failure' has no field"
        in out
    )
    assert f"{tmp_path}/rules/y.yaml:7:29: rule 'other_rule': field is a number" in out


def test_lint_with_broken_policies_says_rules_were_not_checked() -> None:
    code, out = _run("lint", "--policies-dir", str(FIXTURES / "broken_policies" / "wrong_type"))
    assert code == 1
    assert "is not of type 'number'" in out
    assert "rules not checked" in out


def test_rules_test_passes_with_full_coverage() -> None:
    code, out = _run("rules", "test", "--min-coverage", "100")
    assert code == 0, out
    assert "0 failed; coverage 100.0%" in out
    assert "FAIL" not in out


def test_rules_test_reports_failures_and_missing_coverage(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "t.yaml").write_text(
        "defaults: {org_id: 1, period_start: '2024-01-01', period_end: '2024-03-31'}\n"
        "tests:\n"
        "  - name: wrong expectation\n"
        "    findings:\n"
        "      - {kind: region_failure, region: 'R', n_a: 400, n_b: 80, rate_a: 0.15, rate_b: 0.4,\n"
        "         effect: 0.25, relative_effect: 1.6, p_value_adj: 0.001}\n"
        "    expect:\n"
        "      - {rule: region_failure_above_channel, severity: MEDIUM}\n"
    )
    code, out = _run("rules", "test", "--tests-dir", str(tests), "--min-coverage", "50")
    assert code == 1
    assert "FAIL" in out
    assert "region_failure_above_channel: severity is 'HIGH', expected 'MEDIUM'" in out
    assert "not exercised: kit_better_than_policy_kit: fires" in out
    assert "below --min-coverage 50" in out
