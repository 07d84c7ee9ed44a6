"""The current time, as chanperf stores it, and the organisation's calendar "yesterday"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    """Now in UTC, naive, in whole seconds: MariaDB's DATETIME keeps no fraction, and both
    backends must store the same value."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def as_utc(moment: datetime | None) -> datetime:
    """A moment (aware in any zone, or naive UTC; default now) as naive UTC in whole seconds."""
    if moment is None:
        return utc_now()
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def yesterday(tz: ZoneInfo) -> date:
    """Yesterday in the organisation's time zone: the last complete local day."""
    return datetime.now(tz).date() - timedelta(days=1)


def today(tz: ZoneInfo) -> date:
    """Today in the organisation's time zone (the latest day a request may name)."""
    return datetime.now(tz).date()
