"""`chanperf ingest`: load files into the source tables."""

from __future__ import annotations

from pathlib import Path

import click

from chanperf.cli.options import handle_errors, org_option
from chanperf.core.settings import Settings
from chanperf.source.ingest import ingest_file


@click.command()
@click.argument("table")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@org_option(default=None, show_default=False, help="Org of rows whose file has no org_id.")
@click.pass_obj
@handle_errors
def ingest(settings: Settings, table: str, file: Path, org_id: int | None) -> None:
    """Load a CSV (or Parquet) FILE into a source TABLE; a file with a bad row is refused whole."""
    count = ingest_file(settings, table, file, default_org_id=org_id)
    click.echo(f"{file}: {count} rows loaded into {table}")
