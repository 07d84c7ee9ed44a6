"""The Performance page at /performance/: the built files shipped in the package, served offline."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import api.page
from api import create_app
from api.page import CONTENT_SECURITY_POLICY, PAGE_DIR
from chanperf.core.settings import REPO_ROOT, Settings

PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]


@pytest.fixture
def page_settings(tmp_path: Path) -> Settings:
    # No API key configured at all: the page is public, the data behind it is not.
    return Settings(database_url=f"sqlite:///{tmp_path / 'page.db'}")


@pytest.fixture
def client(page_settings: Settings):
    return create_app({"TESTING": True, "CHANPERF_SETTINGS": page_settings}).test_client()


def _assets(html: str) -> list[str]:
    """The files index.html loads (the empty inline icon stops a request for /favicon.ico)."""
    return [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if u != "data:,"]


def test_the_page_is_public_html_with_its_security_policy(client):
    r = client.get("/performance/")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<html lang="pt-BR">' in html
    assert "<title>Performance do Canal — chanperf</title>" in html
    assert '<div id="root"></div>' in html
    assert '<link rel="icon" href="data:," />' in html
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "connect-src 'self'" in CONTENT_SECURITY_POLICY
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # The data is not public: the same server still wants a key for /v1.
    assert client.get("/v1/performance/dashboard").status_code == 401


def test_every_asset_is_local_and_served_with_a_long_cache(client):
    html = client.get("/performance/").get_data(as_text=True)
    assets = _assets(html)
    assert sorted(Path(a).suffix for a in assets) == [".css", ".js"]
    for asset in assets:
        assert asset.startswith("./assets/"), f"{asset} is not served by this page"
        r = client.get("/performance/" + asset.removeprefix("./"))
        assert r.status_code == 200, asset
        assert r.mimetype == {".js": "text/javascript", ".css": "text/css"}[Path(asset).suffix]
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    # Nothing loaded from elsewhere: no absolute URL, no protocol-relative one.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_the_built_files_are_the_ones_in_the_package():
    served = sorted(p.relative_to(PAGE_DIR).as_posix() for p in PAGE_DIR.rglob("*") if p.is_file())
    assert served[-1] == "index.html"
    assert {Path(p).suffix for p in served} == {".html", ".js", ".css"}
    html = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
    assert sorted(a.removeprefix("./") for a in _assets(html)) == served[:-1]
    assert PAGE_DIR == REPO_ROOT / "api" / "static" / "performance"


def test_without_the_slash_it_redirects_keeping_the_query(client):
    r = client.get("/performance?as_of=2026-06-30")
    assert r.status_code == 308
    assert r.headers["Location"] == "/performance/?as_of=2026-06-30"
    assert client.get("/performance").headers["Location"] == "/performance/"


def test_unknown_files_are_404_in_the_api_error_shape(client):
    for path in (
        "/performance/assets/nope.js",
        "/performance/assets/../../__init__.py",
        "/performance/index.js",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert set(r.get_json()) == {"code", "status", "message", "errors"}


def test_a_missing_build_says_how_to_make_it(page_settings, tmp_path, monkeypatch):
    monkeypatch.setattr(api.page, "PAGE_DIR", tmp_path / "empty")
    r = (
        create_app({"TESTING": True, "CHANPERF_SETTINGS": page_settings})
        .test_client()
        .get("/performance/")
    )
    assert r.status_code == 404
    assert r.get_json()["message"] == (
        "the Performance page is not built (cockpit/frontend: npm run build)"
    )


@pytest.mark.slow
def test_a_wheel_carries_the_page(tmp_path):
    """A Python install serves the page with no Node: the built files are package data."""
    subprocess.run(
        [*PIP_WHEEL, "-w", str(tmp_path), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("chanperf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        "api/static/performance/" + p.relative_to(PAGE_DIR).as_posix()
        for p in PAGE_DIR.rglob("*")
        if p.is_file()
    }
    assert shipped <= names, shipped - names
    assert "api/page.py" in names
