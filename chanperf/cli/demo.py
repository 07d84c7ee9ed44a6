"""`chanperf demo` and `chanperf eval`: a generated channel, and detection quality."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from chanperf.cli.options import handle_errors, org_option, parse_date
from chanperf.core.settings import Settings
from chanperf.demo.page_access import keys_file_for, print_page_access, write_demo_keys
from chanperf.demo.quality import run_quality
from chanperf.demo.run import run_demo


@click.command()
@click.option(
    "--scenario", default="planted", show_default=True, help="Scenario name or YAML file."
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--accounts", type=click.IntRange(min=1), default=None, help="Overrides the scenario's size."
)
@click.option(
    "--as-of",
    "as_of",
    callback=parse_date,
    default=None,
    help="Last day of the data (YYYY-MM-DD).",
)
@org_option()
@click.option(
    "--replace/--no-replace",
    default=None,
    help="Overwrite the org's data. Default: yes for the demo's own file, no for a configured database.",
)
@click.option("--no-analysis", is_flag=True, help="Only generate the data.")
@click.pass_obj
@handle_errors
def demo(
    settings: Settings,
    scenario: str,
    seed: int,
    accounts: int | None,
    as_of: date | None,
    org_id: int,
    replace: bool | None,
    no_analysis: bool,
) -> None:
    """Generate a demo channel, analyse it, and print metrics, insights and proposals.

    Without CHANPERF_DATABASE_URL (or --database-url) it writes ./chanperf-demo.db. It ends
    with how to open the Performance page on it: a keys file beside the database (a key
    per role, printed once) and the `chanperf serve` command.
    """
    if not settings.database_url_chosen:
        settings = settings.with_(database_url=f"sqlite:///{Path.cwd() / 'chanperf-demo.db'}")
        replace = True if replace is None else replace
    run_demo(
        settings,
        scenario=scenario,
        seed=seed,
        accounts=accounts,
        as_of=as_of,
        org_id=org_id,
        replace=bool(replace),
        analyse=not no_analysis,
    )
    access = write_demo_keys(keys_file_for(settings.database_url, Path.cwd()), org_id)
    print_page_access(
        access,
        settings.database_url,
        program=_program(),
        port=settings.port,
        as_of=as_of,
        echo=click.echo,
    )


def _program() -> str:
    """How this command was called (.venv/bin/chanperf), for the printed command."""
    called = sys.argv[0] if sys.argv else ""
    return called if Path(called).name == "chanperf" else "chanperf"


@click.command("eval")
@click.option("--planted-runs", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--null-runs", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--seed", "first_seed", type=int, default=1000, show_default=True, help="First seed.")
@click.option(
    "--accounts", type=click.IntRange(min=100), default=None, help="Overrides the scenarios' size."
)
@click.option("--as-of", "as_of", callback=parse_date, default="2026-06-30", show_default=True)
@click.option(
    "--min-recall", type=click.FloatRange(0, 1), default=None, help="Fail under this recall."
)
@click.option(
    "--min-clean-null", type=click.FloatRange(0, 1), default=None, help="Fail under this share."
)
@click.pass_obj
@handle_errors
def eval_command(
    settings: Settings,
    planted_runs: int,
    null_runs: int,
    first_seed: int,
    accounts: int | None,
    as_of: date,
    min_recall: float | None,
    min_clean_null: float | None,
) -> None:
    """Detection quality on unseen scenarios: recall per detector and false discoveries."""

    def progress(run: object) -> None:
        click.echo(f"  {run}"[:200] if settings.log_level == "DEBUG" else ".", nl=False)

    report = run_quality(settings, as_of, planted_runs, null_runs, first_seed, accounts, progress)
    click.echo("")
    for line in report.lines():
        click.echo(line)
    failed = False
    if min_recall is not None:
        for detector, (hit, total) in report.recall().items():
            if total and hit / total < min_recall:
                click.echo(f"recall of {detector} {hit}/{total} is under {min_recall}", err=True)
                failed = True
    nulls = report.null_runs()
    if min_clean_null is not None and nulls:
        share = sum(r.clean for r in nulls) / len(nulls)
        if share < min_clean_null:
            click.echo(f"clean null runs {share:.2f} under {min_clean_null}", err=True)
            failed = True
    if failed:
        sys.exit(1)
