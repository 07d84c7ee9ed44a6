"""The `chanperf` group: reads Settings once and hands them to every command."""

from __future__ import annotations

import logging

import click

from chanperf.cli import analysis, db, demo, insights, proposals, rules, service, source
from chanperf.core.errors import ChanperfError
from chanperf.core.settings import LOG_FORMAT, Settings


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
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    # Alembic reports every migration step at INFO; the commands say what matters.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    ctx.obj = settings


for command in (
    db.db,
    demo.demo,
    demo.eval_command,
    analysis.analyze,
    analysis.collect_command,
    analysis.churn,
    source.ingest,
    rules.init_command,
    rules.lint_command,
    rules.rules_group,
    proposals.proposals_group,
    insights.insights_group,
    service.apikey_group,
    service.worker,
    service.scheduler,
    service.serve,
):
    main.add_command(command)
