"""Schema migrations with Alembic, configured in code so an installed package can upgrade itself.

Alembic is the standard migration tool for SQLAlchemy: it versions the schema in the
database (`alembic_version`), runs each revision once, and can compare the models with
a live schema, which the tests use to keep the two equal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from chanperf.core.database import make_engine
from chanperf.core.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent


def compare_server_default(
    _context: Any,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_default: str | None,
    _metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Autogenerate hook: MariaDB reports a DECIMAL default of 0 as '0.00'; equal numbers are equal.

    Returns None (let Alembic decide) for anything that is not a pair of numbers.
    """
    if inspected_default is None or rendered_metadata_default is None:
        return None
    try:
        inspected = Decimal(inspected_default.strip("'"))
        declared = Decimal(rendered_metadata_default.strip("'"))
    except InvalidOperation:
        return None
    return inspected != declared


def make_config(database_url: str) -> Config:
    """An Alembic Config pointing at the shipped migrations (for `command.*` calls)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': a URL-encoded password would otherwise break it.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def _run(database_url: str, step: Callable[[Config], None]) -> None:
    """Run one Alembic command on its own connection, in one transaction.

    SQLite: the batch steps copy a table and drop the old one, and with foreign keys
    enforced that drop would fire ON DELETE SET NULL on the rows pointing at it. The
    check is switched off around the migration (it cannot change inside a transaction)
    and `PRAGMA foreign_key_check` must find nothing before the migration commits.
    """
    cfg = make_config(database_url)
    engine = make_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    step(cfg)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise ConfigError(f"migration left broken references: {broken[:5]}")
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
    except OperationalError as exc:
        raise ConfigError(f"cannot migrate the database: {exc.orig}") from exc
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision`; a no-op when it is already there."""
    _run(database_url, lambda cfg: command.upgrade(cfg, revision))


def downgrade(database_url: str, revision: str) -> None:
    """Take the database at `database_url` back to `revision` (each step's downgrade)."""
    _run(database_url, lambda cfg: command.downgrade(cfg, revision))


def current(database_url: str, failure: str = "cannot read the database revision") -> str | None:
    """The revision the database is at, or None when it was never migrated.

    An unreachable database is a ConfigError starting with `failure`."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise ConfigError(f"{failure}: {exc.orig}") from exc
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this release ships."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    heads = script.get_heads()
    if len(heads) != 1:  # a release ships one line of history
        raise ConfigError(f"the shipped migrations have {len(heads)} heads: {heads}")
    return heads[0]


def is_known(revision: str) -> bool:
    """Whether this release ships `revision` (a database migrated by a newer one is not)."""
    try:
        return ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(revision) is not None
    except CommandError:
        return False


@contextlib.contextmanager
def migration_lock(database_url: str, timeout: int) -> Iterator[None]:
    """Hold the database's migration lock: one migration at a time per database.

    MariaDB/MySQL: a named lock (GET_LOCK) on a connection of its own, released when
    the block ends or the connection drops. Server-wide, so the name carries the
    database's. SQLite has a single writer anyway: nothing to take.
    """
    url = make_url(database_url)
    if url.get_backend_name() not in ("mysql", "mariadb"):
        yield
        return
    name = f"chanperf.migrate.{url.database}"[:64]
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            got = conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": timeout}).scalar()
            if got != 1:
                raise ConfigError(
                    f"another migration of {url.database} has held the lock for {timeout} s; "
                    "try again when it has finished"
                )
            try:
                yield
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
    except OperationalError as exc:
        raise ConfigError(f"cannot migrate the database: {exc.orig}") from exc
    finally:
        engine.dispose()


def migrate(database_url: str, revision: str = "head", lock_timeout: int = 600) -> str | None:
    """`upgrade` under the migration lock, so replicas started together migrate once.

    Returns the revision the database was at before (None: never migrated).
    """
    with migration_lock(database_url, lock_timeout):
        before = current(database_url, failure="cannot migrate the database")
        upgrade(database_url, revision)
    return before
