"""The fill and check pages with a keyboard, in Chromium: after a refused submit the focus
is on the error summary (one Tab from its first link), and each error link brings its
question and its message into view with the focus in the field. On a phone and a laptop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.app_fixtures import FILL_URL, PASSWORD, make_setup
from tests.browser import serve_app

pytestmark = pytest.mark.browser

SCREENS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 900}}

# Whether an element lies wholly inside the viewport.
IN_VIEW = """el => { const r = el.getBoundingClientRect();
  return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    with serve_app(make_setup(tmp_path).app) as base:
        yield base


@pytest.fixture(params=list(SCREENS))
def page(request: pytest.FixtureRequest, browser: Browser, service: str) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport=SCREENS[request.param])
    try:
        tab = context.new_page()
        tab.goto(f"{service}/forms/login")
        tab.get_by_label("账号").fill("dongfeng")
        tab.get_by_label("密码").fill(PASSWORD)
        tab.get_by_role("button", name="登录").click()
        expect(tab.locator("h1")).to_be_visible()
        yield tab
    finally:
        context.close()


def focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.className"))


def test_a_refused_submit_puts_the_focus_on_the_error_summary(page: Page, service: str) -> None:
    page.goto(f"{service}{FILL_URL}")
    page.locator("#extinguishers_checked").fill("6000")  # above the form's maximum
    page.get_by_role("button", name="保存并继续").click()
    summary = page.locator(".error-summary")
    # The page's script moves the focus once it runs: wait for it, as a reader would.
    expect(summary).to_be_focused()
    page.keyboard.press("Tab")
    first_link = summary.locator("a").first
    assert page.evaluate("document.activeElement") is not None
    assert first_link.evaluate("a => a === document.activeElement")


def test_each_error_link_brings_its_question_and_message_into_view(
    page: Page, service: str
) -> None:
    page.goto(f"{service}{FILL_URL}")
    page.locator("#extinguishers_checked").fill("6000")
    page.locator("#hazards_found").fill("-1")  # below the minimum
    page.get_by_role("button", name="保存并继续").click()
    links = page.locator(".error-summary a")
    assert links.count() >= 3  # the two above and the required rating, down the page
    for index in range(links.count()):
        page.evaluate("window.scrollTo(0, 0)")
        link = links.nth(index)
        target = str(link.get_attribute("href")).removeprefix("#")
        link.focus()
        page.keyboard.press("Enter")
        field = page.locator(f"#{target}")
        wrapper = field.locator("xpath=ancestor::div[contains(@class, 'field')][1]")
        question = wrapper.locator("label, legend").first
        message = wrapper.locator(".error-message")
        page.wait_for_timeout(100)  # smooth scrolling, if any, to settle
        assert focused(page) == target, link.inner_text()
        assert question.evaluate(IN_VIEW), (link.inner_text(), "question out of view")
        assert message.evaluate(IN_VIEW), (link.inner_text(), "message out of view")


def test_a_missing_explanation_on_the_check_page_gets_the_same_summary(
    page: Page, service: str
) -> None:
    page.goto(f"{service}{FILL_URL}")
    page.locator("#inspected_on").fill("2025-07-05")
    page.locator("#extinguishers_checked").fill("60")
    page.locator("#hazards_found").fill("3")
    page.locator("#hazards_fixed").fill("5")  # more fixed than found: a warning
    page.locator("#responsibility_signed-0").check()
    page.locator("#rating").select_option(index=1)
    page.get_by_role("button", name="保存并继续").click()
    page.locator("#explanation").fill("   ")  # blank: passes the browser, not the server
    page.get_by_role("button", name="确认提交").click()
    expect(page.locator(".error-summary")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert focused(page) == "explanation"
    wrapper = page.locator("#explanation").locator("xpath=..")
    assert wrapper.locator("label").evaluate(IN_VIEW)
    assert wrapper.locator(".error-message").evaluate(IN_VIEW)
