"""Small helpers every /v1 view shares: the caller's org and name, sessions, local dates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy.orm import Session

from api.auth import current_key
from api.context import services
from chanperf.core import clock

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


@contextmanager
def writing() -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    with services().sessions.begin() as session:
        yield session


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
