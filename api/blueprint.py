"""The Blueprint every /v1 module uses: flask-smorest's, with a parser that lets each query
schema decide about parameters it does not know (api.schemas.QueryArgs refuses them)."""

from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser


class _Parser(FlaskParser):
    # webargs drops unknown query parameters whatever the schema says; None defers to it.
    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {  # noqa: RUF012 - webargs' own
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
    }


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()
