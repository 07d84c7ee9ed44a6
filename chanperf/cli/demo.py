"""`chanperf demo` and `chanperf eval`: a generated channel, and detection quality."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path

import click

from chanperf.cli.options import handle_errors, org_option, parse_date
from chanperf.core.settings import Settings
from chanperf.demo.page_access import keys_file_for, print_page_access, write_demo_keys
from chanperf.demo.quality import Job, QualityReport, RunResult, eval_jobs, run_quality
from chanperf.demo.run import run_demo
from chanperf.demo.shapes import SHAPES


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
@click.option(
    "--seeds", type=click.IntRange(min=1), default=40, show_default=True, help="Seeds per shape."
)
@click.option(
    "--shape",
    "shapes",
    type=click.Choice(list(SHAPES)),
    multiple=True,
    help="Channel shape (repeatable). Default: every shape.",
)
@click.option("--seed", "first_seed", type=int, default=1000, show_default=True, help="First seed.")
@click.option(
    "--runs",
    type=click.Choice(["both", "planted", "null"]),
    default="both",
    show_default=True,
    help="Planted runs, null runs, or both for every shape and seed.",
)
@click.option(
    "--processes", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel runs."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help=(
        "Also write the report as JSON, every run included, to this file, rewritten after "
        "each run so an interrupted evaluation keeps what it finished ('-': stdout, instead of the table)."
    ),
)
@click.option(
    "--from-json",
    "from_json",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Print the table of a report written by --json instead of running anything.",
)
@click.option(
    "--min-recall", type=click.FloatRange(0, 1), default=None, help="Fail under this recall."
)
@click.option(
    "--max-null-share",
    type=click.FloatRange(0, 1),
    default=None,
    help="Fail when more null runs than this share raise any insight.",
)
@click.pass_obj
@handle_errors
def eval_command(
    settings: Settings,
    seeds: int,
    shapes: tuple[str, ...],
    first_seed: int,
    runs: str,
    processes: int,
    json_path: str | None,
    from_json: str | None,
    min_recall: float | None,
    max_null_share: float | None,
) -> None:
    """Detection quality on channels drawn at random: recall and false alarms per detector.

    Every shape and seed draws a new channel (names, counts, rates, policy levels,
    dates); a planted run adds a few patterns with known truth, a null run none.
    """
    if from_json is not None:
        report = QualityReport.from_json(json.loads(Path(from_json).read_text(encoding="utf-8")))
    else:
        report = _run(
            settings,
            eval_jobs(shapes or list(SHAPES), seeds, first_seed, runs),
            processes,
            json_path,
        )
    if json_path is not None:
        text = json.dumps(report.as_json(), ensure_ascii=False, indent=1, default=str)
        if json_path == "-":
            click.echo(text)
        else:
            Path(json_path).write_text(text + "\n", encoding="utf-8")
    if json_path != "-":
        for line in report.lines():
            click.echo(line)
    failed = False
    if min_recall is not None:
        for pattern, (hit, total) in report.recall().items():
            if total and hit / total < min_recall:
                click.echo(f"recall of {pattern} {hit}/{total} is under {min_recall}", err=True)
                failed = True
    dirty, total = report.null_share()
    if max_null_share is not None and total and dirty / total > max_null_share:
        click.echo(f"null runs with an insight {dirty}/{total} over {max_null_share}", err=True)
        failed = True
    if failed:
        sys.exit(1)


def _run(
    settings: Settings, jobs: list[Job], processes: int, json_path: str | None
) -> QualityReport:
    if settings.log_level != "DEBUG":  # a line per run of every worker would bury the table
        logging.getLogger("chanperf").setLevel(logging.WARNING)
    done = QualityReport()

    def progress(run: RunResult) -> None:
        mark = "." if run.clean or (not run.null and not run.unexplained) else "x"
        click.echo(mark, nl=False, err=True)
        done.runs.append(run)
        if json_path not in (None, "-"):
            text = json.dumps(done.as_json(), ensure_ascii=False, indent=1, default=str)
            Path(str(json_path)).write_text(text + "\n", encoding="utf-8")

    report = run_quality(settings, jobs, processes, progress)
    click.echo("", err=True)
    return report
