"""Drive Debian's Chromium through Playwright, and serve a built site to it.

Playwright's own browser downloads are not used (nothing may fetch at run time); the
system Chromium at /usr/bin/chromium is driven instead. The flags keep it from talking to
anything but the page under test, so that every request it makes is the page's own.

Also a command that refreshes the README's screenshots:

    .venv/bin/python -m tests.browser docs/screenshots
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from flask import Flask

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 900}


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the length of a `with` block."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per request would drown the test output


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve `root` over HTTP on 127.0.0.1 (port chosen by the OS) until the block ends.

    Yields the base URL, ending with "/".
    """
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serve_app(app: Flask) -> Iterator[str]:
    """Serve a WSGI app (the form service) on 127.0.0.1, threaded; yields its base URL
    without a trailing slash."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="app-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def page_url(site_root: Path, base_url: str, markdown_path: str) -> str:
    """The URL of a generated page ("units/x.md"), whether or not directory URLs are on."""
    stem = markdown_path.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return base_url + stem.removesuffix("index")
    if (site_root / stem / "index.html").is_file():
        return f"{base_url}{stem}/"
    return f"{base_url}{stem}.html"


SEARCH_BOX = "input.md-search__input"
SEARCH_RESULTS = ".md-search-result__list > .md-search-result__item > a"
SEARCH_META = ".md-search-result__meta"
# Material's line above the results while the box is empty or the index still loading.
_SHOWS_NO_RESULTS_YET = (
    "meta => ['键入', '初始化'].some(t => document.querySelector(meta).textContent.includes(t))"
)


def search_results(page: Page, query: str) -> list[str]:
    """Type a query into the theme's search box as a reader does; the hrefs of the
    results, best first (each carries the matched terms as ?h=, which need not be the
    query: the theme highlights the index words it matched)."""
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box = page.locator(SEARCH_BOX)
    # Material searches on keyup; typed CJK text arrives through an input method, which
    # sends no key events, so a last key (as a reader's IME commit would) starts it.
    # First back to the empty box, so that the previous query's results are not read.
    box.fill("")
    box.press("End")
    page.wait_for_function(_SHOWS_NO_RESULTS_YET, arg=SEARCH_META)
    box.press_sequentially(query)
    box.press("End")
    page.wait_for_function(f"meta => !({_SHOWS_NO_RESULTS_YET})(meta)", arg=SEARCH_META)
    hrefs: list[str] = page.locator(SEARCH_RESULTS).evaluate_all("links => links.map(a => a.href)")
    return hrefs


def take_screenshots(
    browser: Browser, site_root: Path, base_url: str, unit_id: str, out_dir: Path
) -> list[Path]:
    """PNG screenshots of the home page and one unit page (the README shows them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = {"home.png": "index.md", "unit.png": f"units/{unit_id}.md"}
    written = []
    page = browser.new_page(viewport=SCREENSHOT_VIEWPORT, locale="zh-CN")
    try:
        for name, markdown_path in targets.items():
            page.goto(page_url(site_root, base_url, markdown_path), wait_until="networkidle")
            path = out_dir / name
            page.screenshot(path=str(path), full_page=False)
            written.append(path)
    finally:
        page.close()
    return written


def main(argv: list[str] | None = None) -> int:
    from builder.build import build_site
    from builder.plan import load_content

    parser = argparse.ArgumentParser(description="Refresh the README's screenshots.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--unit", help="unit id to show (default: the first unit)")
    args = parser.parse_args(argv)
    unit_id = args.unit or load_content(args.root).units[0].id
    with tempfile.TemporaryDirectory() as tmp:
        site_root = Path(tmp) / "site"
        build_site(args.root, site_root, strict=True)
        with serve_directory(site_root) as url, chromium() as browser:
            for path in take_screenshots(browser, site_root, url, unit_id, args.out_dir):
                print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
