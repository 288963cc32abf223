"""The built site served at / next to the form service."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app_fixtures import make_setup

PAGE = (
    b'<!doctype html><html><head><script>var __md_scope=new URL(".",location)</script>'
    b'<script src="assets/app.js"></script>'
    b'<script id="__config" type="application/json">{"base": "."}</script>'
    b"</head><body><h1>\xe9\xa6\x96\xe9\xa1\xb5</h1></body></html>"
)


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


def policy_of(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_pages_are_served_with_a_policy_that_runs_no_inline_script(setup) -> None:
    # PAGE carries an inline script, as a page with injected markup would: it gets no pass.
    response = setup.client().get("/")
    assert response.status_code == 200
    assert response.data == PAGE
    policy = policy_of(response)
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert policy_of(setup.client().get("/nothing-here/"))["script-src"] == "'self'"  # 404.html


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
