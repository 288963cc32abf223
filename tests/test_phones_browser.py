"""Every page type on a phone (390x844) and the wide matrix on a laptop (1366x900), in
Chromium: no page-level horizontal scroll, wide tables scroll inside themselves with their
first column kept in view, chart text at least 12 px and never cut off.

The site pages are checked for the repository's plan and for the second plan
(school-safety fixture); the form service's pages (login, portal, fill with errors, check,
review queue, review detail) on the second plan, reached as a reporter and a reviewer do.
Pages and units come from the loaded content, never named here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from builder.build import build_site
from builder.model import Content
from builder.plan import load_content
from tests.app_fixtures import FILL_URL, PASSWORD, make_setup
from tests.browser import serve_directory
from tests.conftest import ServedSite
from tests.test_forms_browser import plan_with_site

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
SMALLEST_CHART_TEXT_PX = 12

# What a reader on a phone would call broken, measured in the page itself.
LAYOUT_PROBLEMS = """min => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > innerWidth) problems.push(`page scrolls sideways: ${root.scrollWidth}px`);
  const scroller = el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') return p;
    }
    return null;
  };
  for (const table of document.querySelectorAll('main table, article table')) {
    if (!table.getClientRects().length) continue;
    const name = table.dataset.psTable || table.className;
    const box = scroller(table) || table;
    const frame = box === table ? table.parentElement : box;
    if (table.scrollWidth <= frame.clientWidth + 1) continue;
    if (box === table && getComputedStyle(table).overflowX === 'visible') {
      problems.push(`table wider than the page: ${name}`);
      continue;
    }
    // Scrolled to its end, the table must still show every row's first cell.
    const before = box.scrollLeft;
    box.scrollLeft = box.scrollWidth;
    const edge = box.getBoundingClientRect().left;
    const lost = [...table.rows].map(r => r.cells[0]).filter(Boolean)
      .filter(c => Math.abs(c.getBoundingClientRect().left - edge) > 2);
    box.scrollLeft = before;
    if (lost.length) problems.push(`wide table without a sticky first column: ${name}`);
  }
  for (const cell of document.querySelectorAll('main th, article th')) {
    const text = cell.textContent.trim();
    if (!cell.getClientRects().length || text.length < 2) continue;
    if (cell.clientWidth < 2 * parseFloat(getComputedStyle(cell).fontSize))
      problems.push(`header cell squeezed to one character a line: ${text}`);
  }
  for (const text of document.querySelectorAll('svg.ps-chart__svg text')) {
    const box = text.getBoundingClientRect();
    if (!box.width) continue;
    const size = parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
    if (size < min) problems.push(`chart text ${size.toFixed(1)}px: ${text.textContent}`);
    const svg = text.ownerSVGElement.getBoundingClientRect();
    if (box.left < svg.left - 1 || box.right > svg.right + 1)
      problems.push(`chart text cut off: ${text.textContent}`);
  }
  return problems;
}"""


def layout_problems(page: Page) -> list[str]:
    return list(page.evaluate(LAYOUT_PROBLEMS, SMALLEST_CHART_TEXT_PX))


def site_pages(content: Content) -> dict[str, str]:
    """One page of every kind the static site has, by Markdown path."""
    task = next(t for t in content.tasks if t.indicators)
    unit = max(content.units, key=lambda u: len(u.name))  # the longest name: the worst case
    return {
        "home": "index.md",
        "plan": "plan.md",
        "tasks": "tasks/index.md",
        "task": f"tasks/{task.id}.md",
        "units": "units/index.md",
        "unit": f"units/{unit.id}.md",
        "matrix": "matrix.md",
        "data": "data.md",
    }


@pytest.fixture(scope="module")
def second_plan_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Content, Path]]:
    root = plan_with_site(tmp_path_factory.mktemp("second-plan"))
    site = root / "site"
    build_site(root, site, strict=True)
    yield load_content(root), site


@pytest.fixture(scope="module")
def sites(
    built_site: ServedSite, repository_root: Path, second_plan_site: tuple[Content, Path]
) -> Iterator[dict[str, tuple[Content, ServedSite]]]:
    second_content, second_root = second_plan_site
    with serve_directory(second_root) as url:
        yield {
            "demo": (load_content(repository_root), built_site),
            "second": (second_content, ServedSite(root=second_root, url=url)),
        }


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport=PHONE, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("plan", ["demo", "second"])
@pytest.mark.parametrize(
    "kind", ["home", "plan", "tasks", "task", "units", "unit", "matrix", "data"]
)
def test_every_site_page_fits_a_phone(plan: str, kind: str, sites: Any, phone: Page) -> None:
    content, site = sites[plan]
    response = phone.goto(site.url_of(site_pages(content)[kind]), wait_until="networkidle")
    assert response is not None and response.ok
    # The theme wraps each table in its scrolling frame from script, after the load: the
    # tables without a class (its own selector; the matrix's print-only bands have one).
    phone.wait_for_function(
        "[...document.querySelectorAll('article table:not([class])')]"
        ".every(t => t.closest('.md-typeset__scrollwrap'))"
    )
    assert layout_problems(phone) == []


def test_the_detector_sees_a_page_that_scrolls_sideways_and_small_chart_text(
    phone: Page, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(
        '<!doctype html><html lang="zh"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width"><title>t</title><main>'
        '<p style="width: 900px">宽</p><div style="overflow-x:auto"><table class="inside"><tr>'
        + "<td>x</td>"
        * 200
        + '</tr></table></div><svg class="ps-chart__svg" viewBox="0 0 1200 40" width="100%">'
        '<text x="0" y="20" font-size="13">小字</text><text x="1150" y="20">被截断的标签</text>'
        "</svg></main>",
        encoding="utf-8",
    )
    with serve_directory(tmp_path) as url:
        phone.goto(url)
        problems = layout_problems(phone)
    assert any(p.startswith("page scrolls sideways") for p in problems), problems
    assert "wide table without a sticky first column: inside" in problems
    assert any(p.startswith("chart text") and "小字" in p for p in problems), problems
    assert "chart text cut off: 被截断的标签" in problems


def test_the_matrix_shows_its_last_column_on_a_laptop(browser: Browser, sites: Any) -> None:
    for content, site in sites.values():
        context = browser.new_context(locale="zh-CN", viewport=LAPTOP)
        try:
            page = context.new_page()
            page.goto(site.url_of("matrix.md"), wait_until="networkidle")
            page.wait_for_selector(".md-typeset__scrollwrap table")
            last = page.locator('table[data-ps-table="matrix"] thead th[data-task]').last
            box = last.bounding_box()
            frame = page.locator("article").bounding_box()
            assert box is not None and frame is not None
            assert box["x"] + box["width"] <= frame["x"] + frame["width"], content.plan.title
        finally:
            context.close()


# --- the form service on a phone ---------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path, second_plan_site: tuple[Content, Path]) -> Iterator[str]:
    """The form service on the second plan, serving that plan's built site at /."""
    setup = make_setup(tmp_path)
    sites_dir = setup.services.settings.sites_dir
    sites_dir.mkdir(parents=True, exist_ok=True)
    (sites_dir / "current").symlink_to(second_plan_site[1], target_is_directory=True)
    server = make_server("127.0.0.1", 0, setup.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/forms/login")
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_every_form_service_page_fits_a_phone(service: str, phone: Page) -> None:
    problems: dict[str, list[str]] = {}

    def check(name: str) -> None:
        phone.wait_for_load_state("networkidle")
        problems[name] = layout_problems(phone)

    phone.goto(f"{service}/forms/login")
    check("login")
    log_in(phone, service, "dongfeng")
    expect(phone.locator("h1")).to_be_visible()
    check("portal")
    phone.goto(f"{service}{FILL_URL}")
    check("fill")
    phone.locator("#extinguishers_checked").fill("6000")  # above the form's maximum
    phone.get_by_role("button", name="保存并继续").click()
    expect(phone.get_by_role("alert")).to_be_visible()
    check("fill with errors")
    phone.locator("#inspected_on").fill("2025-07-05")
    phone.locator("#extinguishers_checked").fill("60")
    phone.locator("#hazards_found").fill("3")
    phone.locator("#hazards_fixed").fill("2")
    phone.locator("#responsibility_signed-0").check()
    phone.locator("#rating").select_option(index=1)
    phone.get_by_role("button", name="保存并继续").click()
    expect(phone.get_by_role("button", name="确认提交")).to_be_visible()
    check("check")
    phone.get_by_role("button", name="确认提交").click()
    expect(phone.locator(".reference")).to_be_visible()
    reference = phone.locator(".reference").inner_text().strip()
    check("submitted")
    phone.get_by_role("button", name="退出登录").click()
    log_in(phone, service, "checker")
    expect(phone.get_by_role("heading", name="审核队列")).to_be_visible()
    check("review queue")
    phone.get_by_role("link", name=reference).click()
    expect(phone.get_by_role("button", name="审核通过")).to_be_visible()
    check("review detail")
    assert problems == {name: [] for name in problems}
