"""Per-app services: the engine and queue are created on first use, not at start-up."""

from __future__ import annotations

import threading

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chanperf.core.database import make_engine, session_factory
from chanperf.core.settings import Settings


class ServiceContext:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.settings.database_url)
                self._sessions = session_factory(self._engine)
            return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        self.engine  # noqa: B018 - builds the factory on first use
        assert self._sessions is not None
        return self._sessions


def services() -> ServiceContext:
    ctx: ServiceContext = current_app.extensions["chanperf"]
    return ctx
