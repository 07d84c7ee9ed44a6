"""`chanperf analyze`, `collect` and `churn`: the pipeline from the command line."""

from __future__ import annotations

from datetime import date

import click

from chanperf.analysis.context import source_context
from chanperf.analysis.detectors.churn import accounts_at_risk, churn_model_report
from chanperf.analysis.run import analyze as run_analysis
from chanperf.cli.options import as_of_option, handle_errors, org_option, parse_date
from chanperf.core.clock import yesterday
from chanperf.core.settings import Settings
from chanperf.metrics.collect import collect_with_progressbar


@click.command()
@as_of_option()
@org_option()
@click.option("--no-collect", is_flag=True, help="Use the metrics already stored.")
@click.pass_obj
@handle_errors
def analyze(settings: Settings, as_of: date | None, org_id: int, no_collect: bool) -> None:
    """Collect what is missing, run every detector and rule, store insights and proposals."""
    s = run_analysis(settings, org_id, as_of, collect_first=not no_collect)
    click.echo(
        f"run {s.run_id} (org {s.org_id}, as of {s.as_of}): {s.findings} findings, "
        f"{s.insights_created} new insights, {s.insights_updated} updated, "
        f"{s.insights_reraised} re-raised, {s.insights_suppressed} kept dismissed, "
        f"{s.proposals_created} proposals"
    )
    for rule_id, n in sorted(s.by_rule.items()):
        click.echo(f"  {rule_id}: {n}")


@click.command("collect")
@click.option(
    "--from", "start", callback=parse_date, default=None, help="First local day (YYYY-MM-DD)."
)
@click.option("--to", "end", callback=parse_date, default=None, help="Last local day (YYYY-MM-DD).")
@org_option()
@click.option("--backfill", is_flag=True, help="Every day the source tables cover.")
@click.pass_obj
@handle_errors
def collect_command(
    settings: Settings, start: date | None, end: date | None, org_id: int, backfill: bool
) -> None:
    """Compute daily, weekly and monthly metrics (default: yesterday, its week and month)."""
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


@click.command()
@as_of_option(help="Default: yesterday.")
@org_option()
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
    with source_context(settings, org_id, as_of or yesterday(settings.tz)) as (conn, ctx):
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
