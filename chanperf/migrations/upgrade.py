"""Schema migrations with Alembic, configured in code so an installed package can upgrade itself.

Alembic is the standard migration tool for SQLAlchemy: it versions the schema in the
database (`alembic_version`), runs each revision once, and can compare the models with
a live schema, which the tests use to keep the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
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


def current(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise ConfigError(f"cannot read the database revision: {exc.orig}") from exc
    finally:
        engine.dispose()
