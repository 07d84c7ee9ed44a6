"""The `chanperf` command. Each command parses options, builds Settings, calls one service.

Errors chanperf raises on purpose (ChanperfError) end the command with their
message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from chanperf.errors import ChanperfError
from chanperf.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChanperfError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _parse_date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}", param=param) from None


# The policy and rule folders, for the commands a policy repository's CI runs.
policies_dir_option = click.option(
    "--policies-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Default: CHANPERF_POLICIES_DIR.",
)
rules_dir_option = click.option(
    "--rules-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Default: CHANPERF_RULES_DIR.",
)


@click.group()
@click.option("--database-url", envvar=None, help="Overrides CHANPERF_DATABASE_URL.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """chanperf: channel performance measurement, insights and policy proposals."""
    try:
        settings = Settings.from_env()
    except ChanperfError as exc:
        raise click.ClickException(str(exc)) from exc
    if database_url:
        settings = settings.with_(database_url=database_url, database_url_chosen=True)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    # Alembic reports every migration step at INFO; the commands say what matters.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    ctx.obj = settings


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_obj
@handle_errors
def db_upgrade(settings: Settings, revision: str) -> None:
    """Create or migrate every table on the configured database (Alembic)."""
    from chanperf.migrate import upgrade

    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}: {settings.database_url.split('@')[-1]}")


@main.command()
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
    callback=_parse_date,
    default=None,
    help="Last day of the data (YYYY-MM-DD).",
)
@click.option("--org", "org_id", type=int, default=1, show_default=True)
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

    Without CHANPERF_DATABASE_URL (or --database-url) it writes ./chanperf-demo.db.
    """
    from chanperf.demo.run import run_demo

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


@main.command()
@click.option(
    "--as-of",
    "as_of",
    callback=_parse_date,
    default=None,
    help="Last day analysed (default: yesterday).",
)
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.option("--no-collect", is_flag=True, help="Use the metrics already stored.")
@click.pass_obj
@handle_errors
def analyze(settings: Settings, as_of: date | None, org_id: int, no_collect: bool) -> None:
    """Collect what is missing, run every detector and rule, store insights and proposals."""
    from chanperf.analysis import analyze as run_analysis

    s = run_analysis(settings, org_id, as_of, collect_first=not no_collect)
    click.echo(
        f"run {s.run_id} (org {s.org_id}, as of {s.as_of}): {s.findings} findings, "
        f"{s.insights_created} new insights, {s.insights_updated} updated, "
        f"{s.insights_reraised} re-raised, {s.insights_suppressed} kept dismissed, "
        f"{s.proposals_created} proposals"
    )
    for rule_id, n in sorted(s.by_rule.items()):
        click.echo(f"  {rule_id}: {n}")


@main.command("collect")
@click.option(
    "--from", "start", callback=_parse_date, default=None, help="First local day (YYYY-MM-DD)."
)
@click.option(
    "--to", "end", callback=_parse_date, default=None, help="Last local day (YYYY-MM-DD)."
)
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.option("--backfill", is_flag=True, help="Every day the source tables cover.")
@click.pass_obj
@handle_errors
def collect_command(
    settings: Settings, start: date | None, end: date | None, org_id: int, backfill: bool
) -> None:
    """Compute daily, weekly and monthly metrics (default: yesterday, its week and month)."""
    from chanperf.collect import collect_with_progressbar

    if start and end and start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}", param_hint="--from")
    r = collect_with_progressbar(settings, org_id, start, end, backfill)
    contiguous = bool(r.days) and (r.days[-1] - r.days[0]).days + 1 == len(r.days)
    if not r.days:
        days = "no complete day"
    elif contiguous:
        days = f"{r.days[0]}..{r.days[-1]} ({len(r.days)} days)"
    else:
        days = ", ".join(str(d) for d in r.days)
    rows = ", ".join(f"{n} {t.lower()}" for t, n in r.rows.items())
    click.echo(
        f"org {r.org_id}: {days}: {rows} rows, {r.segment_rows} segment rows "
        f"in {r.elapsed_seconds:.1f}s"
    )


@main.command("eval")
@click.option("--planted-runs", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--null-runs", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--seed", "first_seed", type=int, default=1000, show_default=True, help="First seed.")
@click.option(
    "--accounts", type=click.IntRange(min=100), default=None, help="Overrides the scenarios' size."
)
@click.option("--as-of", "as_of", callback=_parse_date, default="2026-06-30", show_default=True)
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
    from chanperf.evaluation import run_quality

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


@main.command()
@click.option("--as-of", "as_of", callback=_parse_date, default=None, help="Default: yesterday.")
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.option("--segment", default=None, help="Only accounts of this segment.")
@click.option("--region", default=None, help="Only accounts of this region.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.pass_obj
@handle_errors
def churn(
    settings: Settings,
    as_of: date | None,
    org_id: int,
    segment: str | None,
    region: str | None,
    limit: int,
) -> None:
    """The churn-risk model (features, held-back AUC) and the accounts most at risk."""
    from chanperf.analysis import default_as_of, source_context
    from chanperf.analyzers.churn import accounts_at_risk, churn_model_report

    with source_context(settings, org_id, as_of or default_as_of(settings)) as (conn, ctx):
        report = churn_model_report(conn, ctx)
        risky = accounts_at_risk(conn, ctx, segment=segment, region=region, limit=limit)
    auc = report["auc_holdout"]
    click.echo(
        f"model trained at {report['train_snapshot']} ({report['n_train']} accounts), "
        f"held-back AUC {'n/a' if auc is None else f'{auc:.3f}'} at {report['holdout_snapshot']} "
        f"({report['n_holdout']} accounts, {report['positives_holdout']} stalled or churned)"
    )
    for feature, coef in report["coefficients"].items():
        click.echo(f"  {feature}: {coef:+.3f} per standard deviation")
    click.echo(risky.to_string(index=False) if len(risky) else "no account at risk")


@main.command()
@click.argument("table")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--org", "org_id", type=int, default=None, help="Org of rows whose file has no org_id."
)
@click.pass_obj
@handle_errors
def ingest(settings: Settings, table: str, file: Path, org_id: int | None) -> None:
    """Load a CSV (or Parquet) FILE into a source TABLE; a file with a bad row is refused whole."""
    from chanperf.ingest import ingest_file

    count = ingest_file(settings, table, file, default_org_id=org_id)
    click.echo(f"{file}: {count} rows loaded into {table}")


@main.command("lint")
@policies_dir_option
@rules_dir_option
@click.pass_obj
def lint_command(settings: Settings, policies_dir: Path | None, rules_dir: Path | None) -> None:
    """Validate policies, rules and rule tests; print every problem, exit 1 on any."""
    from chanperf.rule_tests import lint

    problems = lint(policies_dir or settings.policies_dir, rules_dir or settings.rules_dir)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("ok: policies and rules are valid")


@main.group("rules")
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
    from chanperf.rule_tests import run_all

    ok = run_all(
        rules_dir or settings.rules_dir,
        policies_dir or settings.policies_dir,
        tests_dir,
        min_coverage,
        click.echo,
    )
    if not ok:
        sys.exit(1)


# ---- API, queue and schedules (issue 6/6) -------------------------------------------


@main.group("apikey")
def apikey_group() -> None:
    """API keys for the REST API (stored as SHA-256 digests only)."""


@apikey_group.command("new")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "approver"]), required=True)
@click.option("--org", "org_id", type=click.IntRange(min=1), default=1, show_default=True)
@handle_errors
def apikey_new(name: str, role: str, org_id: int) -> None:
    """Print a fresh key (shown once) and the line to add to the keys file."""
    from chanperf.api_keys import new_key

    key, line = new_key(name, role, org_id)
    click.echo(f"key:  {key}")
    click.echo(f"line: {line}")
    click.echo(
        "Give the key to its owner; add the line to CHANPERF_API_KEYS_FILE "
        "(or CHANPERF_API_KEYS, entries separated by ';'). The key is not stored anywhere.",
        err=True,
    )


@main.command()
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit.")
@click.option("--queue", "queues", multiple=True, help="Default: chanperf.")
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    show_default=True,
    help="Run RQ's scheduler too (delayed retries need it).",
)
@click.pass_obj
@handle_errors
def worker(settings: Settings, burst: bool, queues: tuple[str, ...], with_scheduler: bool) -> None:
    """Run an RQ worker on CHANPERF_REDIS_URL."""
    from chanperf.queue import QUEUE_NAME, run_worker

    if not settings.redis_url:
        raise click.ClickException("CHANPERF_REDIS_URL is not set")
    run_worker(
        settings.redis_url, queues or (QUEUE_NAME,), burst=burst, with_scheduler=with_scheduler
    )


@main.command()
@click.option(
    "--org", "org_ids", type=click.IntRange(min=1), multiple=True, help="Repeat; default 1."
)
@click.option("--print", "print_only", is_flag=True, help="Print the cron table and exit.")
@click.pass_obj
@handle_errors
def scheduler(settings: Settings, org_ids: tuple[int, ...], print_only: bool) -> None:
    """Run RQ's cron scheduler (one per deployment: RQ's cron has no lock)."""
    from chanperf.jobs import cron_table

    table = cron_table(org_ids or (1,), settings.timezone)
    for entry in table:
        click.echo(f"{entry.cron:<12} {settings.timezone}  {entry.name}")
    if print_only:
        return
    if not settings.redis_url:
        raise click.ClickException("CHANPERF_REDIS_URL is not set")
    from chanperf.queue import run_scheduler

    run_scheduler(settings.redis_url, settings.timezone, table)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=int, default=None, help="Default: CHANPERF_PORT (8024).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--dev", is_flag=True, help="Flask's development server even if gunicorn is there.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int | None, workers: int, dev: bool) -> None:
    """Serve the REST API (gunicorn when installed, else Flask's server)."""
    import importlib.util

    port = port or settings.port
    if not dev and importlib.util.find_spec("gunicorn") is not None:
        import os

        args = ["gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers)]
        os.execvp(sys.executable, [sys.executable, "-m", *args, "api:create_app()"])
    from api import create_app

    create_app({"CHANPERF_SETTINGS": settings}).run(host=host, port=port)


@main.group("proposals")
def proposals_group() -> None:
    """Policy proposals: review, approve or reject, apply, replay, measure."""


@contextlib.contextmanager
def _proposal_session(settings: Settings) -> Any:
    """One transaction for one command; the engine is disposed after it."""
    from chanperf.database import make_engine, session_factory

    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


@proposals_group.command("list")
@click.option(
    "--status", default=None, help="DRAFT, PENDING_REVIEW, APPROVED, REJECTED or IMPLEMENTED."
)
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_list(settings: Settings, status: str | None, org_id: int) -> None:
    """One line per proposal: id, status, policy parameter, values, title."""
    from chanperf.proposals import list_proposals

    with _proposal_session(settings) as session:
        for p in list_proposals(session, org_id, status):
            click.echo(
                f"{p.id}\t{p.status.value}\t{p.policy_name}.{p.parameter_path}\t"
                f"{p.current_value!r} -> {p.proposed_value!r}\t{p.title}"
            )


@proposals_group.command("show")
@click.argument("proposal_id", type=int)
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_show(settings: Settings, proposal_id: int, org_id: int) -> None:
    """Everything about a proposal, as JSON."""
    import json

    from chanperf.proposals import get_proposal

    with _proposal_session(settings) as session:
        p = get_proposal(session, org_id, proposal_id)
        fields = [c.name for c in p.__table__.columns]
        click.echo(
            json.dumps(
                {f: getattr(p, f) for f in fields}, default=str, indent=2, ensure_ascii=False
            )
        )


@proposals_group.command("diff")
@click.argument("proposal_id", type=int)
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_diff(settings: Settings, proposal_id: int, org_id: int) -> None:
    """Print the unified diff of the policy file (`git apply` it from the repository root)."""
    from chanperf.proposals import proposal_diff

    with _proposal_session(settings) as session:
        click.echo(proposal_diff(session, org_id, proposal_id), nl=False)


@proposals_group.command("approve")
@click.argument("proposal_id", type=int)
@click.option("--as", "actor", required=True, help="Who approves (not the requester).")
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_approve(settings: Settings, proposal_id: int, actor: str, org_id: int) -> None:
    """Approve a proposal waiting for review."""
    from chanperf.proposals import approve_proposal

    with _proposal_session(settings) as session:
        p = approve_proposal(session, org_id, proposal_id, actor)
        click.echo(f"proposal {p.id} approved by {p.approved_by} at {p.approved_at}")


@proposals_group.command("reject")
@click.argument("proposal_id", type=int)
@click.option("--as", "actor", required=True, help="Who rejects.")
@click.option("--reason", required=True, help="Why (kept with the proposal).")
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_reject(
    settings: Settings, proposal_id: int, actor: str, reason: str, org_id: int
) -> None:
    """Reject a proposal waiting for review, with a reason."""
    from chanperf.proposals import reject_proposal

    with _proposal_session(settings) as session:
        p = reject_proposal(session, org_id, proposal_id, actor, reason)
        click.echo(f"proposal {p.id} rejected by {p.rejected_by} at {p.rejected_at}")


@proposals_group.command("apply")
@click.argument("proposal_id", type=int)
@policies_dir_option
@click.option("--as", "actor", default=None, help="Who applies (recorded on the policy version).")
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_apply(
    settings: Settings, proposal_id: int, policies_dir: Path | None, actor: str | None, org_id: int
) -> None:
    """Write an approved proposal into its policy file (version + 1); refused on conflict."""
    from chanperf.proposals import apply_proposal

    folder = policies_dir or settings.policies_dir
    with _proposal_session(settings) as session:
        v = apply_proposal(session, org_id, proposal_id, folder, actor)
        click.echo(f"{folder / (v.policy_name + '.yaml')}: {v.policy_name} version {v.version}")


@proposals_group.command("replay")
@click.argument("proposal_id", type=int)
@click.option("--weeks", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--as-of", "as_of", callback=_parse_date, default=None, help="Default: yesterday.")
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_replay(
    settings: Settings, proposal_id: int, weeks: int, as_of: date | None, org_id: int
) -> None:
    """Re-run the last weeks' analysis with the proposed policy; print insights that change."""
    from chanperf.replay import replay_proposal

    for line in replay_proposal(settings, org_id, proposal_id, weeks, as_of).lines():
        click.echo(line)


@proposals_group.command("results")
@click.option("--as-of", "as_of", callback=_parse_date, default=None, help="Default: yesterday.")
@click.option("--org", "org_id", type=int, default=1, show_default=True)
@click.pass_obj
@handle_errors
def proposals_results(settings: Settings, as_of: date | None, org_id: int) -> None:
    """Measure applied proposals whose experiment duration has passed."""
    from datetime import datetime, timedelta

    from chanperf.experiment_results import check_experiment_results

    day = as_of or datetime.now(settings.tz).date() - timedelta(days=1)
    with _proposal_session(settings) as session:
        for p in check_experiment_results(session, org_id, day, settings.timezone):
            r = p.implementation_results or {}
            click.echo(
                f"{p.id}\t{r.get('verdict')}\testimate={r.get('estimate')}\tci={r.get('ci')}"
            )


if __name__ == "__main__":  # pragma: no cover
    main()
