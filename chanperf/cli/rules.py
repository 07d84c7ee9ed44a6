"""`chanperf lint` and `chanperf rules test`, what a policy repository's CI runs, and
`chanperf init`, which starts a policy repository."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

import chanperf
from chanperf.analysis.context import load_packs
from chanperf.cli.options import (
    as_of_option,
    handle_errors,
    org_option,
    policies_dir_option,
    rules_dir_option,
    transaction,
)
from chanperf.core.clock import today
from chanperf.core.settings import Settings
from chanperf.policies.starter import write_starter
from chanperf.rules.lint import lint
from chanperf.rules.stats import RulesReport, report_as_dict, rule_stats
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


@rules_group.command("stats")
@as_of_option(help="Last day of the window (default: today).")
@click.option(
    "--days", type=click.IntRange(1, 3650), default=90, show_default=True, help="Window length."
)
@click.option("--json", "as_json", is_flag=True, help="The report as GET /rules gives it.")
@org_option()
@rules_dir_option
@policies_dir_option
@click.pass_obj
@handle_errors
def rules_stats(
    settings: Settings,
    as_of: date | None,
    days: int,
    as_json: bool,
    org_id: int,
    rules_dir: Path | None,
    policies_dir: Path | None,
) -> None:
    """Per rule: firings, labels, precision with its Wilson interval; silent rules."""
    settings = _packs(settings, policies_dir, rules_dir)
    _, rules = load_packs(settings)
    with transaction(settings) as session:
        report = rule_stats(session, org_id, rules, as_of or today(settings.tz), days=days)
    if as_json:
        click.echo(json.dumps(report_as_dict(report), default=str, indent=2))
        return
    for line in stats_lines(report):
        click.echo(line)


def stats_lines(report: RulesReport) -> list[str]:
    pct = f"{report.confidence:.0%}"
    lines = [
        f"org {report.org_id}, {report.days} days {report.window_start} to {report.as_of} "
        f"({report.runs_in_window} runs)",
        f"rule\tkind\tfired all\tfired {report.days}d\tlast fired\tlabelled\t"
        f"TP/FP/EXP/NA\tprecision [{pct} Wilson]",
    ]
    for s in report.rules:
        labels = "/".join(str(n) for n in s.labels.values())
        precision = (
            "-"
            if s.precision is None
            else f"{s.precision:.2f} [{s.precision_low:.2f}, {s.precision_high:.2f}]"
        )
        lines.append(
            f"{s.rule_id}\t{s.finding_kind}\t{s.fired}\t{s.fired_recent}\t"
            f"{s.last_fired or '-'}\t{s.labelled}\t{labels}\t{precision}"
        )
    lines.append(f"never fired in the window: {', '.join(report.never_fired) or 'none'}")
    unproduced = [s for s in report.rules if s.unproduced_fields]
    lines.append(
        "reads fields no finding of its kind ever had: "
        + (
            "; ".join(f"{s.rule_id} ({', '.join(s.unproduced_fields)})" for s in unproduced)
            or "none"
        )
    )
    unseen = [s.rule_id for s in report.rules if not s.finding_kind_seen]
    if unseen:
        lines.append(f"finding kind never produced (fields unknown): {', '.join(unseen)}")
    if report.not_in_pack:
        lines.append(f"fired or labelled, not in the pack: {', '.join(report.not_in_pack)}")
    return lines


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
