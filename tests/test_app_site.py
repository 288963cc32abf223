"""The built site served at / next to the form service."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from forms.site import inline_script_hashes
from tests.app_fixtures import make_setup

PAGE = (
    b'<!doctype html><html><head><script>var __md_scope=new URL(".",location)</script>'
    b'<script src="assets/app.js"></script>'
    b'<script id="__config" type="application/json">{"base": "."}</script>'
    b"</head><body><h1>\xe9\xa6\x96\xe9\xa1\xb5</h1></body></html>"
)


def sha(text: bytes) -> str:
    return base64.b64encode(hashlib.sha256(text).digest()).decode()


@pytest.fixture
def setup(tmp_path: Path):
    setup = make_setup(tmp_path)
    sites = setup.services.settings.sites_dir
    build = sites / "abc1234-1"
    (build / "units").mkdir(parents=True)
    (build / "index.html").write_bytes(PAGE)
    (build / "units" / "index.html").write_bytes(b"<p>units</p>")
    (build / "404.html").write_bytes(b"<p>not here</p>")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink("abc1234-1", sites / "current")
    return setup


def test_inline_scripts_are_allowed_by_their_hash_only() -> None:
    hashes = inline_script_hashes(PAGE)
    assert hashes == [sha(b'var __md_scope=new URL(".",location)'), sha(b'{"base": "."}')]


def test_the_current_site_is_served_with_its_own_policy(setup) -> None:
    response = setup.client().get("/")
    assert response.status_code == 200
    assert response.data == PAGE
    policy = response.headers["Content-Security-Policy"]
    expected = sha(b'var __md_scope=new URL(".",location)')
    assert f"'sha256-{expected}'" in policy
    assert "script-src 'self' 'sha256-" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"


def test_folders_redirect_to_their_slash_and_serve_index(setup) -> None:
    client = setup.client()
    assert client.get("/units").headers["Location"] == "/units/"
    assert client.get("/units/").data == b"<p>units</p>"


def test_missing_files_get_the_site_404_and_nothing_escapes_the_site(setup) -> None:
    client = setup.client()
    response = client.get("/nothing-here/")
    assert response.status_code == 404 and response.data == b"<p>not here</p>"
    for url in ("/../secret.txt", "/..%2f..%2fsecret.txt", "/units/../../secret.txt"):
        assert b"secret" not in client.get(url).data


def test_a_swapped_build_is_served_at_once(setup) -> None:
    sites = setup.services.settings.sites_dir
    (sites / "def5678-2").mkdir()
    (sites / "def5678-2" / "index.html").write_bytes(b"<p>new</p>")
    os.symlink("def5678-2", sites / "next")
    os.replace(sites / "next", sites / "current")
    assert setup.client().get("/").data == b"<p>new</p>"


def test_before_the_first_build_the_home_page_says_so(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    response = setup.client().get("/")
    assert response.status_code == 503
    assert "网站正在生成" in response.get_data(as_text=True)
    assert setup.client().get("/assets/app.js").status_code == 404
