"""The built site in a real browser (Debian Chromium through Playwright).

The site is the repository's own plan, built once per session (`built_site` in conftest)
and served from 127.0.0.1. What is checked holds for any plan: pages and units are taken
from the loaded content, never named here.
"""

from __future__ import annotations

import posixpath
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from builder.model import Content, Status
from builder.plan import load_content
from builder.progress import applies
from tests.app_fixtures import make_setup
from tests.browser import search_results, serve_directory, take_screenshots
from tests.conftest import ServedSite

pytestmark = pytest.mark.browser

STATUS_LABELS = {s.label for s in Status}
# Origins a page may load from besides its own; data:/blob: URLs never leave the browser.
LOCAL_SCHEMES = ("data:", "blob:", "about:")


@pytest.fixture(scope="module")
def content(repository_root: Path) -> Content:
    return load_content(repository_root)


@dataclass
class Visit:
    """One browser tab on the site, recording every request and every console error."""

    page: Page
    site: ServedSite
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, markdown_path: str) -> Page:
        response = self.page.goto(self.site.url_of(markdown_path), wait_until="networkidle")
        assert response is not None and response.ok, (markdown_path, response)
        return self.page

    @property
    def foreign_requests(self) -> list[str]:
        own = self.site.origin + "/"
        return [u for u in self.requests if not u.startswith((own, *LOCAL_SCHEMES))]


@contextmanager
def recording_tab(browser: Browser, site: ServedSite) -> Iterator[Visit]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    tab = Visit(page=page, site=site)
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on(
        "response",
        lambda r: tab.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
    )
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def visit(browser: Browser, built_site: ServedSite) -> Iterator[Visit]:
    with recording_tab(browser, built_site) as tab:
        yield tab


def test_the_recorder_sees_foreign_requests_and_console_errors(browser, tmp_path):
    (tmp_path / "index.html").write_text(
        '<!doctype html><html lang="zh"><title>t</title><h1>t</h1>'
        '<img src="http://127.0.0.2:9/font.woff2" alt="">'
        '<script>throw new Error("boom")</script>',
        encoding="utf-8",
    )
    with (
        serve_directory(tmp_path) as url,
        recording_tab(browser, ServedSite(root=tmp_path, url=url)) as tab,
    ):
        tab.open("index.md")
    assert tab.foreign_requests == ["http://127.0.0.2:9/font.woff2"]
    assert any("boom" in error for error in tab.errors)


def heading_text(page: Page) -> str:
    """The page's h1 without the permalink mark the toc extension appends."""
    return page.locator("h1").first.evaluate(
        "h => { const c = h.cloneNode(true); c.querySelectorAll('.headerlink')"
        ".forEach(a => a.remove()); return c.textContent.trim(); }"
    )


def representative_pages(content: Content) -> dict[str, str]:
    """One page of every kind the site has, by Markdown path."""
    task = next(t for t in content.tasks if t.indicators)
    return {
        "home": "index.md",
        "plan": "plan.md",
        "tasks": "tasks/index.md",
        "task": f"tasks/{task.id}.md",
        "units": "units/index.md",
        "unit": f"units/{content.units[0].id}.md",
        "matrix": "matrix.md",
        "reporting": "reporting.md",
        "data": "data.md",
    }


PAGE_KINDS = ["home", "plan", "tasks", "task", "units", "unit", "matrix", "reporting", "data"]


# --- every page type: own origin only, no console errors, accessible -------------------


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_page_loads_only_from_its_own_origin_without_console_errors(kind, visit, content):
    page = visit.open(representative_pages(content)[kind])
    assert page.locator("h1").count() >= 1
    assert visit.requests, "the recorder saw no request at all"
    assert visit.foreign_requests == []
    assert visit.errors == []


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_page_has_no_serious_or_critical_accessibility_violations(kind, visit, content):
    page = visit.open(representative_pages(content)[kind])
    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


# --- what each page shows ------------------------------------------------------------


def test_home_shows_overall_progress_and_an_inline_svg_chart(visit):
    page = visit.open("index.md")
    share = page.locator('[data-ps="plan-share"]').inner_text()
    assert re.fullmatch(r"\d+(\.\d+)?%|—", share.strip()), share
    charts = page.locator('article svg[role="img"]')
    assert charts.count() >= 1
    # Inline, with an accessible name: the chart is part of the page, not a fetched image.
    assert charts.first.locator(":scope > title").count() == 1
    assert not any(u.endswith(".svg") for u in visit.requests)


def test_plan_page_links_every_task(visit, content):
    page = visit.open("plan.md")
    hrefs = page.locator("article a[href]").evaluate_all("links => links.map(a => a.href)")
    linked = {m.group(1) for h in hrefs if (m := re.search(r"/tasks/([^/]+?)(?:/|\.html)$", h))}
    assert linked == {t.id for t in content.tasks}


def test_task_pages_list_every_applicable_unit_with_a_status(visit, content):
    for task in (t for t in content.tasks if t.indicators):
        expected = [
            u.id
            for u in content.units
            if task.applies_to.matches(u)
            and any(applies(content, task, i, u) for i in task.indicators)
        ]
        page = visit.open(f"tasks/{task.id}.md")
        rows = page.locator('table[data-ps-table="task-units"] tbody tr')
        listed = rows.evaluate_all("rows => rows.map(r => r.dataset.unit)")
        assert listed == expected, task.id
        badges = rows.evaluate_all(
            "rows => rows.map(r => Array.from(r.querySelectorAll('[data-status]'))"
            ".map(b => b.textContent.trim()))"
        )
        for unit_id, texts in zip(listed, badges, strict=True):
            # one badge per indicator plus the unit's roll-up, each a status in words
            assert len(texts) == len(task.indicators) + 1, (task.id, unit_id)
            assert set(texts) <= STATUS_LABELS, (task.id, unit_id, texts)


def test_unit_page_lists_indicators_report_history_and_form_links(visit, content):
    unit = content.units[0]
    page = visit.open(f"units/{unit.id}.md")
    assert heading_text(page) == unit.name
    expected_indicators = [
        i.id for t in content.tasks for i in t.indicators if applies(content, t, i, unit)
    ]
    indicators = page.locator('table[data-ps-table="unit-indicators"] tbody tr')
    assert (
        indicators.evaluate_all("rows => rows.map(r => r.dataset.indicator)") == expected_indicators
    )
    history = page.locator('table[data-ps-table="unit-reporting"] tbody tr')
    expected_history = {
        (f.id, p) for f in content.forms if f.applies_to.matches(unit) for p in f.periods
    }
    assert set(
        history.evaluate_all("rows => rows.map(r => r.dataset.form + ' ' + r.dataset.period)")
    ) == {f"{f} {p}" for f, p in expected_history}
    links = page.locator("a.ps-form-link").evaluate_all("links => links.map(a => a.href)")
    assert links, "no link to the form service"
    assert all(f"units/{unit.id}/" in href for href in links)


def test_a_status_on_a_unit_page_opens_on_why_without_script(visit, content):
    page = visit.open(f"units/{content.units[0].id}.md")
    cell = page.locator('table[data-ps-table="unit-indicators"] details.ps-why').first
    reason = cell.locator("p").first
    assert not reason.is_visible()
    cell.locator("summary").click()
    assert reason.is_visible()
    assert reason.text_content().split("：", 1)[0] in STATUS_LABELS
    assert cell.locator("p").nth(1).text_content().startswith("计算：")


def test_matrix_has_a_cell_per_unit_and_task(visit, content):
    page = visit.open("matrix.md")
    tasks = [t.id for t in content.tasks if t.indicators]
    header = page.locator('table[data-ps-table="matrix"] thead th[data-task]')
    assert header.evaluate_all("cells => cells.map(c => c.dataset.task)") == tasks
    rows = page.locator('table[data-ps-table="matrix"] tbody tr')
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.unit)") == [
        u.id for u in content.units
    ]
    cells = rows.evaluate_all(
        "rows => rows.map(r => Array.from(r.querySelectorAll('td[data-task]'))"
        ".map(c => [c.dataset.task, c.dataset.status, c.textContent.trim()]))"
    )
    statuses = {s.value for s in Status}
    for row in cells:
        assert [task for task, _, _ in row] == tasks
        assert all(status in statuses and text for _, status, text in row)


def test_data_page_links_every_export(visit, content):
    page = visit.open("data.md")
    hrefs = page.locator('[data-ps="downloads"] a').evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    names = {posixpath.basename(h) for h in hrefs}
    assert names == {
        "progress.xlsx",
        "progress-excel.csv",
        "progress.csv",
        "datapackage.json",
        "reporting-status.csv",
        "owing.csv",
        "plan.ics",
        *(f"reports-{f.id}.csv" for f in content.forms),
        *(f"reports-{f.id}-excel.csv" for f in content.forms),
    }


def test_the_status_page_filters_its_rows_by_unit_type_and_state(visit, content):
    page = visit.open("reporting.md")
    rows = page.locator('table[data-ps-table="reporting-status"] tbody tr')
    total = rows.count()
    visible = "rows => rows.filter(r => !r.hidden).map(r => [r.dataset.unitType, r.dataset.states])"
    assert len(rows.evaluate_all(visible)) == total  # every row until a filter is chosen

    page.select_option('[data-ps-filter="state"]', "missing")
    shown = rows.evaluate_all(visible)
    assert 0 < len(shown) < total
    assert all("missing" in states.split() for _, states in shown)

    unit_type = content.units[0].type
    page.select_option('[data-ps-filter="unit-type"]', unit_type)
    both = rows.evaluate_all(visible)
    assert 0 < len(both) <= len(shown)
    assert all(kind == unit_type and "missing" in states.split() for kind, states in both)
    owing = page.locator('table[data-ps-table="owing"] tbody tr')
    assert all(
        kind == unit_type
        for kind in owing.evaluate_all(
            "rows => rows.filter(r => !r.hidden).map(r => r.dataset.unitType)"
        )
    )

    page.select_option('[data-ps-filter="state"]', "")
    page.select_option('[data-ps-filter="unit-type"]', "")
    assert len(rows.evaluate_all(visible)) == total
    assert visit.errors == []


def test_a_unit_page_starts_with_its_to_do_and_it_leads_to_the_form(visit, content):
    page = visit.open("reporting.md")
    first = page.locator('table[data-ps-table="owing"] tbody tr').first
    unit_id = first.get_attribute("data-unit")
    first.locator("a[data-unit]").click()
    page.wait_for_selector('[data-ps="to-do"]')
    box = page.locator('[data-ps="to-do"]')
    assert box.locator('li[data-obligation="missing"]').count() >= 1
    above = page.evaluate(
        "() => document.querySelector('[data-ps=\"to-do\"]').getBoundingClientRect().top"
        " < document.querySelector('#ps-indicators').getBoundingClientRect().top"
    )
    assert above
    href = box.locator("a.ps-form-link").first.get_attribute("href")
    assert href and f"/units/{unit_id}/" in href
    assert visit.errors == []


def column_sort_keys(page: Page, table: str, column: int) -> list[float]:
    return page.locator(f'table[data-ps-table="{table}"] tbody tr').evaluate_all(
        f"rows => rows.map(r => parseFloat(r.cells[{column}].dataset.sort"
        f" ?? r.cells[{column}].textContent))"
    )


def test_tables_sort_when_a_header_is_clicked(visit):
    page = visit.open("units/index.md")
    header = page.locator('table[data-ps-table="units"] thead th').nth(2)  # share met
    before = column_sort_keys(page, "units", 2)
    assert len(set(before)) > 1, "nothing to sort: every unit has the same share"

    header.click()
    first = column_sort_keys(page, "units", 2)
    direction = header.get_attribute("aria-sort")
    assert direction in ("ascending", "descending")
    assert first == sorted(before, reverse=direction == "descending")

    header.click()
    second = column_sort_keys(page, "units", 2)
    assert header.get_attribute("aria-sort") != direction
    assert second == sorted(before, reverse=direction != "descending")
    assert visit.errors == []


def test_chinese_search_for_a_unit_name_finds_its_page(visit, content):
    page = visit.open("index.md")
    units = [content.units[0], content.units[len(content.units) // 2], content.units[-1]]
    for unit in units:
        hrefs = search_results(page, unit.name)
        assert any(f"units/{unit.id}" in href for href in hrefs[:3]), (unit.name, hrefs[:5])
    assert visit.foreign_requests == []
    assert visit.errors == []


# --- links and screenshots -----------------------------------------------------------


FORMS_URL = "/forms/"  # mkdocs.yml `forms_url` of the repository's plan


class _LinkCollector(HTMLParser):
    LINK_ATTRIBUTES: ClassVar[dict[str, str]] = {
        "a": "href",
        "link": "href",
        "script": "src",
        "img": "src",
        "source": "src",
        "iframe": "src",
    }

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("id", "name"):
            if values.get(name):
                self.anchors.add(values[name] or "")
        # The form service is a separate application; its links leave the static site: its
        # form links, and the portal (去填报) under the repository's `forms_url`.
        if "ps-form-link" in (values.get("class") or "").split():
            return
        attribute = self.LINK_ATTRIBUTES.get(tag)
        if attribute and (values.get(attribute) or "").startswith(FORMS_URL):
            return
        if attribute and values.get(attribute):
            self.links.append(values[attribute] or "")


def _parse(path: Path) -> _LinkCollector:
    collector = _LinkCollector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def broken_links(site_root: Path) -> list[str]:
    pages = {p.relative_to(site_root).as_posix(): _parse(p) for p in site_root.rglob("*.html")}
    broken = []
    for page_path, collected in pages.items():
        for link in collected.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue  # leaves the site: not a link this check can follow
            if parts.path:
                base = "" if parts.path.startswith("/") else posixpath.dirname(page_path)
                target = posixpath.normpath(posixpath.join(base, unquote(parts.path))).lstrip("/")
                if target == ".":
                    target = ""
                if parts.path.endswith("/") or (site_root / target).is_dir():
                    target = posixpath.join(target, "index.html") if target else "index.html"
            else:
                target = page_path
            if target.startswith("..") or not (site_root / target).is_file():
                broken.append(f"{page_path}: {link}")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target in pages and fragment not in pages[target].anchors:
                broken.append(f"{page_path}: {link} (no #{fragment})")
    return broken


def test_no_built_page_has_a_broken_internal_link(built_site):
    pages = list(built_site.root.rglob("*.html"))
    assert len(pages) > 5
    assert broken_links(built_site.root) == []


def test_broken_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="a/">ok</a><a href="a/#top">ok</a><a href="missing/">x</a>'
        '<a href="a/#nowhere">y</a><a class="ps-form-link" href="/forms/x/">form</a>',
        encoding="utf-8",
    )
    (tmp_path / "a" / "index.html").write_text(
        '<h1 id="top">A</h1><a href="../">up</a>', encoding="utf-8"
    )
    assert broken_links(tmp_path) == [
        "index.html: missing/",
        "index.html: a/#nowhere (no #nowhere)",
    ]


def test_screenshots_of_home_and_a_unit_page(browser, built_site, content, tmp_path):
    written = take_screenshots(
        browser, built_site.root, built_site.url, content.units[0].id, tmp_path
    )
    assert [p.name for p in written] == ["home.png", "unit.png"]
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(data[16:20], "big")
        assert width == 1280


# --- the site under the service's policy: no inline script -----------------------------

# Installed before any page script: every Content-Security-Policy violation of the page.
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
    e.violatedDirective + ' ' + (e.blockedURI || e.sourceFile + ':' + e.lineNumber)));
"""
# What the browser executes: a <script> without a type, or with a JavaScript one.
EXECUTABLE_TYPES = {"", "text/javascript", "application/javascript", "module"}


class _InlineScripts(HTMLParser):
    """The executable <script> elements of a page that carry their code inline."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._inline: bool = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            attributes = dict(attrs)
            kind = (attributes.get("type") or "").strip().lower()
            self._inline = "src" not in attributes and kind in EXECUTABLE_TYPES
        elif self._inline:
            self._inline = False

    def handle_data(self, data: str) -> None:
        if self._inline:
            self.found.append(data.strip()[:80])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inline = False


def inline_scripts(html: str) -> list[str]:
    parser = _InlineScripts()
    parser.feed(html)
    return parser.found


def test_inline_script_finder_sees_material_s_scripts_and_not_its_data_block() -> None:
    page = (
        '<head><script>__md_scope=new URL(".",location)</script>'
        '<script src="a.js"></script><script type="module">go()</script></head>'
        '<body><script id="__config" type="application/json">{"base": "."}</script></body>'
    )
    assert inline_scripts(page) == ['__md_scope=new URL(".",location)', "go()"]


def test_no_built_page_has_an_inline_script_that_executes(built_site):
    pages = sorted(built_site.root.rglob("*.html"))
    found = {
        str(path.relative_to(built_site.root)): scripts
        for path in pages
        if (scripts := inline_scripts(path.read_text(encoding="utf-8")))
    }
    assert len(pages) > 10
    assert found == {}, list(found.items())[:3]


@pytest.fixture(scope="module")
def behind_the_service(
    built_site: ServedSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedSite]:
    """The same built site served by the form service (forms/site.py) with its policy."""
    setup = make_setup(tmp_path_factory.mktemp("service"))
    sites = setup.services.settings.sites_dir
    sites.mkdir(parents=True, exist_ok=True)
    (sites / "current").symlink_to(built_site.root, target_is_directory=True)
    server = make_server("127.0.0.1", 0, setup.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ServedSite(root=built_site.root, url=f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
        thread.join()


def test_the_site_works_under_a_policy_without_inline_script(
    browser: Browser, behind_the_service: ServedSite, content: Content
) -> None:
    site = behind_the_service
    violations: list[str] = []
    with recording_tab(browser, site) as tab:
        page = tab.page
        page.add_init_script(CSP_WATCH)

        def seen() -> None:
            violations.extend(page.evaluate("window.__csp"))

        response = page.goto(site.url_of("index.md"), wait_until="networkidle")
        assert response is not None and response.ok
        directives = dict(
            part.strip().split(" ", 1)
            for part in response.headers["content-security-policy"].split(";")
        )
        assert directives["script-src"] == "'self'"
        # Material's storage helpers ran from their file and scoped themselves to the site.
        assert page.evaluate("__md_scope.href") == site.url

        # The palette: switched to dark, and still dark on the next page load (palette.js).
        def scheme() -> str:
            return str(page.evaluate("document.body.getAttribute('data-md-color-scheme')"))

        assert scheme() == "default"
        page.locator("form[data-md-component=palette] label:not([hidden])").first.click()
        assert scheme() == "slate"
        seen()
        page.reload(wait_until="networkidle")
        assert scheme() == "slate"

        # Search, in its worker.
        unit = content.units[0]
        assert any(f"units/{unit.id}" in href for href in search_results(page, unit.name)[:3])

        # Navigation, from page to page (instant loading needs a site_url: it is off).
        page.keyboard.press("Escape")
        seen()
        page.locator("article a[href$='units/']").first.click()
        page.wait_for_url("**/units/")
        page.locator(f"article a[href$='{unit.id}/']").first.click()
        page.wait_for_url(f"**/units/{unit.id}/")
        page.wait_for_load_state("networkidle")
        assert unit.name in page.locator("article h1").inner_text()
        seen()

    assert violations == []
    assert tab.errors == []
    assert tab.foreign_requests == []
