"""The Performance page at /performance/: the built Seller Cockpit page shipped in the package.

The files under api/static/performance are built from cockpit/frontend (`npm run build`)
and committed, so a Python install serves the page without Node. The page itself is
public; it asks for an API key and sends it to /v1 like any other client. Everything it
loads comes from this server: the Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, abort, redirect, request, send_from_directory

PAGE_DIR = Path(__file__).parent / "static" / "performance"
PAGE_PATH = "/performance/"
YEAR_SECONDS = 365 * 86400

# 'unsafe-inline' styles: the chart library sets style attributes on its SVG.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def register_page(app: Flask, directory: Path | None = None) -> None:
    directory = directory or PAGE_DIR
    page = Blueprint("performance_page", __name__)

    @page.route("/performance")
    def performance_redirect() -> Response:
        query = request.query_string.decode("latin-1")
        target = PAGE_PATH + (f"?{query}" if query else "")
        return redirect(target, code=308)  # type: ignore[return-value]

    @page.route(PAGE_PATH)
    def performance_index() -> Response:
        if not (directory / "index.html").is_file():
            abort(
                404,
                description="the Performance page is not built (cockpit/frontend: npm run build)",
            )
        response = send_from_directory(directory, "index.html", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return _secured(response)

    @page.route(f"{PAGE_PATH}assets/<path:filename>")
    def performance_asset(filename: str) -> Response:
        # File names carry a hash of their content: cache them for good.
        response = send_from_directory(directory / "assets", filename, max_age=YEAR_SECONDS)
        response.headers["Cache-Control"] = f"public, max-age={YEAR_SECONDS}, immutable"
        return _secured(response)

    app.register_blueprint(page)
