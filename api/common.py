"""Small helpers every /v1 view shares: the caller's org and name, sessions, local dates."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.auth import current_key
from api.context import services
from chanperf.core import clock
from chanperf.core.database import is_lock_conflict

T = TypeVar("T")

PREFIX = "/v1/performance"


def org_id() -> int:
    return current_key().org_id


def actor() -> str:
    """Who acts: the key's name, never anything the request body says."""
    return current_key().name


@contextmanager
def reading() -> Iterator[Session]:
    with services().sessions() as session:
        yield session


LOCK_RETRIES = 3


def in_transaction(work: Callable[[Session], T]) -> T:
    """`work` in one transaction, run again (up to LOCK_RETRIES times) when the database
    refused it for a lock conflict: InnoDB picks a deadlock victim among updates racing on
    one row's indexes, and that victim did nothing, so a retry is its compare-and-set."""
    for attempt in range(1, LOCK_RETRIES + 1):
        try:
            with services().sessions.begin() as session:
                return work(session)
        except DBAPIError as exc:
            if attempt == LOCK_RETRIES or not is_lock_conflict(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def yesterday() -> date:
    """The last complete day in the org's time zone (metrics exist for ended days only)."""
    return clock.yesterday(services().settings.tz)


def page_headers(page: int, page_size: int, total: int) -> dict[str, str]:
    """The X-Pagination header (api.schemas.PAGINATION_HEADERS) of one page of `total` items."""
    last = max(1, -(-total // page_size))
    meta: dict[str, int] = {
        "total": total,
        "total_pages": -(-total // page_size),
        "first_page": 1,
        "last_page": last,
    }
    if page <= last:
        meta["page"] = page
        if page > 1:
            meta["previous_page"] = page - 1
        if page < last:
            meta["next_page"] = page + 1
    return {"X-Pagination": json.dumps(meta)}
