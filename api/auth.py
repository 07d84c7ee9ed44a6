"""Bearer API keys on every /v1 path; roles checked per operation.

Authentication happens once per request, before any view: a /v1 view that
forgot its role still cannot be reached without a valid key. Identity (the key's
name) and org come from the key, never from the request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from copy import deepcopy
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_smorest import Api, abort

from api.context import services
from chanperf.core.api_keys import ApiKey, KeyRing, Role, load_keyring

F = TypeVar("F", bound=Callable[..., Any])

SCHEME = "bearerAuth"
PROTECTED_PREFIX = "/v1/"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="chanperf"'}


def keyring() -> KeyRing:
    # Read on first use (not in create_app), so building the app touches no file.
    ring: KeyRing | None = current_app.extensions.get("chanperf_keys")
    if ring is None:
        ring = load_keyring(services().settings)
        current_app.extensions["chanperf_keys"] = ring
    return ring


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> None:
    # No route matched: let it be the 404 it is (the routes are public in /openapi.json).
    # OPTIONS only lists the methods (Allow): a browser's preflight carries no key.
    if (
        not request.path.startswith(PROTECTED_PREFIX)
        or request.url_rule is None
        or request.method == "OPTIONS"
    ):
        return
    token = _bearer_token()
    if token is None:
        abort(401, message="missing bearer API key", headers=_CHALLENGE)
    key = keyring().authenticate(token)
    if key is None:
        abort(401, message="invalid API key", headers=_CHALLENGE)
    g.api_key = key


def current_key() -> ApiKey:
    key: ApiKey | None = g.get("api_key")
    if key is None:  # only reachable if a protected view is mounted outside /v1
        abort(401, message="missing bearer API key", headers=_CHALLENGE)
    assert key is not None
    return key


def requires(role: Role) -> Callable[[F], F]:
    """Check the caller's role, and document the scheme and the 401/403 answers."""

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = current_key()
            if not key.allows(role):
                abort(
                    403,
                    message=f"role {role.label} required; key {key.name!r} is {key.role.label}",
                )
            return func(*args, **kwargs)

        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = [{SCHEME: []}]
        manual.setdefault("responses", {}).update({"401": "UNAUTHORIZED", "403": "FORBIDDEN"})
        doc = (func.__doc__ or "").strip()
        manual["description"] = f"{doc}\n\nRole: {role.label} or above."
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        wrapper._required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def register_auth(app: Flask, api: Api) -> None:
    api.spec.components.security_scheme(
        SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key issued by `chanperf apikey new`; it carries a role and an org.",
        },
    )
    app.before_request(authenticate)
