"""Printing the site from Chromium (page.pdf, A4): a unit page on a few pages without its
action column, the matrix with every task column, on landscape pages, in bands that each
repeat the unit names. The repository's plan and the second plan (school-safety fixture)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from builder.build import build_site
from builder.model import Content
from builder.plan import load_content
from tests.browser import serve_directory
from tests.conftest import ServedSite
from tests.test_forms_browser import plan_with_site

pytestmark = pytest.mark.browser

UNIT_PAGE_PAGES = 7  # A4 sheets the longest unit page may take (it took 11 to 15)
# A4 landscape: 297 mm less Chromium's default 1 cm margins, in CSS px (96 per inch).
LANDSCAPE_WIDTH_PX = (297 - 20) / 25.4 * 96
PAGE_BOX = re.compile(rb"/Type\s*/Page(?![s\w])")
MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]")


@pytest.fixture(scope="module")
def sites(
    built_site: ServedSite, repository_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Content, ServedSite]]]:
    root = plan_with_site(tmp_path_factory.mktemp("second-plan"))
    build_site(root, root / "site", strict=True)
    with serve_directory(root / "site") as url:
        yield {
            "demo": (load_content(repository_root), built_site),
            "second": (load_content(root), ServedSite(root=root / "site", url=url)),
        }


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()


def printed(page: Page, url: str) -> bytes:
    page.goto(url, wait_until="networkidle")
    return page.pdf(format="A4", prefer_css_page_size=True)


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of every page, from the PDF's page objects."""
    assert len(PAGE_BOX.findall(pdf)) == len(MEDIA_BOX.findall(pdf))
    return [(float(w), float(h)) for w, h in MEDIA_BOX.findall(pdf)]


def test_page_counter_counts_pages_and_their_orientation(page: Page, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><style>@page { size: A4 landscape }'
        "p { break-after: page }</style><p>一</p><p>二</p><p>三</p>",
        encoding="utf-8",
    )
    with serve_directory(tmp_path) as url:
        sizes = page_sizes(printed(page, url))
    assert len(sizes) == 3
    assert all(w > h for w, h in sizes)


@pytest.mark.parametrize("plan", ["demo", "second"])
def test_a_unit_page_prints_on_a_few_pages_without_its_action_column(
    plan: str, sites: dict[str, tuple[Content, ServedSite]], page: Page
) -> None:
    content, site = sites[plan]
    # The unit with the most reports to make: the longest page.
    unit = max(
        content.units,
        key=lambda u: sum(len(f.periods) for f in content.forms if f.applies_to.matches(u)),
    )
    url = site.url_of(f"units/{unit.id}.md")
    pdf = printed(page, url)
    sizes = page_sizes(pdf)
    print(f"{plan} unit page: {len(sizes)} A4 pages")
    assert 1 <= len(sizes) <= UNIT_PAGE_PAGES
    page.emulate_media(media="print")
    links = page.locator("a.ps-form-link")
    assert links.count() > 0, "the unit page has no form link to hide"
    assert all(not link.is_visible() for link in links.all())
    headers = page.locator('table[data-ps-table="unit-reporting"] th')
    visible = [h.inner_text().strip() for h in headers.all() if h.is_visible()]
    assert "填报" not in visible and len(visible) == headers.count() - 1


@pytest.mark.parametrize("plan", ["demo", "second"])
def test_the_matrix_prints_every_task_in_landscape_bands(
    plan: str, sites: dict[str, tuple[Content, ServedSite]], page: Page
) -> None:
    content, site = sites[plan]
    pdf = printed(page, site.url_of("matrix.md"))
    sizes = page_sizes(pdf)
    print(f"{plan} matrix: {len(sizes)} pages")
    assert any(w > h for w, h in sizes), "no landscape page"
    page.emulate_media(media="print")
    page.set_viewport_size({"width": round(LANDSCAPE_WIDTH_PX), "height": 700})
    tables = [t for t in page.locator("article table").all() if t.is_visible()]
    printed_tasks = [
        task
        for table in tables
        for task in table.locator("th[data-task]").evaluate_all("c => c.map(x => x.dataset.task)")
    ]
    assert printed_tasks == [t.id for t in content.tasks if t.indicators]
    for table in tables:
        box = table.bounding_box()
        assert box is not None and box["width"] <= LANDSCAPE_WIDTH_PX
        units = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.unit)")
        assert units == [u.id for u in content.units]
