"""The Flask app of chanperf's REST API. Nothing connects at import or in create_app."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import analyze, dashboard, insights, metrics, policies, proposals, rules
from api.auth import register_auth
from api.context import ServiceContext
from api.docs import register_docs
from api.errors import ChanperfApi, register_error_handlers
from api.fields import IdConverter, id_schema
from api.guard import register_guard
from api.health import blp as health_blp
from api.page import register_page
from chanperf.core.settings import LOG_FORMAT, Settings

log = logging.getLogger(__name__)

API_TITLE = "chanperf: Channel Performance API"
API_VERSION = "v1"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` may carry `CHANPERF_SETTINGS` (a Settings) and Flask keys."""

    app = Flask(__name__)
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Relative, so the page finds its assets behind a proxy's prefix too.
        OPENAPI_SWAGGER_UI_URL="docs/assets/",
        # No call to swagger.io's online validator: the page loads nothing from outside.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        JSON_SORT_KEYS=False,
    )
    if config:
        app.config.update(config)
    settings = app.config.get("CHANPERF_SETTINGS") or Settings.from_env()
    app.extensions["chanperf"] = ServiceContext(settings)
    if settings.proxy_hops:
        # Behind Traefik the prefix it strips comes back as X-Forwarded-Prefix: every URL
        # the app builds (the docs page's /openapi.json, Location headers) keeps it.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )
    # Under gunicorn nobody configures Python's logging, and the service's own lines
    # (which packs it reads, what it enqueues) would be dropped.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    log.info("%s", settings.describe_packs())

    app.url_map.converters["id"] = IdConverter  # before any route is added
    api = ChanperfApi(app)
    api.register_converter(IdConverter, id_schema)
    register_error_handlers(app)
    # Before authentication: a body refused unread costs nothing whoever sends it.
    register_guard(app)
    api.register_blueprint(health_blp)
    register_auth(app, api)
    for blueprint in _feature_blueprints():
        api.register_blueprint(blueprint)
    register_docs(app)
    register_page(app)
    return app


def _feature_blueprints() -> list[Any]:
    """The /v1/performance blueprints, all behind bearer API keys (api/auth.py)."""

    return [m.blp for m in (insights, metrics, proposals, analyze, dashboard, policies, rules)]
