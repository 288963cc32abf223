"""The generated pages: what each page shows, how pages link, and that nothing typed by a
user or a plan editor can inject markup. Pure: hand-made content, no MkDocs."""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
import markdown
import pytest
from markupsafe import escape

from builder.model import (
    AppliesTo,
    Category,
    ChecklistItem,
    Content,
    Evidence,
    FieldRef,
    FormField,
    Indicator,
    Operand,
    Period,
    PlanSection,
    Report,
    Status,
    Target,
    Task,
    Unit,
    UnitType,
)
from builder.pages import (
    GeneratedPage,
    SiteOptions,
    form_link,
    nav,
    page_url,
    relative_url,
    render_pages,
)
from builder.pages.matrix import print_bands
from builder.plan import load_content
from builder.progress import evaluate, rollup
from builder.reports import load_reports
from builder.templating import environment
from tests.factories import make_form, make_plan, make_report
from tests.fixtures import SCHOOL_SAFETY

CST = timezone(timedelta(hours=8))
AS_OF = date(2022, 10, 20)
HOSTILE_NAME = '<script>alert("x")</script>[点我](javascript:alert(1)) *粗* | 管道'
HOSTILE_NOTE = "<img src=x onerror=alert(2)> [链接](javascript:alert(3))"


def _content(*, demo: bool = True, unit_name: str = "市甲局") -> Content:
    plan = make_plan(
        id="safety-2025",
        title="2025年校园安全工作计划",
        short_title="校园安全计划",
        year=2025,
        issuer="某区教育局",
        preamble="为做好校园安全工作，制定本计划。",
        sections=(
            PlanSection(
                "甲、总的要求",
                sections=(
                    PlanSection("子一：工作思路", "以预防为主。"),
                    PlanSection("子二：工作原则", "——**安全第一。**把安全放在首位。"),
                ),
            ),
            PlanSection("乙、重点任务", tasks="main", anchor="ps-tasks"),
            PlanSection("丙、保障措施", tasks="guarantees", anchor="ps-guarantees"),
        ),
        unit_types=(UnitType("school", "学校"), UnitType("office", "机关")),
        categories=(
            Category("drills", "一", "应急演练", "定期开展演练。"),
            Category("facilities", "二", "设施检查"),
        ),
        guarantees_title="保障措施",
        demo=demo,
    )
    quarterly = make_form(
        "quarterly",
        (
            FormField("drills", "integer", "演练次数"),
            FormField("checked", "integer", "已检查设施数"),
            FormField("plan_filed", "boolean", "已报送方案"),
            FormField("notes", "string", "备注"),
        ),
        ("2022-Q1", "2022-Q2", "2022-Q3", "2022-Q4"),
        title="季度进展表",
        description="每季度报送",
    )
    periods = tuple(
        Period(
            f"2022-Q{q}",
            f"2022年第{q}季度",
            date(2022, 3 * q - 2, 1),
            date(2022, 3 * q, 28),
            date(2022, 3 * q, 28) + timedelta(days=10),
        )
        for q in range(1, 5)
    )
    drills = Indicator(
        id="drill-count",
        task_id="t-drills",
        title="开展演练",
        rule="sum",
        due=date(2022, 12, 31),
        field=FieldRef("quarterly", "drills"),
        target=Target(minimum=4),
        measure="次",
    )
    checked = Indicator(
        id="facility-ratio",
        task_id="t-check",
        title="设施检查率",
        rule="ratio",
        due=date(2022, 6, 30),
        numerator=Operand(field=FieldRef("quarterly", "checked"), combine="sum"),
        denominator=Operand(unit_attribute="facilities"),
        target=Target(minimum=1.0),
    )
    filed = Indicator(
        id="plan-filed",
        task_id="g-plan",
        title="报送实施方案",
        rule="yes_no",
        due=date(2022, 3, 31),
        field=FieldRef("quarterly", "plan_filed"),
        target=Target(equals=True),
    )
    tasks = (
        Task(
            id="t-drills",
            number=1,
            title="开展应急演练",
            body="每季度**至少**一次演练。",
            category="drills",
            forms=("quarterly",),
            indicators=(drills,),
            checklist=(
                ChecklistItem("制定演练脚本"),
                ChecklistItem("报送方案", FieldRef("quarterly", "plan_filed")),
            ),
        ),
        Task(
            id="t-check",
            number=2,
            title="检查校园设施",
            body="全面检查设施。",
            category="facilities",
            applies_to=AppliesTo(unit_types=("school",)),
            forms=("quarterly",),
            indicators=(checked,),
        ),
        Task(
            id="g-plan",
            number=1,
            title="制定实施方案",
            body="各单位制定方案。",
            kind="guarantee",
            forms=("quarterly",),
            indicators=(filed,),
        ),
    )
    units = (
        Unit("a", unit_name, "school", attributes={"facilities": 10}),
        Unit("b", "市乙局", "office", attributes={"facilities": 0}),
        Unit("c", "市丙中学", "school", attributes={"facilities": 4}),
    )
    return Content(plan=plan, tasks=tasks, units=units, periods=periods, forms=(quarterly,))


def _report(
    unit: str,
    period: str,
    day: date,
    values: dict,
    rid: str = "",
    evidence: tuple[Evidence, ...] = (),
) -> Report:
    at = datetime(day.year, day.month, day.day, 9, 30, tzinfo=CST)
    return make_report(
        unit,
        period,
        values,
        at,
        form="quarterly",
        rid=rid or f"{at:%Y%m%d%H%M%S}-{unit:0>8}",
        submitted_by={"account": unit, "name": "张三"},
        evidence=evidence,
    )


def _reports(note: str = "一切正常") -> list[Report]:
    return [
        _report(
            "a",
            "2022-Q1",
            date(2022, 4, 2),
            {"drills": 2, "checked": 10, "plan_filed": True, "notes": note},
            evidence=(Evidence("1-x.pdf", "演练照片.pdf", "application/pdf", 2048, "0" * 64),),
        ),
        _report("a", "2022-Q2", date(2022, 7, 20), {"drills": 1, "checked": 0}),  # late
        _report("c", "2022-Q1", date(2022, 4, 5), {"drills": 0, "checked": 1}),
    ]


def _render(
    content: Content | None = None, reports: list[Report] | None = None, **options: object
) -> dict[str, GeneratedPage]:
    content = content or _content()
    reports = _reports() if reports is None else reports
    progress = evaluate(content, reports, AS_OF)
    pages = render_pages(content, reports, progress, SiteOptions(**options))  # type: ignore[arg-type]
    return {p.path: p for p in pages}


def _html(page: GeneratedPage) -> str:
    """The page as MkDocs renders its body (same extensions as mkdocs.yml)."""
    return markdown.markdown(
        page.markdown, extensions=["tables", "attr_list", "md_in_html", "admonition", "toc"]
    )


# --------------------------------------------------------------------------- page set


def test_every_page_is_generated_once() -> None:
    pages = _render()
    assert sorted(pages) == sorted(
        [
            "index.md",
            "plan.md",
            "tasks/index.md",
            "tasks/t-drills.md",
            "tasks/t-check.md",
            "tasks/g-plan.md",
            "units/index.md",
            "units/a.md",
            "units/b.md",
            "units/c.md",
            "matrix.md",
            "reporting.md",
            "data.md",
        ]
    )


def test_unit_pages_are_built_but_not_in_the_navigation() -> None:
    pages = _render()
    assert [
        p.in_nav
        for p in pages.values()
        if p.path.startswith("units/") and p.path != "units/index.md"
    ] == [False, False, False]
    listed = str(nav(list(pages.values())))
    assert "units/index.md" in listed
    assert "units/a.md" not in listed
    assert "tasks/t-drills.md" in listed


def test_navigation_groups_tasks_under_one_entry_in_plan_order() -> None:
    entries = nav(list(_render().values()))
    titles = [next(iter(e)) for e in entries]
    assert titles == ["首页", "方案全文", "任务", "单位总览", "进度矩阵", "报送情况", "数据下载"]
    tasks = entries[2]["任务"]
    assert [next(iter(t.values())) for t in tasks] == [
        "tasks/index.md",
        "tasks/t-drills.md",
        "tasks/t-check.md",
        "tasks/g-plan.md",
    ]


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("source", "target", "directory_urls", "expected"),
    [
        ("index.md", "units/a.md", True, "units/a/"),
        ("units/a.md", "tasks/t-1.md", True, "../../tasks/t-1/"),
        ("units/a.md", "index.md", True, "../../"),
        ("units/index.md", "units/a.md", True, "a/"),
        ("tasks/t-1.md", "tasks/index.md", True, "../"),
        ("data.md", "data/progress.xlsx", True, "progress.xlsx"),
        ("units/a.md", "tasks/t-1.md", False, "../tasks/t-1.html"),
        ("index.md", "units/index.md", False, "units/index.html"),
        ("data.md", "data/progress.xlsx", False, "data/progress.xlsx"),
        ("matrix.md", "matrix.md", True, "./"),
    ],
)
def test_relative_links_follow_mkdocs_urls(
    source: str, target: str, directory_urls: bool, expected: str
) -> None:
    assert relative_url(source, target, directory_urls) == expected


def _hrefs(page: GeneratedPage) -> list[str]:
    return re.findall(r'href="([^"]+)"', _html(page))


@pytest.mark.parametrize("directory_urls", [True, False])
def test_every_internal_link_points_at_a_generated_page(directory_urls: bool) -> None:
    pages = _render(directory_urls=directory_urls)
    urls = {_url(p, directory_urls) for p in pages}
    import posixpath

    for page in pages.values():
        here = _url(page.path, directory_urls)
        base = here if here == "" or here.endswith("/") else posixpath.dirname(here)
        for href in _hrefs(page):
            if href.startswith(("/forms/", "#")) or "data/" in posixpath.join(base, href):
                continue
            if href.endswith(".md") or ".md#" in href:  # Markdown link: MkDocs resolves it
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(page.path), href.split("#")[0])
                )
                assert target in pages, (page.path, href)
                continue
            resolved = posixpath.normpath(posixpath.join(base, href.split("#")[0]))
            resolved = "" if resolved == "." else resolved
            if directory_urls and resolved:
                resolved += "/"
            assert resolved in urls, (page.path, href, resolved)


def _url(path: str, directory_urls: bool) -> str:
    from builder.pages import page_url

    return page_url(path, directory_urls)


def test_pages_link_units_tasks_and_forms() -> None:
    pages = _render()
    assert 'href="units/c/"' in _html(pages["index.md"])  # c is overdue on the ratio
    assert _hrefs(pages["units/index.md"])[-3:] == ["a/", "b/", "c/"]
    task = _html(pages["tasks/t-drills.md"])
    assert 'href="../../units/a/"' in task and 'href="../../units/c/"' in task
    unit = _html(pages["units/a.md"])
    assert 'href="../../tasks/t-drills/"' in unit
    assert 'href="/forms/units/a/quarterly/2022-Q3/"' in unit
    custom = _html(_render(forms_url="https://forms.example.org/p/")["units/a.md"])
    assert 'href="https://forms.example.org/p/units/a/quarterly/2022-Q1/"' in custom


def test_data_page_links_every_download() -> None:
    html = _html(_render()["data.md"])
    for name in ("progress.xlsx", "progress.csv", "reports-quarterly.csv", "datapackage.json"):
        assert f'href="{name}"' in html


def test_data_page_speaks_plainly_and_keeps_machine_terms_for_technical_readers() -> None:
    html = _html(_render()["data.md"])
    for_people, technical = html.split('<h2 id="ps-data-technical"')
    for name in ("progress.xlsx", "progress-excel.csv", "reports-quarterly-excel.csv"):
        assert f'href="{name}"' in for_people
    assert "Excel" in for_people and "乱码" in for_people
    for term in ("Frictionless", "frictionless", "datapackage", "数据包", "ISO"):
        assert term not in for_people, term
    assert technical.startswith(">给技术人员<")
    for name in ("progress.csv", "reports-quarterly.csv", "datapackage.json"):
        assert f'href="{name}"' in technical and f'href="{name}"' not in for_people


# --------------------------------------------------------------------------- contents


def test_home_shows_overall_share_charts_overdue_and_next_due() -> None:
    content = _content()
    progress = evaluate(content, _reports(), AS_OF)
    plan = progress.plan_rollup()
    html = _html(_render()["index.md"])
    assert f"{plan.share * 100:.0f}%" in html
    assert html.count('class="ps-chart"') == 3 and "<title" in html
    # each chart drawn twice (beside or above its labels), one shown per screen width
    assert html.count('role="img"') == 6
    overdue = progress.overdue()
    assert overdue, "the fixture has an overdue ratio (due 2022-06-30)"
    assert f'data-ps="overdue-count">{len(overdue)}<' in html
    for result in overdue:
        assert f'data-unit="{result.unit}" data-indicator="{result.indicator}"' in html
    assert 'data-ps="next-due">2022-10-08<' not in html  # Q3 due date has passed
    assert 'data-ps="next-due">2023-01-07<' in html  # Q4: 2022-12-28 + 10 days


def test_demo_banner_only_for_a_demo_plan_and_then_on_every_page() -> None:
    assert all("演示数据" in p.markdown for p in _render().values())
    assert not any("ps-demo-banner" in p.markdown for p in _render(_content(demo=False)).values())


def test_demo_banner_is_rendered_once_a_build_not_once_a_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = environment()
    loaded: list[str] = []
    get_template = env.get_template

    def counting(name: str, *args: Any, **kwargs: Any) -> jinja2.Template:
        loaded.append(name)
        return get_template(name, *args, **kwargs)

    monkeypatch.setattr(env, "get_template", counting)
    pages = _render()
    assert len(pages) > 5
    assert loaded.count("_banner.md") == 1


def test_plan_page_keeps_the_plan_structure_and_links_each_task() -> None:
    html = _html(_render()["plan.md"])
    order = [
        "为做好校园安全工作",
        "甲、总的要求",
        "子一：工作思路",
        "子二：工作原则",
        "安全第一",
        "乙、重点任务",
        "（一）应急演练",
        "开展应急演练",
        "（二）设施检查",
        "检查校园设施",
        "丙、保障措施",
        "制定实施方案",
    ]
    positions = [html.index(text) for text in order]
    assert positions == sorted(positions)
    assert "<strong>至少</strong>" in html  # task text is the plan's Markdown
    assert 'href="../tasks/t-drills/"' in html or 'href="tasks/t-drills.md"' in html


def test_pages_name_units_and_keep_their_codes_out_of_sight() -> None:
    pages = _render()
    content = _content()
    for path, page in pages.items():
        text = re.sub(r"<[^>]*>", " ", _html(page))  # what a reader sees, not attributes
        text = re.sub(r"\S+\.md\b", " ", text)  # link targets of Markdown links
        for unit in content.units:
            assert not re.search(rf"(?<![\w-]){re.escape(unit.id)}(?![\w-])", text), (path, unit.id)
    assert "单位代码" not in pages["units/a.md"].markdown


def test_the_second_plans_page_shows_its_own_headings_as_written() -> None:
    content = load_content(SCHOOL_SAFETY)
    reports = load_reports(SCHOOL_SAFETY, content)
    html = _html(_render(content, reports)["plan.md"])
    headings = re.findall(r"<h[23][^>]*>(.*?)</h[23]>", html)
    assert headings == [
        "第一部分：工作目标",
        "第二部分：重点工作",
        "（一）校舍与设施安全",
        "（二）应急演练与安全教育",
        "第三部分：工作要求",
        "预防为主",
        "全员参与",
        "第四部分：保障措施",
    ]
    assert "全年校园安全责任事故为零" in html


SEED_HEADINGS = ("总体要求", "指导思想", "基本原则", "主要任务")


def test_no_template_or_module_of_the_builder_knows_the_seed_plans_headings() -> None:
    builder = Path(__file__).resolve().parents[1] / "builder"
    found = [
        f"{path.relative_to(builder)}: {heading}"
        for path in builder.rglob("*")
        if path.suffix in {".py", ".md", ".html"}
        for heading in SEED_HEADINGS
        if heading in path.read_text(encoding="utf-8")
    ]
    assert found == []


def test_task_page_lists_every_applicable_unit_with_value_and_status_text() -> None:
    pages = _render()
    html = _html(pages["tasks/t-check.md"])
    # t-check applies to schools only: a and c, not the office b
    assert 'data-unit="a"' in html and 'data-unit="c"' in html and 'data-unit="b"' not in html
    assert "≥ 100%" in html and "2022-06-30" in html
    # unit a checked 10 of 10 -> met; c 1 of 4 after the due date -> overdue
    assert re.search(
        r'data-indicator="facility-ratio"[^>]*><span class="ps-value">100%</span> '
        r'<span class="ps-status ps-status--met" data-status="met">已完成</span>',
        html,
    )
    assert re.search(
        r'<span class="ps-value">25%</span> <span class="ps-status '
        r'ps-status--overdue" data-status="overdue">已逾期</span>',
        html,
    )
    drills = _html(pages["tasks/t-drills.md"])
    assert "制定演练脚本" in drills and "季度进展表" in drills


def test_unit_page_shows_indicators_history_and_report_contents() -> None:
    html = _html(_render()["units/a.md"])
    assert "开展演练" in html and "3 次" in html and "≥ 4 次" in html
    states = dict(re.findall(r'data-period="([^"]+)" data-reporting="(\w+)"', html))
    assert states == {
        "2022-Q1": "reported",
        "2022-Q2": "late",
        "2022-Q3": "missing",
        "2022-Q4": "open",
    }
    obligations = dict(
        re.findall(r'data-period="([^"]+)" data-reporting="\w+" data-obligation="(\w+)"', html)
    )
    assert obligations == {
        "2022-Q1": "on_time",
        "2022-Q2": "late",
        "2022-Q3": "missing",
        "2022-Q4": "not_due",
    }
    assert "逾期报送" in html and "逾期未报" in html and "未到期" in html
    assert "演练照片.pdf（2 KB）" in html and "2022-04-02 09:30" in html and "张三" in html
    assert "一切正常" in html  # the report's free text, under its field title
    assert "已落实" in html  # checklist item ticked by plan_filed = true


def test_unit_page_shows_the_unit_s_type_and_the_flags_it_has() -> None:
    content = _content()
    flagged = replace(content.units[0], flags={"boarding": True, "rural": False, "lab": True})
    content = replace(content, units=(flagged, *content.units[1:]))
    labels = {"boarding": "是否寄宿制学校", "rural": "是否农村学校"}  # lab: no label
    html = _html(_render(content, flag_labels=labels)["units/a.md"])
    assert "<dt>单位类型</dt><dd>学校</dd>" in html
    facts = re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", html)
    assert facts[facts.index(("单位类型", "学校")) + 1 :][:3] == [
        ("是否寄宿制学校", "是"),
        ("是否农村学校", "否"),
        ("lab", "是"),
    ]
    plain = _html(_render()["units/b.md"])  # a unit without flags shows none
    assert "<dt>单位类型</dt><dd>机关</dd>" in plain and "<dd>是</dd>" not in plain


def _row(html: str, attribute: str) -> str:
    match = re.search(rf"<tr[^>]*{attribute}[^>]*>.*?</tr>", html, re.S)
    assert match, attribute
    return match.group(0)


# Unit a as of 2022-10-20: 3 drills of at least 4 by 12-31 (80% of the year gone,
# 3.21 expected), 10 of its 10 facilities checked, its plan filed.
DRILLS_BASIS = (
    "计算：各期“演练次数”之和；类型：累计完成；目标：≥ 4 次，截止 2022-12-31；"
    "截至 2022-10-20 按时间进度应达到目标的 80%（3.21 次）"
)


def test_each_status_on_the_unit_page_says_why_in_a_details_row() -> None:
    html = _html(_render()["units/a.md"])
    drills = _row(html, 'data-indicator="drill-count"')
    assert '<details class="ps-why">' in drills
    assert "当前值 3 次，低于按时间进度应达到的 3.21 次" in drills and DRILLS_BASIS in drills
    facility = _row(html, 'data-indicator="facility-ratio"')
    assert "当前值 100%，已达到目标 ≥ 100%" in facility
    assert "计算：各期“已检查设施数”之和 ÷ 单位名录“facilities”；类型：累计完成" in facility
    filed = _row(html, 'data-indicator="plan-filed"')
    assert "当前值 是，已达到目标 是" in filed and "计算：最近一期的“已报送方案”（是/否）" in filed


def test_each_status_on_a_task_page_says_why_on_hover() -> None:
    html = _html(_render()["tasks/t-check.md"])
    cell = re.search(r'<td data-indicator="facility-ratio"[^>]*>', _row(html, 'data-unit="c"'))
    assert (
        cell and 'title="已逾期：截止日期 2022-06-30 已过，当前值 25% 未达到目标 ≥ 100%' in cell[0]
    )
    drills = _html(_render()["tasks/t-drills.md"])
    assert DRILLS_BASIS in drills  # the indicators table: how each is worked out, once


def test_the_task_overview_says_its_status_is_the_worst_and_shows_the_spread() -> None:
    html = _html(_render()["tasks/index.md"])
    assert "状态为该任务全部适用的“单位 × 指标”中最差的一个" in html
    check = _row(html, 'data-task="t-check"')
    assert "已逾期 1 · 已完成 1" in check  # c at 25% after 06-30, a at 100%


def test_unit_page_leaves_out_what_does_not_apply() -> None:
    html = _html(_render()["units/b.md"])  # an office: no facility check
    assert "设施检查率" not in html
    assert "开展演练" in html


def test_zero_denominator_counts_as_not_applicable_not_as_failure() -> None:
    # unit b is an office: t-check does not apply; give a school 0 facilities instead
    content = _content()
    units = (
        content.units[0],
        content.units[1],
        Unit("c", "市丙中学", "school", attributes={"facilities": 0}),
    )
    content = Content(content.plan, content.tasks, units, content.periods, content.forms)
    html = _html(_render(content)["matrix.md"])
    cell = re.search(
        r'<td class="ps-cell ps-cell--(\w+)" data-task="t-check" '
        r'data-status="\w+" data-sort="\d"><abbr title="([^"]*)">([^<]*)</abbr>',
        html.split('data-unit="c"')[-1],
    )
    assert cell and cell.group(1) == "not_applicable" and cell.group(3) == "—"


def test_matrix_has_a_cell_per_unit_and_task_with_text() -> None:
    html = _html(_render()["matrix.md"])
    screen, _, bands = html.partition('data-ps-table="matrix-band"')
    cells = re.findall(r'<td class="ps-cell ps-cell--(\w+)" data-task="([\w-]+)"', screen)
    assert len(cells) == 3 * 3
    # The print bands (shown only on paper) hold each cell once more.
    printed = re.findall(r'<td class="ps-cell ps-cell--(\w+)" data-task="([\w-]+)"', bands)
    assert sorted(printed) == sorted(cells)
    texts = re.findall(r'<abbr title="([^"]+)">([^<]+)</abbr></td>', html)
    assert all(text for _, text in texts)
    assert {title.split("（")[0] for title, _ in texts} <= {s.label for s in Status}


def test_statuses_are_text_not_colour_alone() -> None:
    for page in _render().values():
        for status, text in re.findall(
            r'class="ps-status ps-status--(\w+)" data-status="\w+">([^<]*)<', page.markdown
        ):
            assert text == Status(status).label


def test_units_index_has_every_unit_with_share_and_counts() -> None:
    html = _html(_render()["units/index.md"])
    assert len(re.findall(r'<tr data-unit="', html)) == 3
    assert "学校" in html and "机关" in html


# --------------------------------------------------------------------------- escaping


def _hostile_pages() -> dict[str, GeneratedPage]:
    return _render(_content(unit_name=HOSTILE_NAME), _reports(note=HOSTILE_NOTE))


@pytest.mark.parametrize(
    "path", ["units/a.md", "units/index.md", "matrix.md", "tasks/t-drills.md", "index.md"]
)
def test_hostile_unit_names_render_as_text(path: str) -> None:
    page = _hostile_pages()[path]
    html = _html(page)
    assert "<script" not in html
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # only in text, never an attribute
    assert 'href="javascript' not in html
    if path in ("units/a.md", "units/index.md", "matrix.md", "tasks/t-drills.md"):
        assert "&lt;script&gt;" in html
        assert "点我" in html


def test_hostile_report_notes_render_as_text() -> None:
    html = _html(_hostile_pages()["units/a.md"])
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "[链接](javascript:alert(3))" in html  # literal text, not a link
    assert 'href="javascript' not in html


def test_hostile_unit_name_in_the_heading_is_literal_markdown() -> None:
    html = _html(_hostile_pages()["units/a.md"])
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert heading is not None
    assert "<a " not in heading.group(1) and "<em>" not in heading.group(1)
    assert "[点我](javascript:alert(1)) *粗* | 管道" in heading.group(1)


# --------------------------------------------------------------------------- after the as-of date


def _section(html: str, anchor: str) -> str:
    """The part of a page's HTML from the heading with this id to the next h2."""
    start = html.find(f'id="{anchor}"')
    if start < 0:
        return ""
    end = html.find("<h2", start)
    return html[start : end if end >= 0 else len(html)]


def _received_after_rows(html: str) -> list[list[str]]:
    section = _section(html, "ps-reports-after")
    return [
        re.findall(r"<td>(.*?)</td>", row)
        for row in re.findall(r"<tr data-report=.*?</tr>", section)
    ]


def test_unit_page_lists_reports_received_after_the_as_of_date_without_counting_them() -> None:
    counted = _render()["units/a.md"]
    late_q3 = _report(
        "a", "2022-Q3", AS_OF + timedelta(days=3), {"drills": 9, "checked": 10, "plan_filed": True}
    )
    late_q4 = _report("a", "2022-Q4", AS_OF + timedelta(days=1), {"drills": 9})
    with_late = _render(reports=[*_reports(), late_q3, late_q4])

    html = _html(with_late["units/a.md"])
    assert _received_after_rows(html) == [
        ["季度进展表", "2022年第4季度", "2022-10-21 09:30", "张三"],
        ["季度进展表", "2022年第3季度", "2022-10-23 09:30", "张三"],
    ]
    section = _section(html, "ps-reports-after")
    assert "统计日期后收到的填报" in section
    assert "未计入上方的指标进度和报送情况（统计截至 2022-10-20）" in section
    # Everything else on the page, and every other page, is what it was without them.
    page = with_late["units/a.md"].markdown
    start, end = page.find("## 统计日期后收到的填报"), page.find("## 报送内容")
    assert 0 < start < end and page[:start] + page[end:] == counted.markdown
    states = dict(re.findall(r'data-period="([^"]+)" data-reporting="(\w+)"', html))
    assert states["2022-Q3"] == "missing" and states["2022-Q4"] == "open"
    assert "3 次" in html  # the drills counted: Q1 and Q2 only
    others = _render()
    for path, page in with_late.items():
        if path != "units/a.md":
            assert page.markdown == others[path].markdown, path


def test_submission_times_are_shown_in_the_plans_zone_whatever_zone_they_carry() -> None:
    # The same 02:30 UTC instant, submitted from a server in UTC and from one in Beijing.
    in_utc = make_report(
        "a", "2022-Q2", {"drills": 1}, datetime(2022, 7, 5, 2, 30, tzinfo=UTC), form="quarterly"
    )
    in_beijing = make_report(
        "c", "2022-Q2", {"drills": 1}, datetime(2022, 7, 5, 10, 30, tzinfo=CST), form="quarterly"
    )
    late = make_report(
        "a", "2022-Q4", {"drills": 1}, datetime(2022, 10, 22, 23, 5, tzinfo=UTC), form="quarterly"
    )
    pages = _render(reports=[in_utc, in_beijing, late])
    for path in ("units/a.md", "units/c.md"):
        html = _html(pages[path])
        assert "2022-07-05 10:30" in html, path
        assert not re.search(r"UTC[+-]|[+-]\d\d:\d\d|\d{2}:\d{2}:\d{2}", html), path
    assert ["季度进展表", "2022年第4季度", "2022-10-23 07:05", "a"] in _received_after_rows(
        _html(pages["units/a.md"])
    )
    zoned = replace(_content(), plan=replace(_content().plan, timezone="Europe/Berlin"))
    html = _html(_render(zoned, reports=[in_utc, in_beijing])["units/c.md"])
    assert "2022-07-05 04:30" in html  # summer time in Berlin: UTC+2


def test_unit_page_without_reports_after_the_as_of_date_has_no_such_section() -> None:
    late = _report("a", "2022-Q3", AS_OF + timedelta(days=3), {"drills": 1})
    pages = _render(reports=[*_reports(), late])
    assert "统计日期后收到的填报" in pages["units/a.md"].markdown  # a's own report, only on a's
    for path in ("units/b.md", "units/c.md"):
        page = pages[path]
        assert "统计日期后收到的填报" not in page.markdown
        assert "ps-reports-after" not in page.markdown
        assert "unit-reports-after" not in page.markdown


def test_a_correction_after_the_as_of_date_is_listed_while_the_earlier_report_counts() -> None:
    correction = _report(
        "c",
        "2022-Q1",
        AS_OF + timedelta(days=2),
        {"drills": 7, "checked": 4},
        rid="20221022093000-fix",
    )
    html = _html(_render(reports=[*_reports(), correction])["units/c.md"])

    assert _received_after_rows(html) == [
        ["季度进展表", "2022年第1季度", "2022-10-22 09:30", "张三"],
    ]
    assert 'data-report="20221022093000-fix"' in html
    indicators = _section(html, "ps-indicators")
    assert re.search(r"开展演练</td><td>≥ 4 次</td><td>2022-12-31</td><td>0 次</td>", indicators)
    assert re.search(r"设施检查率</td><td>≥ 100%</td><td>2022-06-30</td><td>25%</td>", indicators)
    reports = _section(html, "ps-reports")
    assert 'data-report="20221022093000-fix"' not in reports  # the contents shown are Q1's first


def test_reports_after_the_as_of_date_show_their_typed_fields_as_text() -> None:
    late = make_report(
        "a",
        "2022-Q3",
        {"drills": 1},
        datetime(2022, 11, 1, 8, 5, tzinfo=CST),
        form="quarterly",
        rid="20221101080500-late",
        submitted_by={"account": "a", "name": HOSTILE_NAME},
    )
    content = _content(unit_name=HOSTILE_NAME)
    html = _html(_render(content, [*_reports(), late])["units/a.md"])
    section = _section(html, "ps-reports-after")

    assert "<script" not in section and "&lt;script&gt;" in section
    assert "[点我](javascript:alert(1))" in section and 'href="javascript' not in section
    assert _received_after_rows(html)[0][:3] == ["季度进展表", "2022年第3季度", "2022-11-01 08:05"]


# --------------------------------------------------------------------------- links, all pairs

LINKED_PATHS = (
    "index.md",
    "plan.md",
    "matrix.md",
    "data.md",
    "tasks/index.md",
    "tasks/t-drills.md",
    "tasks/t-check.md",
    "units/index.md",
    "units/a.md",
    "units/b.md",
    "guide/setup/index.md",
    "guide/setup/more.md",
    "data/progress.xlsx",
    "units/a/photo.png",
)


def _relpath_url(source: str, target: str, directory_urls: bool) -> str:
    """The relative URL as posixpath.relpath gives it: what relative_url must equal."""
    here = page_url(source, directory_urls)
    base = here if here == "" or here.endswith("/") else posixpath.dirname(here)
    there = page_url(target, directory_urls)
    rel = posixpath.relpath(there or ".", base or ".")
    if there == "" or there.endswith("/"):
        return "./" if rel == "." else rel + "/"
    return rel


@pytest.mark.parametrize("directory_urls", [True, False])
def test_every_link_between_any_two_files_is_the_relative_path(directory_urls: bool) -> None:
    for source in LINKED_PATHS:
        for target in LINKED_PATHS:
            assert relative_url(source, target, directory_urls) == _relpath_url(
                source, target, directory_urls
            ), (source, target)


# --------------------------------------------------------------------------- what applies


def test_units_of_one_type_see_the_tasks_of_their_own_flags() -> None:
    content = _content()
    drills = content.tasks[0]
    rural = replace(
        drills,
        id="t-rural",
        number=3,
        title="乡村校舍巡查",
        applies_to=AppliesTo(flags=("rural",)),
        checklist=(),
    )
    units = (
        Unit("a", "城区学校", "school", flags={"rural": False}, attributes={"facilities": 1}),
        Unit("c", "乡村学校", "school", flags={"rural": True}, attributes={"facilities": 1}),
        Unit("d", "另一所城区学校", "school", attributes={"facilities": 1}),
    )
    pages = _render(replace(content, tasks=(*content.tasks, rural), units=units), [])
    assert "乡村校舍巡查" in pages["units/c.md"].markdown
    assert "乡村校舍巡查" not in pages["units/a.md"].markdown
    assert "乡村校舍巡查" not in pages["units/d.md"].markdown
    assert "（1 个）" in pages["tasks/t-rural.md"].markdown


def test_a_checklist_item_shows_the_latest_answer_of_its_own_form() -> None:
    content = _content()
    drills = replace(
        content.tasks[0],
        checklist=(
            ChecklistItem("报送方案", FieldRef("quarterly", "plan_filed")),
            ChecklistItem("无人报送的事项", FieldRef("other", "plan_filed")),
        ),
    )
    content = replace(content, tasks=(drills, *content.tasks[1:]))
    reports = [
        _report("a", "2022-Q2", date(2022, 7, 5), {"plan_filed": False}),
        _report("a", "2022-Q1", date(2022, 4, 2), {"plan_filed": True}),
        _report("a", "2022-Q3", date(2022, 10, 5), {"drills": 1}),  # says nothing: Q2 counts
        _report("c", "2022-Q1", date(2022, 4, 2), {"plan_filed": True}),
    ]
    pages = _render(content, reports)
    a, c = pages["units/a.md"].markdown, pages["units/c.md"].markdown
    assert "ps-checklist__item--open" in a and "ps-checklist__item--done" not in a
    assert "ps-checklist__item--done" in c and "ps-checklist__item--open" not in c
    # The item whose form nobody reports stays unknown on both pages.
    assert a.count("ps-checklist__item--unknown") == c.count("ps-checklist__item--unknown") == 1


def test_report_values_that_compare_equal_keep_their_own_text() -> None:
    content = _content()
    form = content.forms[0]
    form = replace(form, fields=(*form.fields, FormField("score", "number", "得分")))
    content = replace(content, forms=(form,))
    reports = [
        _report(
            "a",
            "2022-Q1",
            date(2022, 4, 2),
            {"plan_filed": True, "drills": 1, "score": 0.0, "notes": "1"},
        ),
        _report(
            "a",
            "2022-Q2",
            date(2022, 7, 2),
            {"plan_filed": 1, "drills": True, "score": -0.0, "notes": "0"},
        ),
    ]
    details = re.findall(
        r'<td>(\S+?)</td><td class="ps-report-value">(.*?)</td>',
        _render(content, reports)["units/a.md"].markdown,
    )
    assert details == [
        ("演练次数", "1"),
        ("已报送方案", "是"),
        ("备注", "1"),
        ("得分", "0.0"),
        ("演练次数", "是"),
        ("已报送方案", "1"),
        ("备注", "0"),
        ("得分", "-0.0"),
    ]


@pytest.mark.parametrize("forms_url", ["/forms/", "/forms", "forms", "http://x/?a=1&b=<2>"])
@pytest.mark.parametrize("unit_id", ["a", "bad id", "<x>"])
def test_each_reporting_row_links_the_form_service_page_of_its_unit_form_and_period(
    forms_url: str, unit_id: str
) -> None:
    content = _content()
    content = replace(content, units=(replace(content.units[0], id=unit_id),))
    page = _render(content, [], forms_url=forms_url)[f"units/{unit_id}.md"].markdown
    rows = re.findall(
        r'<tr data-unit="[^"]*" data-form="quarterly" data-period="([^"]+)".*?'
        r"</tr>",
        page,
    )
    assert rows == ["2022-Q1", "2022-Q2", "2022-Q3", "2022-Q4"]
    for period in rows:
        link = form_link(forms_url, unit_id, "quarterly", period)
        expected = (
            f'<a class="ps-form-link" href="{escape(link)}">填报</a>'
            if link
            else '<td class="ps-action">—</td></tr>'
        )
        row = re.search(rf'data-period="{period}".*?</tr>', page)
        assert row is not None and expected in row.group(0)


# --------------------------------------------------------------------------- roll-ups shown

# The matrix and the task pages show Progress.unit_task_rollup: it must be the roll-up of
# the unit's results on the task. (They specify builder.progress and belong with its tests.)


@pytest.mark.parametrize("days", [0, 60, 120, 200, 400])
def test_every_units_x_tasks_cell_is_the_rollup_of_the_units_results_on_the_task(days: int) -> None:
    content = _content()
    progress = evaluate(content, _reports(), date(2022, 3, 1) + timedelta(days=days))
    for unit in content.units:
        for task in content.tasks:
            expected = rollup(r for r in progress.for_unit(unit.id) if r.task == task.id)
            assert progress.unit_task_rollup(unit.id, task.id) == expected


def test_a_task_without_indicators_has_an_empty_cell_and_unknown_ids_raise() -> None:
    content = _content()
    content = replace(
        content,
        tasks=(
            *content.tasks,
            replace(content.tasks[0], id="t-talk", number=3, indicators=(), checklist=()),
        ),
    )
    progress = evaluate(content, _reports(), AS_OF)
    cell = progress.unit_task_rollup("a", "t-talk")
    assert (cell.applicable, cell.status) == (0, Status.NOT_APPLICABLE)
    with pytest.raises(KeyError):
        progress.unit_task_rollup("nobody", "t-drills")
    with pytest.raises(KeyError):
        progress.unit_task_rollup("a", "no-task")


def test_an_indicator_s_scope_is_its_task_s_narrowed_by_its_own() -> None:
    # t-check applies to schools only; its indicator names no scope of its own.
    html = _html(_render()["tasks/t-check.md"])
    row = re.search(r'<tr data-indicator="facility-ratio">.*?</tr>', html, re.S).group(0)
    assert "<td>学校</td>" in row and "全部单位" not in row


def test_the_matrix_prints_in_bands_as_even_as_can_be() -> None:
    assert print_bands(0) == []
    assert print_bands(15) == [range(0, 15)]
    assert print_bands(22) == [range(0, 11), range(11, 22)]
    assert print_bands(31) == [range(0, 11), range(11, 22), range(22, 31)]
