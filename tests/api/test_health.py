"""The open endpoints: /, /health, /ready, /openapi.json, /docs (assets served locally)."""

from __future__ import annotations

import pytest

from api import create_app
from chanperf.core.settings import Settings


@pytest.fixture
def client(settings):
    app = create_app({"TESTING": True, "CHANPERF_SETTINGS": settings})
    return app.test_client()


def test_create_app_does_not_connect(monkeypatch):
    import api.context

    def boom(*_a, **_k):
        raise AssertionError("connected at start-up")

    monkeypatch.setattr(api.context, "make_engine", boom)
    app = create_app(
        {"CHANPERF_SETTINGS": Settings(database_url="mysql+pymysql://x@10.255.255.1/db")}
    )
    assert app.test_client().get("/health").get_json() == {"status": "ok"}


def test_root_and_health(client):
    body = client.get("/").get_json()
    assert body["service"] == "chanperf" and body["openapi"] == "/openapi.json"
    assert client.get("/health").status_code == 200


def test_ready_reports_database_and_disabled_queue(client):
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ready", "database": "ok", "queue": "disabled"}


def test_ready_is_503_when_database_unreachable(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/missing/dir/x.db")
    r = create_app({"CHANPERF_SETTINGS": settings}).test_client().get("/ready")
    assert r.status_code == 503 and r.get_json()["database"] == "error"


@pytest.mark.redis
def test_ready_checks_the_queue(settings, redis_url):
    app = create_app({"CHANPERF_SETTINGS": settings.with_(redis_url=redis_url)})
    assert app.test_client().get("/ready").get_json()["queue"] == "ok"
    bad = settings.with_(redis_url="redis://127.0.0.1:1/0")
    r = create_app({"CHANPERF_SETTINGS": bad}).test_client().get("/ready")
    assert r.status_code == 503 and r.get_json()["queue"] == "error"


def test_openapi_and_docs_are_served_without_cdn(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"].startswith("chanperf")
    assert {"/", "/health", "/ready"} <= set(spec["paths"])
    page = client.get("/docs").get_data(as_text=True)
    assert 'src="docs/assets/swagger-ui-bundle.js"' in page  # relative to the page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.get_data()) > 100_000


def test_unknown_path_uses_the_error_shape(client):
    r = client.get("/v1/performance/nothing-here")
    assert r.status_code == 404
    body = r.get_json()
    assert body["code"] == 404 and body["status"] == "Not Found" and "errors" in body


def test_behind_a_proxy_the_docs_page_keeps_the_stripped_prefix(settings, keys):
    from tests.api.conftest import make_client

    client = make_client(settings.with_(proxy_hops=1), keys)
    page = client.get("/docs", headers={"X-Forwarded-Prefix": "/channel-performance"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'url: "/channel-performance/openapi.json"' in html
    assert 'src="docs/assets/swagger-ui-bundle.js"' in html  # relative: under the prefix too
    # Without a trusted proxy the header is ignored.
    plain = make_client(settings, keys).get("/docs", headers={"X-Forwarded-Prefix": "/x"})
    assert 'url: "/openapi.json"' in plain.get_data(as_text=True)
