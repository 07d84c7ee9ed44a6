"""`chanperf lint` and `chanperf rules test`: what a policy repository's CI runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chanperf.cli.options import handle_errors, policies_dir_option, rules_dir_option
from chanperf.core.settings import Settings
from chanperf.rules.lint import lint
from chanperf.rules.testing import run_all


@click.command("lint")
@policies_dir_option
@rules_dir_option
@click.pass_obj
def lint_command(settings: Settings, policies_dir: Path | None, rules_dir: Path | None) -> None:
    """Validate policies, rules and rule tests; print every problem, exit 1 on any."""
    problems = lint(policies_dir or settings.policies_dir, rules_dir or settings.rules_dir)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("ok: policies and rules are valid")


@click.group("rules")
def rules_group() -> None:
    """Rule pack commands."""


@rules_group.command("test")
@rules_dir_option
@policies_dir_option
@click.option(
    "--tests-dir", type=click.Path(path_type=Path), default=None, help="Default: <rules-dir>/tests."
)
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=0.0, show_default=True)
@click.pass_obj
@handle_errors
def rules_test(
    settings: Settings,
    rules_dir: Path | None,
    policies_dir: Path | None,
    tests_dir: Path | None,
    min_coverage: float,
) -> None:
    """Run the rule tests through durable and the pure evaluator; print results and coverage."""
    ok = run_all(
        rules_dir or settings.rules_dir,
        policies_dir or settings.policies_dir,
        tests_dir,
        min_coverage,
        click.echo,
    )
    if not ok:
        sys.exit(1)
