"""Options and helpers every command group shares."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from chanperf.core.database import make_engine, session_factory
from chanperf.core.errors import ChanperfError
from chanperf.core.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """A ChanperfError, or a database that cannot be read (down, or never migrated), ends
    the command with a message and exit code 1, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChanperfError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (OperationalError, ProgrammingError, InterfaceError) as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            click.echo(
                f"error: the database cannot be read ({reason}); if it is new, run "
                "`chanperf db upgrade` first",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def parse_date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}", param=param) from None


def org_option(**overrides: Any) -> Callable[[F], F]:
    """`--org N`: the organisation a command works on (default 1)."""
    settings: dict[str, Any] = {
        "type": click.IntRange(min=1),
        "default": 1,
        "show_default": True,
        "help": "Organisation id.",
    }
    settings.update(overrides)
    return click.option(
        "--org", "org_id" if not settings.get("multiple") else "org_ids", **settings
    )


def as_of_option(
    help: str = "Last day analysed (default: yesterday).", **extra: Any
) -> Callable[[F], F]:
    return click.option("--as-of", "as_of", callback=parse_date, default=None, help=help, **extra)


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


@contextlib.contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One transaction for one command; the engine is disposed after it."""
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()
