"""`chanperf db`: the schema of chanperf's tables."""

from __future__ import annotations

import click

from chanperf.cli.options import handle_errors
from chanperf.core.errors import ConfigError
from chanperf.core.settings import Settings
from chanperf.migrations.upgrade import current, downgrade, upgrade


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_obj
@handle_errors
def db_upgrade(settings: Settings, revision: str) -> None:
    """Create or migrate every table on the configured database (Alembic)."""
    try:
        before = current(settings.database_url)
    except ConfigError:
        before = None  # unreachable: upgrade says so, in its own words
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}: {settings.database_url.split('@')[-1]}")
    if before == "0001" and current(settings.database_url) != before:
        click.echo(
            "note: periods collected before this upgrade have no transitions_to_* or "
            "avg_health_score yet: `chanperf collect --backfill` computes them (docs/metrics.md)"
        )


@db.command("downgrade")
@click.argument("revision")
@click.pass_obj
@handle_errors
def db_downgrade(settings: Settings, revision: str) -> None:
    """Take the database back to REVISION (e.g. 0001), converting what the later ones changed."""
    downgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}: {settings.database_url.split('@')[-1]}")
