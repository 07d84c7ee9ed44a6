"""Swagger UI assets served from the installed swagger-ui-bundle package (no CDN)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from chanperf.core.periods import DAY_SECONDS


def register_docs(app: Flask) -> None:
    assets = Blueprint("docs_assets", __name__)

    @assets.route("/docs/assets/<path:filename>")
    def swagger_asset(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=DAY_SECONDS)

    app.register_blueprint(assets)
