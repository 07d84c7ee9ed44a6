"""Every error answer has one JSON shape: {code, status, message, errors}.

`code` is the HTTP status number, `status` its name, `errors` maps a field (or
location) to its messages. ChanperfError subclasses are mapped here and nowhere else.
A database that cannot be reached, or lost the tables chanperf needs, answers 503 with
Retry-After; anything unexpected answers 500. Neither says more than that: no host,
user, path or traceback leaves the server (they go to its log).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException

from chanperf.core.errors import (
    ChanperfError,
    ConfigError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)

log = logging.getLogger(__name__)

STATUS_OF: list[tuple[type[ChanperfError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (PermissionDenied, 403),
    (ValidationError, 422),
    (ConfigError, 500),
    (ChanperfError, 400),
]
RETRY_AFTER_SECONDS = 30
# Werkzeug's headers worth keeping on an error (Allow on 405, Retry-After, the challenge).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def error_body(code: int, message: str | None = None, errors: Any = None) -> dict[str, Any]:
    phrase = HTTPStatus(code).phrase
    return {"code": code, "status": phrase, "message": message or phrase, "errors": errors or {}}


def error_response(
    code: int, message: str | None = None, errors: Any = None, headers: Any = None
) -> Response:
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    if headers:
        response.headers.update(headers)
    return response


class ChanperfApi(Api):
    def handle_http_exception(self, error: HTTPException) -> Response:
        code = error.code or 500
        data = getattr(error, "data", {}) or {}
        errors = data.get("messages") or data.get("errors")
        message = data.get("message") or (error.description if code != 422 else None)
        if code == 422 and errors and not message:
            message = "invalid " + ", ".join(_fields(errors))
        headers = {k: v for k, v in error.get_headers() if k in _KEPT_HEADERS}
        headers.update(data.get("headers") or {})
        return error_response(code, message, _flat(errors), headers)


def _flat(errors: Any) -> Any:
    """webargs nests errors by location ({"query": {"page": [...]}}): one level, by field."""
    if not isinstance(errors, dict):
        return errors
    locations = {"json", "query", "path", "form", "headers", "cookies", "files", "view_args"}
    if errors and set(errors) <= locations and all(isinstance(v, dict) for v in errors.values()):
        out: dict[str, Any] = {}
        for by_field in errors.values():
            out.update(by_field)
        return out
    return errors


def _fields(errors: Any) -> list[str]:
    flat = _flat(errors)
    return sorted(str(k) for k in flat) if isinstance(flat, dict) else []


def database_unavailable(exc: Exception) -> bool:
    """Whether `exc` means the database is down or lost chanperf's tables (not a bad query)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, ProgrammingError):
        text = str(getattr(exc, "orig", exc)).lower()
        return "no such table" in text or "doesn't exist" in text or "unknown database" in text
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ChanperfError)
    def _chanperf_error(exc: ChanperfError) -> Response:
        code = next(status for cls, status in STATUS_OF if isinstance(exc, cls))
        errors = dict(exc.by_field()) if isinstance(exc, ValidationError) else {}
        message = str(exc).splitlines()[0] if str(exc) else exc.code
        if errors:  # the same message webargs' 422s get: which fields
            message = "invalid " + ", ".join(sorted(errors))
        if code >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
            message = HTTPStatus(code).phrase
        return error_response(code, message, errors)

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Response:
        if database_unavailable(exc):
            log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
            return error_response(
                503,
                "the database is unavailable; try again later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        log.exception("database error")
        return error_response(500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):  # raised outside flask-smorest's reach
            code = exc.code or 500
            headers = {k: v for k, v in exc.get_headers() if k in _KEPT_HEADERS}
            return error_response(code, exc.description, headers=headers)
        log.exception("unexpected error")
        return error_response(500)
