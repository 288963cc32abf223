"""What the builder works out once per build instead of once per page or row must give
the same answer as working it out each time: links, escaping, the units x tasks roll-ups,
task applicability and the checklists' latest answers; and the report files, read with
the cheapest calls, are read whole.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from builder import pages
from builder.gcpause import without_collection
from builder.model import AppliesTo, ChecklistItem, FieldRef, FormField, Status, Unit
from builder.pages import SiteOptions, _Site, relative_url, render_pages
from builder.plan import load_content
from builder.progress import evaluate, rollup
from builder.reports import load_reports
from builder.templating import html_text
from tests.test_pages import AS_OF, _content, _report, _reports

FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"
PATHS = (
    "index.md", "plan.md", "matrix.md", "data.md", "tasks/index.md", "tasks/t-drills.md",
    "tasks/t-check.md", "units/index.md", "units/a.md", "units/b.md", "guide/setup/index.md",
    "guide/setup/more.md", "data/progress.xlsx", "units/a/photo.png",
)


@given(st.text())
def test_html_text_escapes_exactly_as_markupsafe(text: str) -> None:
    assert html_text(text) == str(escape(text))


@pytest.mark.parametrize("directory_urls", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_every_link_is_the_relative_url_whichever_page_asks_first(directory_urls: bool,
                                                                  reverse: bool) -> None:
    content = _content()
    progress = evaluate(content, _reports(), AS_OF)
    site = _Site(content, (), progress, SiteOptions(directory_urls=directory_urls))
    pairs = list(itertools.product(PATHS, PATHS))
    for source, target in reversed(pairs) if reverse else pairs:
        assert site.link(source, target) == relative_url(source, target, directory_urls), (
            source, target)


@pytest.mark.parametrize("days", [0, 60, 120, 200, 400])
def test_every_units_x_tasks_cell_is_the_rollup_of_the_units_results_on_the_task(
        days: int) -> None:
    content = _content()
    as_of = date(2022, 3, 1) + timedelta(days=days)
    progress = evaluate(content, _reports(), as_of)
    for unit, task in itertools.product(content.units, content.tasks):
        expected = rollup(r for r in progress.for_unit(unit.id) if r.task == task.id)
        assert progress.unit_task_rollup(unit.id, task.id) == expected


def test_a_task_without_indicators_has_an_empty_cell_and_unknown_ids_raise() -> None:
    content = _content()
    content = replace(content, tasks=(*content.tasks, replace(
        content.tasks[0], id="t-talk", number=3, indicators=(), checklist=())))
    progress = evaluate(content, _reports(), AS_OF)
    cell = progress.unit_task_rollup("a", "t-talk")
    assert (cell.applicable, cell.status) == (0, Status.NOT_APPLICABLE)
    with pytest.raises(KeyError):
        progress.unit_task_rollup("nobody", "t-drills")
    with pytest.raises(KeyError):
        progress.unit_task_rollup("a", "no-task")


def test_units_of_one_type_see_the_tasks_of_their_own_flags() -> None:
    content = _content()
    drills = content.tasks[0]
    rural = replace(drills, id="t-rural", number=3, title="乡村校舍巡查",
                    applies_to=AppliesTo(flags=("rural",)), checklist=())
    units = (
        Unit("a", "城区学校", "school", flags={"rural": False}, attributes={"facilities": 1}),
        Unit("c", "乡村学校", "school", flags={"rural": True}, attributes={"facilities": 1}),
        Unit("d", "另一所城区学校", "school", attributes={"facilities": 1}),
    )
    content = replace(content, tasks=(*content.tasks, rural), units=units)
    progress = evaluate(content, [], AS_OF)
    pages = {p.path: p for p in render_pages(content, [], progress, SiteOptions())}
    assert "乡村校舍巡查" in pages["units/c.md"].markdown
    assert "乡村校舍巡查" not in pages["units/a.md"].markdown
    assert "乡村校舍巡查" not in pages["units/d.md"].markdown
    assert "（1 个）" in pages["tasks/t-rural.md"].markdown


def test_a_checklist_item_shows_the_latest_answer_of_its_own_form() -> None:
    content = _content()
    drills = content.tasks[0]
    drills = replace(drills, checklist=(
        ChecklistItem("报送方案", FieldRef("quarterly", "plan_filed")),
        ChecklistItem("无人报送的事项", FieldRef("other", "plan_filed")),
    ))
    content = replace(content, tasks=(drills, *content.tasks[1:]))
    reports = [
        _report("a", "2022-Q2", date(2022, 7, 5), {"plan_filed": False}),
        _report("a", "2022-Q1", date(2022, 4, 2), {"plan_filed": True}),
        _report("a", "2022-Q3", date(2022, 10, 5), {"drills": 1}),  # says nothing: Q2 counts
        _report("c", "2022-Q1", date(2022, 4, 2), {"plan_filed": True}),
    ]
    progress = evaluate(content, reports, AS_OF)
    pages = {p.path: p for p in render_pages(content, reports, progress, SiteOptions())}
    a, c = pages["units/a.md"].markdown, pages["units/c.md"].markdown
    assert "ps-checklist__item--open" in a and "ps-checklist__item--done" not in a
    assert "ps-checklist__item--done" in c and "ps-checklist__item--open" not in c
    # The item whose form nobody reports stays unknown on both pages.
    assert a.count("ps-checklist__item--unknown") == c.count("ps-checklist__item--unknown") == 1


def test_a_report_larger_than_one_read_is_read_whole(tmp_path: Path) -> None:
    # Report files are read with a bare descriptor in 64 KiB reads (builder.reports).
    root = tmp_path / "plan"
    shutil.copytree(FIXTURE, root)
    path = next((root / "data" / "reports").rglob("*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["submitted_by"]["name"] = "长" * 50_000  # 150 KB of UTF-8, split mid-character
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert path.stat().st_size > 2 * 65536
    reports = load_reports(root, load_content(root))
    read = next(r for r in reports if r.id == data["id"])
    assert read.submitted_by["name"] == "长" * 50_000


def test_the_collector_is_paused_inside_and_restored_after_even_on_error() -> None:
    seen: list[bool] = []

    @without_collection
    def work(fail: bool) -> int:
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("boom")
        return 1

    assert gc.isenabled()
    assert work(False) == 1
    with pytest.raises(ValueError):
        work(True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        work(False)
        assert not gc.isenabled()  # a pause never turns on a collector someone turned off
    finally:
        gc.enable()


def test_the_builders_big_steps_run_with_the_collector_paused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = pages._Site.__init__

    def init(self: Any, *args: Any) -> None:
        seen.append(gc.isenabled())
        real(self, *args)

    monkeypatch.setattr(pages._Site, "__init__", init)
    content = _content()
    progress = evaluate(content, _reports(), AS_OF)
    render_pages(content, _reports(), progress, SiteOptions())
    assert seen == [False] and gc.isenabled()


def test_report_values_that_compare_equal_keep_their_own_text() -> None:
    content = _content()
    form = content.forms[0]
    form = replace(form, fields=(*form.fields, FormField("score", "number", "得分")))
    content = replace(content, forms=(form,))
    reports = [
        _report("a", "2022-Q1", date(2022, 4, 2), {"plan_filed": True, "drills": 1,
                                                   "score": 0.0, "notes": "1"}),
        _report("a", "2022-Q2", date(2022, 7, 2), {"plan_filed": 1, "drills": True,
                                                   "score": -0.0, "notes": "0"}),
    ]
    progress = evaluate(content, reports, AS_OF)
    page = {p.path: p for p in render_pages(content, reports, progress, SiteOptions())}
    details = re.findall(r'<td>(\S+?)</td><td class="ps-report-value">(.*?)</td>',
                         page["units/a.md"].markdown)
    assert details == [
        ("演练次数", "1"), ("已报送方案", "是"), ("备注", "1"), ("得分", "0.0"),
        ("演练次数", "是"), ("已报送方案", "1"), ("备注", "0"), ("得分", "-0.0"),
    ]
