"""Fields and bounds every schema shares: UTC timestamps with their offset, bounded ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import ValidationError, fields
from werkzeug.routing import IntegerConverter

from api.context import services
from chanperf.core import clock

# Ids and page numbers: JSON numbers are exact up to 2^53 (JavaScript's safe integers).
MAX_ID = 2**53


class UtcDateTime(fields.DateTime):
    """A timestamp as ISO 8601 with its offset: stored naive values are UTC."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: 1..MAX_ID; anything else is no route (404), never a 500."""

    def __init__(self, map: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def id_schema(converter: Any) -> dict[str, Any]:
    """How /openapi.json describes an `<id:...>` path parameter."""
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


EARLIEST_DAY = date(2000, 1, 1)


class Day(fields.Date):
    """A local day from EARLIEST_DAY to today in the organisation's time zone (else 422)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = dict(kwargs.pop("metadata", {}))
        note = (
            f"From {EARLIEST_DAY.isoformat()} to today in the organisation's time zone (else 422)."
        )
        metadata["description"] = f"{metadata.get('description', '')} {note}".strip()
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day: date = super()._deserialize(value, attr, data, **kwargs)
        if day < EARLIEST_DAY:
            raise ValidationError(f"must be on or after {EARLIEST_DAY.isoformat()}")
        today = clock.today(services().settings.tz)
        if day > today:
            raise ValidationError(f"must not be after today ({today.isoformat()})")
        return day
