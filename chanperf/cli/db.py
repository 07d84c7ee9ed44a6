"""`chanperf db`: the schema of chanperf's tables."""

from __future__ import annotations

import os
import time

import click

from chanperf.cli.options import handle_errors
from chanperf.core.errors import ConfigError
from chanperf.core.settings import Settings
from chanperf.migrations.upgrade import current, downgrade, head, is_known, migrate


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.option(
    "--lock-timeout",
    type=click.IntRange(min=0),
    default=600,
    show_default=True,
    help="Seconds to wait for another migration of the same database (MariaDB/MySQL).",
)
@click.pass_obj
@handle_errors
def db_upgrade(settings: Settings, revision: str, lock_timeout: int) -> None:
    """Create or migrate every table on the configured database (Alembic).

    One migration at a time per database: a second one waits for the first, then finds
    nothing left to do.
    """
    before = migrate(settings.database_url, revision, lock_timeout)
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


@db.command("wait", context_settings={"ignore_unknown_options": True})
@click.option("--timeout", type=click.IntRange(min=0), default=600, show_default=True)
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
@handle_errors
def db_wait(settings: Settings, timeout: int, interval: float, command: tuple[str, ...]) -> None:
    """Wait until the database is migrated to this release, then run COMMAND if given.

    For services started beside a one-off `chanperf db upgrade`: `chanperf db wait --
    gunicorn ...` starts the server only once the schema is there. A database a newer
    release migrated also counts (a rolled-back service must still start).
    """
    wanted = head()
    deadline = time.monotonic() + timeout
    state = "not reached yet"
    while True:
        try:
            revision = current(settings.database_url)
        except ConfigError as exc:
            revision, state = None, str(exc)
        else:
            if revision == wanted:
                break
            if revision is not None and not is_known(revision):
                click.echo(
                    f"warning: the database is at revision {revision}, newer than this "
                    f"release's {wanted}; starting anyway",
                    err=True,
                )
                break
            state = f"at revision {revision or 'none (never migrated)'}"
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"the database did not reach revision {wanted} in {timeout} s ({state}); "
                "run `chanperf db upgrade`"
            )
        time.sleep(interval)
    click.echo(f"database at revision {revision}", err=True)
    if command:
        try:
            os.execvp(command[0], list(command))
        except OSError as exc:
            raise ConfigError(f"cannot run {command[0]}: {exc.strerror}") from exc
