"""Review in Debian's Chromium: a correction read as what changed and what it will do,
approved with a comment through its confirmation page; a superseded submission that
cannot be approved; twenty submissions approved in one batch and published by one
rebuild of the real builder. Real git, real MkDocs, real browser, no JavaScript needed."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from forms.app import create_app
from forms.services import Services, build_services
from forms.settings import load_settings
from tests.app_fixtures import PASSWORD, make_repository, submitted
from tests.test_forms_browser import log_in, plan_with_site, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

T1 = "/forms/units/dongfeng-ps/inspection/2025-T1/"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Services]]:
    """The service on a free port with its rebuild worker (the real builder), the site
    built once before the test; counted as of today."""
    repo = make_repository(tmp_path / "repo", plan_with_site(tmp_path))
    settings = load_settings(
        {
            "ROOT": str(repo),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "review-browser-test",
            "TIMEZONE": "Asia/Shanghai",
        },
        environ={},
    )
    store = build_services(settings)
    assert store.rebuilder is not None
    store.rebuilder.rebuild()
    assert store.rebuilder.current is not None, store.rebuilder.last_error
    store.accounts.add("dongfeng", "reporter", PASSWORD, unit="dongfeng-ps", display_name="王老师")
    store.accounts.add("checker", "reviewer", PASSWORD, display_name="赵审核")
    server = make_server("127.0.0.1", 0, create_app(store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", store
    finally:
        server.shutdown()
        thread.join()


def test_a_correction_is_reviewed_as_what_changed_and_approved_with_a_comment(
    served, browser: Browser
) -> None:
    base, _store = served
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, base, "dongfeng")
        # The slot's approved report (64 extinguishers checked) is corrected to 10.
        page.goto(f"{base}{T1}")
        expect(page.get_by_label("已检查灭火器数量")).to_have_value("64")
        page.get_by_label("已检查灭火器数量").fill("10")
        page.get_by_role("button", name="保存并继续").click()
        page.get_by_label("更正原因").fill("灭火器数量按实际检查数更正")
        page.get_by_role("button", name="确认提交").click()
        sid = page.locator(".reference").inner_text().strip()
        page.get_by_role("button", name="退出登录").click()

        log_in(page, base, "checker")
        page.get_by_role("link", name=sid).click()
        contents = page.locator("table.changes")
        expect(page.locator("h2", has_text="填报内容")).to_contain_text("更正")
        row = contents.locator("tr", has_text="已检查灭火器数量")
        expect(row).to_have_class("changed")
        expect(row.locator("td")).to_have_text(["10", "64"])
        expect(page.locator(".correction-reason").first).to_have_text("灭火器数量按实际检查数更正")
        impact = page.locator("table.impact tr", has_text="灭火器检查覆盖率")
        expect(impact).to_contain_text("100%，已完成")
        expect(impact).to_contain_text("15.6%，已逾期")
        shot(page, "review-correction")
        page.get_by_label("审核意见").fill("已电话核实检查记录")
        page.get_by_role("button", name="审核通过", exact=True).click()
        expect(page.get_by_role("heading", name="确认审核通过")).to_be_visible()
        expect(page.locator(".confirm-list")).to_contain_text(sid)
        expect(page.locator(".summary-list")).to_contain_text("已电话核实检查记录")
        page.get_by_role("button", name="确认审核通过").click()
        expect(page.get_by_role("status")).to_contain_text(f"已通过填报 {sid}")

        page.goto(f"{base}/forms/submissions/{sid}")
        expect(page.locator(".summary-list")).to_contain_text("审核意见")
        expect(page.locator(".summary-list")).to_contain_text("已电话核实检查记录")
    finally:
        context.close()


def test_a_superseded_submission_cannot_be_approved(served, browser: Browser) -> None:
    base, store = served
    older = submitted(store, "hongqi-ps", "drill", "2025-T2", 1)
    newer = submitted(store, "hongqi-ps", "drill", "2025-T2", 2)
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, base, "checker")
        expect(page.locator(f'input[name="ids"][value="{older}"]')).to_have_count(0)
        expect(page.locator(f'input[name="ids"][value="{newer}"]')).to_have_count(1)
        page.goto(f"{base}/forms/review/{older}")
        expect(page.locator(".summary-list")).to_contain_text("已被更正取代")
        expect(page.get_by_role("button", name="审核通过", exact=True)).to_have_count(0)
        page.get_by_role("link", name=f"查看最新填报 {newer}").click()
        expect(page.get_by_role("button", name="审核通过", exact=True)).to_be_visible()
    finally:
        context.close()
    assert store.submissions.get(older).state == "superseded"


def test_twenty_approved_in_one_batch_are_published_by_one_rebuild(
    served, browser: Browser
) -> None:
    base, store = served
    rebuilder = store.rebuilder
    assert rebuilder is not None
    content = store.content
    slots = [
        (unit.id, form.id, period)
        for form in content.forms
        for period in form.periods
        for unit in content.units
        if form.applies_to.matches(unit) and (unit.id, period) != ("dongfeng-ps", "2025-T1")
    ][:20]
    ids = [submitted(store, *slot, n) for n, slot in enumerate(slots)]
    builds_before = rebuilder.completed
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, base, "checker")
        for sid in ids:
            page.get_by_label(f"选择填报 {sid}").check()
        page.get_by_label("审核意见").fill("批量核实")
        page.get_by_role("button", name="批量审核通过所选填报").click()
        expect(page.get_by_role("heading", name="确认批量审核通过（20 份）")).to_be_visible()
        expect(page.locator(".confirm-list tbody tr")).to_have_count(20)
        shot(page, "review-batch-confirm")
        page.get_by_role("button", name="确认批量审核通过（20 份）").click()
        expect(page.get_by_role("status")).to_contain_text("已通过 20 份填报")
    finally:
        context.close()

    assert rebuilder.wait(timeout=600), "the rebuild did not finish"
    assert rebuilder.last_error is None, rebuilder.last_error
    assert rebuilder.completed - builds_before == 1
    published = set()
    current = rebuilder.current
    assert current is not None
    for form in content.forms:
        with (current / "data" / f"reports-{form.id}.csv").open(encoding="utf-8") as file:
            published |= {row["submission-id"] for row in csv.DictReader(file)}
    assert set(ids) <= published
    assert all(store.submissions.get(sid).state == "approved" for sid in ids)
    print(f"\n20 batch approvals: {rebuilder.completed - builds_before} rebuild")
