"""`chanperf lint` and `chanperf rules test`, what a policy repository's CI runs, and
`chanperf init`, which starts a policy repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import chanperf
from chanperf.cli.options import handle_errors, policies_dir_option, rules_dir_option
from chanperf.core.settings import Settings
from chanperf.policies.starter import write_starter
from chanperf.rules.lint import lint
from chanperf.rules.testing import run_all


def _packs(settings: Settings, policies_dir: Path | None, rules_dir: Path | None) -> Settings:
    """The settings with the folders the options chose; says on stderr which packs those are."""
    settings = settings.with_(
        policies_dir=policies_dir or settings.policies_dir,
        rules_dir=rules_dir or settings.rules_dir,
    )
    click.echo(settings.describe_packs(), err=True)
    return settings


@click.command("lint")
@policies_dir_option
@rules_dir_option
@click.pass_obj
def lint_command(settings: Settings, policies_dir: Path | None, rules_dir: Path | None) -> None:
    """Validate policies, rules and rule tests; print every problem, exit 1 on any."""
    settings = _packs(settings, policies_dir, rules_dir)
    problems = lint(settings.policies_dir, settings.rules_dir)
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
    settings = _packs(settings, policies_dir, rules_dir)
    ok = run_all(settings.rules_dir, settings.policies_dir, tests_dir, min_coverage, click.echo)
    if not ok:
        sys.exit(1)


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--force", is_flag=True, help="Write into a folder that is not empty (same names replaced)."
)
@click.option(
    "--requirement",
    default=f"chanperf=={chanperf.__version__}",
    show_default=True,
    help="What the CI workflow installs with pip.",
)
@handle_errors
def init_command(directory: Path, force: bool, requirement: str) -> None:
    """Start a policy repository in DIRECTORY from the packaged policy and rule packs."""
    written = write_starter(directory, requirement, force)
    for relative in written:
        click.echo(f"wrote {directory / relative}")
    click.echo(
        f"\nNext, in {directory}: `chanperf lint` and `chanperf rules test --min-coverage 100`"
        " (both read ./policies and ./rules there); `git init` to keep it under review."
    )
