"""The to-do box in Debian's Chromium: a reporter sees what the unit owes at the top of the
portal, follows the box to the form and submits; a reviewer approves; after the rebuild the
box no longer lists it, and the rebuilt site publishes the unit's calendar, linked from its
page. Real git, real MkDocs, real browser (the service of tests/test_forms_browser.py)."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from pathlib import Path

import icalendar
import pytest
from playwright.sync_api import Browser, expect

from tests.test_forms_browser import (
    log_in,
    serious_accessibility_violations,
    served,  # noqa: F401  (the fixture: the service with its rebuild worker, on a port)
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DRILL = "应急演练报表（2025年春季学期）"


def test_the_to_do_box_leads_to_the_form_and_empties_after_approval(
    served,  # noqa: F811
    tmp_path: Path,
    browser: Browser,
) -> None:
    base, rebuilder = served
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        log_in(page, base, "dongfeng")
        expect(page.get_by_role("heading", name="东风路小学")).to_be_visible()
        box = page.get_by_role("region", name="待办事项")
        # No as-of date here: as of today every period of the fixture is past due, and
        # only the spring inspection was filed.
        expect(box).to_contain_text("逾期未报 4 份")
        drill = box.get_by_role("listitem").filter(has_text=DRILL)
        expect(drill).to_contain_text("逾期未报")
        expect(drill).to_contain_text("截止日期 2025-07-20，已逾期")
        shot(page, "portal-todo")
        assert serious_accessibility_violations(page) == []

        drill.get_by_role("link", name=DRILL).click()
        expect(page).to_have_url(f"{base}/forms/units/dongfeng-ps/drill/2025-T1/")
        page.get_by_label("本学期演练次数").fill("2")
        page.get_by_label("最近一次演练参加学生人数").fill("800")
        page.get_by_role("button", name="保存并继续").click()
        expect(page.get_by_role("heading", name="提交前请核对填报内容")).to_be_visible()
        page.get_by_role("button", name="确认提交").click()
        expect(page.locator(".reference")).to_have_text(re.compile(r"\d{14}-[0-9a-f]{8}"))
        reference = page.locator(".reference").inner_text().strip()

        page.goto(f"{base}/forms/units/dongfeng-ps/")
        box = page.get_by_role("region", name="待办事项")
        expect(box).to_contain_text("审核中 1 份，逾期未报 3 份")
        expect(box.get_by_role("listitem").filter(has_text=DRILL)).to_have_count(0)
        page.get_by_role("button", name="退出登录").click()

        log_in(page, base, "checker")
        page.get_by_role("link", name=reference).click()
        page.get_by_role("button", name="审核通过", exact=True).click()
        page.get_by_role("button", name="确认审核通过").click()
        expect(page.get_by_role("status")).to_contain_text("已通过填报")
        assert rebuilder.wait(timeout=300), "the rebuild did not finish"
        assert rebuilder.last_error is None, rebuilder.last_error
        page.get_by_role("button", name="退出登录").click()

        log_in(page, base, "dongfeng")
        box = page.get_by_role("region", name="待办事项")
        expect(box).to_contain_text("已报 2 份，逾期未报 3 份")
        expect(box.get_by_role("listitem").filter(has_text=DRILL)).to_have_count(0)
        expect(box.get_by_role("listitem")).to_have_count(3)
        shot(page, "portal-todo-after-approval")

        # The rebuilt unit page links to the unit's calendar, which a parser reads.
        page.goto(f"{base}/units/dongfeng-ps/")
        link = page.get_by_role("link", name=re.compile(r"\.ics"))
        href = link.get_attribute("href")
        assert href is not None
        url = urllib.parse.urljoin(page.url, href)
        assert url == f"{base}/data/calendars/dongfeng-ps.ics"
        with urllib.request.urlopen(url) as response:
            assert response.headers["Content-Type"].startswith("text/calendar")
            feed = icalendar.Calendar.from_ical(response.read())
        summaries = {str(event["SUMMARY"]) for event in feed.walk("VEVENT")}
        assert f"报送：{DRILL}" in summaries
    finally:
        context.close()
