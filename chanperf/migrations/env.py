"""Alembic environment, configured from code by `chanperf.migrations.upgrade` (no alembic.ini needed).

`chanperf.migrations.upgrade` hands over an open connection in `config.attributes["connection"]`;
without one (a developer running `alembic` by hand) the URL in `sqlalchemy.url` is used.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from chanperf.core.database import make_engine
from chanperf.migrations.upgrade import compare_server_default
from chanperf.models.base import Base

config = context.config

# The models are only the target of autogenerate. Revisions never import them, so that
# history does not change when the models do. One exception: the CHECK constraints of
# Enum columns on SQLite take their names from this metadata's "ck" naming convention.
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=compare_server_default,
    )


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or pass a connection")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
