"""The whole journey in Debian's Chromium: a reporter fills a form with an error, fixes
it, attaches a file and submits; a reviewer approves; the site is rebuilt by the real
builder and the unit page shows the new value. Real git, real MkDocs, real browser."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from forms.app import create_app
from forms.rebuild import SiteRebuilder
from forms.services import build_services
from forms.settings import load_settings
from tests.app_fixtures import FIXTURE, PASSWORD, make_repository

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path("/tmp/plansite-forms-screenshots")


def plan_with_site(tmp_path: Path) -> Path:
    """The school-safety plan plus this repository's site configuration, without a fixed
    as-of date so that a report submitted today counts on the rebuilt site."""
    plan = tmp_path / "plan"
    shutil.copytree(FIXTURE, plan)
    shutil.copytree(ROOT / "docs", plan / "docs")
    shutil.copytree(ROOT / "overrides", plan / "overrides")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config["site_name"] = "2025年校园安全工作计划"
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "plansite" in plugin:
            plugin["plansite"].pop("as_of", None)
    (plan / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    return plan


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, SiteRebuilder]]:
    repo = make_repository(tmp_path / "repo", plan_with_site(tmp_path))
    instance = tmp_path / "instance"
    settings = load_settings(
        {
            "ROOT": str(repo),
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "browser-test",
            "TIMEZONE": "Asia/Shanghai",
        },
        environ={},
    )
    services = build_services(settings)
    rebuilder = services.rebuilder
    assert rebuilder is not None
    rebuilder.rebuild()  # the site as it was before the submission
    assert rebuilder.current is not None, rebuilder.last_error
    app = create_app(services)
    accounts = app.extensions["plansite"].accounts
    accounts.add("dongfeng", "reporter", PASSWORD, unit="dongfeng-ps", display_name="王老师")
    accounts.add("checker", "reviewer", PASSWORD, display_name="赵审核")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", rebuilder
    finally:
        server.shutdown()
        thread.join()


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/forms/login")
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def serious_accessibility_violations(page: Page) -> list[tuple[str, list[object]]]:
    results = Axe().run(page)
    return [
        (violation["id"], [node["target"] for node in violation["nodes"]][:5])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def indicator_row(page: Page, title: str) -> str:
    return page.locator("tr", has_text=title).first.inner_text()


def test_report_review_and_rebuild_in_a_real_browser(
    served, tmp_path: Path, browser: Browser
) -> None:
    base, rebuilder = served
    violations: list[str] = []
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

        # The unit page of the served site before the report: 64 extinguishers, not 75%.
        page.goto(f"{base}/units/dongfeng-ps/")
        before = indicator_row(page, "灭火器检查覆盖率")
        assert "75%" not in before

        log_in(page, base, "dongfeng")
        expect(page.get_by_role("heading", name="东风路小学")).to_be_visible()
        page.goto(f"{base}/forms/units/dongfeng-ps/inspection/2025-T2/")
        page.get_by_label("检查日期").fill("2025-10-09")
        page.get_by_label("已检查灭火器数量").fill("6000")  # above the maximum of 5000
        page.get_by_label("本期发现隐患（处）").fill("2")
        page.get_by_label("本期整改隐患（处）").fill("2")
        page.locator("#responsibility_signed-0").check()
        page.get_by_label("自查结论").select_option("合格")
        page.get_by_role("button", name="保存并继续").click()

        summary = page.get_by_role("alert")
        expect(summary).to_contain_text("已检查灭火器数量：不能大于 5000")
        shot(page, "fill-error")
        assert serious_accessibility_violations(page) == []
        summary.get_by_role("link", name=re.compile("已检查灭火器数量")).click()
        assert page.evaluate("document.activeElement.id") == "extinguishers_checked"
        expect(page.get_by_label("本期发现隐患（处）")).to_have_value("2")  # input kept
        page.get_by_label("已检查灭火器数量").fill("48")
        evidence = tmp_path / "检查记录.pdf"
        evidence.write_bytes(b"%PDF-1.4\n% inspection log\n%%EOF\n")
        page.locator("#evidence").set_input_files(str(evidence))
        page.get_by_role("button", name="保存并继续").click()

        expect(page.get_by_role("heading", name="提交前请核对填报内容")).to_be_visible()
        expect(page.locator(".summary-list")).to_contain_text("检查记录.pdf")
        shot(page, "check")
        assert serious_accessibility_violations(page) == []
        page.get_by_role("button", name="确认提交").click()
        expect(page.locator(".reference")).to_have_text(re.compile(r"\d{14}-[0-9a-f]{8}"))
        reference = page.locator(".reference").inner_text().strip()
        shot(page, "submitted")
        page.get_by_role("button", name="退出登录").click()

        log_in(page, base, "checker")
        expect(page.get_by_role("heading", name="审核队列")).to_be_visible()
        page.get_by_role("link", name=reference).click()
        expect(page.locator("tr", has_text="已检查灭火器数量")).to_contain_text("48")
        expect(page.get_by_role("link", name="检查记录.pdf")).to_be_visible()
        shot(page, "review")
        assert serious_accessibility_violations(page) == []
        page.get_by_role("button", name="审核通过", exact=True).click()
        expect(page.get_by_role("heading", name="确认审核通过")).to_be_visible()
        page.get_by_role("button", name="确认审核通过").click()
        expect(page.get_by_role("status")).to_contain_text("已通过填报")

        assert rebuilder.wait(timeout=300), "the rebuild did not finish"
        assert rebuilder.last_error is None, rebuilder.last_error
        page.goto(f"{base}/units/dongfeng-ps/")
        assert "75%" in indicator_row(page, "灭火器检查覆盖率")  # 48 of 64
        shot(page, "rebuilt-unit")

        # A correction starts from the approved report: its values and its evidence.
        page.goto(f"{base}/forms/")
        page.get_by_role("button", name="退出登录").click()
        log_in(page, base, "dongfeng")
        page.goto(f"{base}/forms/units/dongfeng-ps/inspection/2025-T2/")
        note = page.get_by_role("note").filter(has_text="更正")
        expect(note).to_contain_text("王老师")
        expect(note).to_contain_text("已通过")
        expect(page.get_by_label("已检查灭火器数量")).to_have_value("48")
        expect(page.get_by_label("本期发现隐患（处）")).to_have_value("2")
        expect(page.locator(".file-list")).to_contain_text("检查记录.pdf")
        shot(page, "correction")
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()
    assert violations == []
