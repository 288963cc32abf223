"""Shared fixtures. Keep them generic: any test module may use them, any plan must work.

- `repository_root` (session): the checkout under test.
- `built_site` (session): the repository's site built once with
  `builder.build.build_site(root, site_dir, strict=True)` into a temporary folder and
  served on 127.0.0.1 (free port) by a threaded http.server; a `ServedSite` with the
  folder, the base URL and `url_of("units/x.md")`.
- `browser` (session): headless Debian Chromium through Playwright (see tests/browser.py).
  Tests that use it are marked `@pytest.mark.browser`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import page_url, serve_directory

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ServedSite:
    root: Path  # the built site folder
    url: str  # base URL, e.g. "http://127.0.0.1:41234/"

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    def url_of(self, markdown_path: str) -> str:
        """URL of a generated page given its Markdown path, e.g. "tasks/task-05.md"."""
        return page_url(self.root, self.url, markdown_path)


@pytest.fixture(scope="session")
def repository_root() -> Path:
    return REPOSITORY_ROOT


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSite]:
    from builder.build import build_site  # imported here: most tests never build a site

    site_dir = tmp_path_factory.mktemp("built-site") / "site"
    build_site(REPOSITORY_ROOT, site_dir, strict=True)
    with serve_directory(site_dir) as url:
        yield ServedSite(root=site_dir, url=url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from tests.browser import chromium

    with chromium() as launched:
        yield launched
