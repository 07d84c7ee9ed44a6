"""Request bodies checked before any view: size, content type, JSON, text that can be stored.

Every /v1 body is JSON. A body that is not (415), cannot be parsed or nests deeper than
MAX_JSON_DEPTH (400), or carries text that cannot be encoded as UTF-8, such as a lone
surrogate escape "\\ud800" (422, naming the field), is refused here in the one error
shape, so no view or database ever sees it. Bodies larger than MAX_BODY_BYTES are
refused by Flask itself (413) before they are read.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request

from api.errors import error_response

MAX_BODY_BYTES = 64 * 1024  # the largest real body (a rejection reason, notes) is ~10 KB
MAX_JSON_DEPTH = 32
JSON_TYPES = ("application/json",)


def _depth(text: str) -> int:
    """Deepest nesting of brackets outside strings (checked before parsing: json recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _unencodable(value: Any, path: str = "") -> str | None:
    """The path of the first string that UTF-8 cannot encode, if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unencodable(key, path) or _unencodable(item, f"{path}.{key}" if path else key)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _unencodable(item, f"{path}[{i}]" if path else f"[{i}]")
            if found:
                return found
    return None


def check_body() -> Response | None:
    if not request.path.startswith("/v1/") or request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH, before reading it
    if not raw:
        return None
    if request.mimetype not in JSON_TYPES:
        return error_response(
            415,
            f"the body must be JSON (Content-Type: application/json), not {request.mimetype or 'unset'}",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return error_response(400, "the body is not UTF-8", {"body": ["not UTF-8"]})
    if _depth(text) > MAX_JSON_DEPTH:
        return error_response(
            400, f"the body nests deeper than {MAX_JSON_DEPTH} levels", {"body": ["too deep"]}
        )
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        return error_response(400, "the body is not valid JSON", {"body": [str(exc)]})
    field = _unencodable(parsed)
    if field is not None:
        return error_response(
            422, f"invalid {field}", {field: ["text that cannot be stored (invalid Unicode)"]}
        )
    return None


def register_guard(app: Flask) -> None:
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is None: no limit
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request(check_body)
