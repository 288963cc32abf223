"""The site's search in a real browser: each query of a plan's `content/search-checks.yml`
is typed into Material's search box and the first result read, on the repository's plan
and on the second plan (school-safety fixture). At least 90% of the queries must bring
their page first. The queries and their pages are the plan's data, never named here.

    .venv/bin/python -m tests.test_search_browser ROOT SITE  # each query of ROOT on SITE
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from playwright.sync_api import Browser, Page

from tests.browser import chromium, page_url, search_results, serve_directory
from tests.conftest import ServedSite
from tests.test_forms_browser import plan_with_site

pytestmark = pytest.mark.browser

CHECKS_FILE = "content/search-checks.yml"
REQUIRED_HIT_RATE = 0.9


@dataclass(frozen=True)
class SearchCheck:
    query: str
    first: str  # the Markdown path of the page that must come first


@dataclass(frozen=True)
class SearchOutcome:
    check: SearchCheck
    wanted: str  # the URL path of the check's page
    found: str | None  # the URL path of the first result; None when nothing was found

    @property
    def hit(self) -> bool:
        return self.found == self.wanted


def read_checks(root: Path) -> list[SearchCheck]:
    entries = yaml.safe_load((root / CHECKS_FILE).read_text(encoding="utf-8"))
    return [SearchCheck(str(entry["query"]), str(entry["first"])) for entry in entries]


def first_result(page: Page, query: str) -> str | None:
    """The first result's href for the query typed as a reader does."""
    hrefs = search_results(page, query)
    return hrefs[0] if hrefs else None


def run_checks(browser: Browser, site_root: Path, checks: list[SearchCheck]) -> list[SearchOutcome]:
    outcomes = []
    with serve_directory(site_root) as base_url:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            page.goto(base_url, wait_until="networkidle")
            for check in checks:
                href = first_result(page, check.query)
                wanted = url_path(page_url(site_root, base_url, check.first))
                found = None if href is None else url_path(urljoin(page.url, href))
                outcomes.append(SearchOutcome(check, wanted, found))
        finally:
            context.close()
    return outcomes


def url_path(href: str) -> str:
    """The page a link leads to, without the highlight query and the anchor."""
    return urlsplit(href).path


def report(outcomes: list[SearchOutcome]) -> str:
    hits = sum(o.hit for o in outcomes)
    lines = [
        f"{'✔' if o.hit else '✘'} {o.check.query} -> {o.found} (want {o.check.first})"
        for o in outcomes
    ]
    lines.append(f"{hits}/{len(outcomes)} first-place hits ({hits / len(outcomes):.0%})")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def second_plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    from builder.build import build_site

    root = plan_with_site(tmp_path_factory.mktemp("search-second-plan"))
    site_dir = root.parent / "site"
    build_site(root, site_dir, strict=True)
    yield root, site_dir


def assert_search_finds(outcomes: list[SearchOutcome]) -> None:
    hits = sum(o.hit for o in outcomes)
    assert outcomes, "the plan has no search checks"
    assert hits / len(outcomes) >= REQUIRED_HIT_RATE, report(outcomes)


def test_every_check_names_a_page_of_the_site(
    built_site: ServedSite, repository_root: Path, second_plan: tuple[Path, Path]
) -> None:
    for root, site_root in ((repository_root, built_site.root), second_plan):
        for check in read_checks(root):
            stem = check.first.removesuffix(".md")
            pages = (site_root / stem / "index.html", site_root / f"{stem}.html")
            assert any(p.is_file() for p in pages), (root, check)


def test_the_demo_plans_searches_find_their_page_first(
    browser: Browser, built_site: ServedSite, repository_root: Path
) -> None:
    assert_search_finds(run_checks(browser, built_site.root, read_checks(repository_root)))


def test_the_second_plans_searches_find_their_page_first(
    browser: Browser, second_plan: tuple[Path, Path]
) -> None:
    root, site_root = second_plan
    assert_search_finds(run_checks(browser, site_root, read_checks(root)))


def main(argv: list[str]) -> int:
    """Print each check's outcome for the plan at ROOT (default: here) built into SITE."""
    root = Path(argv[0]) if argv else Path.cwd()
    site_root = Path(argv[1]) if len(argv) > 1 else root / "site"
    with chromium() as browser:
        print(report(run_checks(browser, site_root, read_checks(root))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
