"""`chanperf db`: the schema of chanperf's tables."""

from __future__ import annotations

import click

from chanperf.cli.options import handle_errors
from chanperf.core.settings import Settings
from chanperf.migrations.upgrade import upgrade


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_obj
@handle_errors
def db_upgrade(settings: Settings, revision: str) -> None:
    """Create or migrate every table on the configured database (Alembic)."""
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}: {settings.database_url.split('@')[-1]}")
