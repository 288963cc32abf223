"""Cross-site scripting, end to end: a corpus of attacks typed into every free-text field
(report notes, the reviewer's reason) and into evidence file names goes through the real
form service, is approved (or returned), the site is rebuilt by the real builder, and the
pages are loaded in Debian's Chromium. Nothing runs, no Content-Security-Policy violation
happens, and the attacks are shown as the text that was typed.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from forms.app import create_app
from forms.services import build_services
from forms.settings import load_settings
from tests.app_fixtures import INSPECTION_OK, PASSWORD, decide, make_repository, post
from tests.browser import page_url, serve_directory
from tests.test_forms_browser import log_in, plan_with_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Each attack calls window.__xss(n) or alert(n) if it ever runs. Single spaces only: the
# site shows text on one line with runs of blanks collapsed.
CORPUS = [
    "<script>window.__xss(1)</script>",
    "<img src=x onerror=window.__xss(2)>",
    "<svg onload=window.__xss(3)>",
    "[点我](javascript:window.__xss(4))",
    '![图](x" onerror="window.__xss(5))',
    '<a href="javascript:alert(6)">链接</a>',
    "</title><script>alert(7)</script>",
    "{{7*7}} ${7*7} {% raw %}",
    "=cmd|' /C calc'!A0",
    "<iframe src=javascript:alert(10)>",
    '"><b onmouseover=alert(11)>粗</b>',
    "<details open ontoggle=window.__xss(12)>",
    "javascript:alert(13)",
    "<style>body{display:none}</style>",
    "*强调* _斜_ # 标题 | 表格 | `code`",
    "<!-- --><script>alert(16)</script>",
]
SLOTS = [
    ("inspection", "2025-T1"),
    ("inspection", "2025-SUMMER"),
    ("inspection", "2025-T2"),
    ("drill", "2025-T1"),
    ("drill", "2025-T2"),
]
DRILL_OK = {"drills_held": "2", "participants": "300", "lab_drill": "true"}
PDF = b"%PDF-1.4\n% evidence\n%%EOF\n"
UNIT = "dongfeng-ps"

# Installed before any page script: the attacks' target, and a record of CSP violations.
HOOKS = """
window.__xssCalls = [];
window.__xss = (n) => window.__xssCalls.push(n);
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
# Elements and attributes that only an injection would put on these pages.
DANGEROUS = (
    "[onerror],[onload],[onmouseover],[ontoggle],[onclick],[onfocus],"
    "a[href^='javascript:'],iframe,object,embed,body style, main style"
)


def notes_for(slot: int) -> str:
    return " ".join(CORPUS[slot :: len(SLOTS)])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("xss")
    repo = make_repository(tmp / "repo", plan_with_site(tmp))
    instance = tmp / "instance"
    settings = load_settings(
        {
            "ROOT": str(repo),
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "xss-test",
            "TIMEZONE": "Asia/Shanghai",
        },
        environ={},
    )
    store = build_services(settings)
    rebuilder = store.rebuilder
    assert rebuilder is not None
    app = create_app(store)
    accounts = app.extensions["plansite"].accounts
    accounts.add("dongfeng", "reporter", PASSWORD, unit=UNIT, display_name="王老师")
    accounts.add("checker", "reviewer", PASSWORD, display_name="赵审核")

    reporter, reviewer = app.test_client(), app.test_client()
    for client, name in ((reporter, "dongfeng"), (reviewer, "checker")):
        assert post(client, "/forms/login", {"name": name, "password": PASSWORD}).status_code == 302
    approved = []
    for number, (form, period) in enumerate(SLOTS):
        url = f"/forms/units/{UNIT}/{form}/{period}/"
        values = INSPECTION_OK if form == "inspection" else DRILL_OK
        # Werkzeug's test client cannot put a double quote in a multipart file name.
        files = [(io.BytesIO(PDF), CORPUS[number].replace('"', "'") + ".pdf")]
        response = post(
            reporter,
            url,
            {**values, "notes": notes_for(number), "action": "continue", "evidence": files},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
        sid = post(reporter, url + "check").headers["Location"].rsplit("/", 1)[1]
        assert decide(reviewer, sid, "approve").status_code == 302
        approved.append(sid)
    # A correction of the last slot, returned with the whole corpus as the reason.
    url = f"/forms/units/{UNIT}/inspection/2025-T2/"
    post(reporter, url, {**INSPECTION_OK, "notes": CORPUS[0], "action": "continue"})
    returned = post(reporter, url + "check").headers["Location"].rsplit("/", 1)[1]
    reason = " ".join(CORPUS)[:500]
    assert decide(reviewer, returned, "reject", {"reason": reason}).status_code == 302

    assert rebuilder.wait(timeout=300), "the rebuild did not finish"
    assert rebuilder.last_error is None, rebuilder.last_error
    assert rebuilder.current is not None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "base": f"http://127.0.0.1:{server.server_port}",
            "site": rebuilder.current,
            "content": store.content,
            "approved": approved,
            "returned": returned,
            "reason": reason,
        }
    finally:
        server.shutdown()
        thread.join()


class Watch:
    """A browser page with the hooks installed and every dialog recorded (and dismissed)."""

    def __init__(self, page: Page):
        self.page = page
        self.dialogs: list[str] = []
        page.add_init_script(HOOKS)
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def visit(self, url: str) -> dict[str, Any]:
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        self.page.wait_for_timeout(300)  # let onload/ontoggle handlers fire if any got in
        # Open every <details> too: an injected ontoggle would fire now.
        self.page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        self.page.wait_for_timeout(100)
        return self.page.evaluate(
            """(dangerous) => ({
                calls: window.__xssCalls, csp: window.__csp,
                dangerous: [...document.querySelectorAll(dangerous)].map(e => e.outerHTML),
                title: document.title,
                text: document.body.textContent,
            })""",
            DANGEROUS,
        )


def assert_inert(watch: Watch, url: str, shown: list[str]) -> int:
    seen = watch.visit(url)
    assert seen["calls"] == [], (url, seen["calls"])
    assert watch.dialogs == [], (url, watch.dialogs)
    assert seen["csp"] == [], (url, seen["csp"])
    assert seen["dangerous"] == [], (url, seen["dangerous"][:5])
    assert "</title>" not in seen["title"]
    missing = [text for text in shown if text not in seen["text"]]
    assert not missing, (url, missing)
    return len(shown)


def test_the_corpus_never_runs_on_the_site_the_review_page_or_the_portal(
    served: Any, browser: Browser
) -> None:
    base, site, content = served["base"], served["site"], served["content"]
    site_pages = [page_url(site, base + "/", f"units/{UNIT}.md")]
    site_pages += [page_url(site, base + "/", f"tasks/{task.id}.md") for task in content.tasks]
    site_pages.append(base + "/")
    checked_texts = 0
    context = browser.new_context(locale="zh-CN")
    try:
        watch = Watch(context.new_page())
        for url in site_pages:
            # The unit page shows every approved note as the text that was typed.
            shown = CORPUS if "/units/" in url else []
            checked_texts += assert_inert(watch, url, shown)

        log_in(watch.page, base, "checker")
        for number, sid in enumerate(served["approved"]):
            shown = CORPUS[number :: len(SLOTS)]
            checked_texts += assert_inert(watch, f"{base}/forms/review/{sid}", shown)
        checked_texts += assert_inert(
            watch, f"{base}/forms/review/{served['returned']}", [served["reason"]]
        )
        assert_inert(watch, f"{base}/forms/review/", [])
        watch.page.get_by_role("button", name="退出登录").click()

        log_in(watch.page, base, "dongfeng")
        checked_texts += assert_inert(watch, f"{base}/forms/units/{UNIT}/", [served["reason"]])
        for number, sid in enumerate(served["approved"]):
            shown = CORPUS[number :: len(SLOTS)]
            checked_texts += assert_inert(watch, f"{base}/forms/submissions/{sid}", shown)
        for form, period in SLOTS[:1]:
            assert_inert(watch, f"{base}/forms/units/{UNIT}/{form}/{period}/", [])
    finally:
        context.close()
    pages = len(site_pages) + len(served["approved"]) * 2 + 4
    print(
        f"\nXSS: {len(CORPUS)} attacks, {pages} pages in Chromium, "
        f"{checked_texts} texts shown as typed"
    )


def test_the_watch_catches_a_script_that_does_run(tmp_path: Path, browser: Browser) -> None:
    # The detector itself can fail: an unescaped page trips every one of its checks.
    (tmp_path / "evil.html").write_text(
        "<!doctype html><title>x</title><body><img src=x onerror=window.__xss(1)>"
        "<script>alert(2)</script><a href='javascript:alert(3)'>x</a></body>",
        encoding="utf-8",
    )
    with serve_directory(tmp_path) as url:
        context = browser.new_context()
        try:
            watch = Watch(context.new_page())
            seen = watch.visit(url + "evil.html")
        finally:
            context.close()
    assert seen["calls"] == [1]
    assert watch.dialogs == ["2"]
    assert len(seen["dangerous"]) == 2
