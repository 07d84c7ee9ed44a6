"""Engines and sessions. Nothing connects at import: callers build them from Settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from chanperf.core.errors import ConfigError


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs to behave like the other."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise ConfigError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if backend in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        connect_args = kwargs.pop("connect_args", {})
        # Naive UTC everywhere: CURRENT_TIMESTAMP defaults must be UTC too.
        connect_args.setdefault("init_command", "SET time_zone='+00:00'")
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args=connect_args,
            **kwargs,
        )
    return create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


# MariaDB/MySQL: deadlock found, lock wait timeout; SQLite: the file is locked.
_RETRY_CODES = {1213, 1205}


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a transaction because another holds its locks:
    the transaction did nothing, and running it again is the documented answer."""
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRY_CODES:
        return True
    return "database is locked" in str(orig or exc)
