"""Every error answer has one JSON shape: {code, status, message, errors}.

`code` is the HTTP status number, `status` its name, `errors` maps a field (or
location) to its messages. ChanperfError subclasses are mapped here and nowhere else.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from chanperf.core.errors import (
    ChanperfError,
    ConfigError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)

STATUS_OF: list[tuple[type[ChanperfError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (PermissionDenied, 403),
    (ValidationError, 422),
    (ConfigError, 500),
    (ChanperfError, 400),
]


def error_body(code: int, message: str | None = None, errors: Any = None) -> dict[str, Any]:
    phrase = HTTPStatus(code).phrase
    return {"code": code, "status": phrase, "message": message or phrase, "errors": errors or {}}


class ChanperfApi(Api):
    def handle_http_exception(self, error: HTTPException) -> Response:
        code = error.code or 500
        data = getattr(error, "data", {}) or {}
        errors = data.get("messages") or data.get("errors")
        message = data.get("message") or (error.description if code != 422 else "invalid input")
        headers = data.get("headers") or {}
        response = jsonify(error_body(code, message, errors))
        response.status_code = code
        response.headers.update(headers)
        return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ChanperfError)
    def _chanperf_error(exc: ChanperfError) -> tuple[Response, int]:
        code = next(status for cls, status in STATUS_OF if isinstance(exc, cls))
        errors = dict(exc.by_field()) if isinstance(exc, ValidationError) else {}
        message = str(exc).splitlines()[0] if str(exc) else exc.code
        return jsonify(error_body(code, message, errors)), code
