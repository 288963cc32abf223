"""builder.rules: indicator rules looked up by name, and a rule added from outside.

A rule is one object; the loader, progress, the value and target texts and the synthetic
generator all find it in the registry, so a rule registered here (`max_of`: the largest
value reported in any period) works everywhere without touching them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import pytest

from builder.model import (
    Content,
    FieldRef,
    FormField,
    Indicator,
    Problem,
    Report,
    Target,
    Task,
    Unit,
)
from builder.plan import read_content
from builder.progress import evaluate
from builder.rules import RULES, format_value, register, target_text
from builder.rules.base import Draw, FieldRule, Measured, number
from builder.synthetic import generate_reports
from tests.factories import make_form, make_period, make_plan, make_report
from tests.fixtures import copy_plan, edit

CST = timezone(timedelta(hours=8))


class MaxOfRule(FieldRule):
    """The largest value of the field in any period's report."""

    name = "max_of"
    draw: ClassVar[Draw] = "level"

    def measure_field(self, reports: list[Report], name: str) -> Measured:
        values = [(number(r.values.get(name)), r.id) for r in reports]
        found = [(value, rid) for value, rid in values if value is not None]
        if not found:
            return Measured(None)
        value, rid = max(found)
        return Measured(value, (rid,))

    def format_number(self, indicator: Indicator, value: float) -> str:
        return f"最高 {value:g}"


@pytest.fixture
def max_of() -> Iterator[None]:
    register(MaxOfRule())
    yield
    del RULES["max_of"]


def indicator(rule: str, target: Target | None = None) -> Indicator:
    return Indicator(
        "i1", "t1", "i1", rule, date(2022, 12, 31), field=FieldRef("qp", "n"), target=target
    )


def test_the_built_in_rules_in_the_order_the_plan_editor_reads_them() -> None:
    assert list(RULES) == ["sum", "latest", "ratio", "yes_no", "done_on"]


@pytest.mark.parametrize(
    ("target", "text"),
    [
        (None, "仅跟踪"),
        (Target(minimum=1.0), "≥ 100%"),
        (Target(maximum=0.5), "≤ 50%"),
        (Target(minimum=0.5, maximum=0.75), "50% 至 75%"),
    ],
)
def test_target_text_writes_the_target_as_the_rule_writes_values(
    target: Target | None, text: str
) -> None:
    assert target_text(indicator("ratio", target)) == text


def test_a_yes_no_target_is_written_as_its_answer() -> None:
    assert target_text(indicator("yes_no", Target(equals=True))) == "是"


def test_a_registered_rule_is_accepted_by_the_loader(tmp_path, max_of) -> None:
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/03-drills.md", "rule: sum", "rule: max_of")
    content, problems = read_content(root)
    assert problems == [] and content is not None
    assert any(i.rule == "max_of" for i in content.indicators)


def test_an_unknown_rule_is_refused_with_every_registered_name(tmp_path, max_of) -> None:
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/03-drills.md", "rule: sum", "rule: median")
    _, problems = read_content(root)
    message = "规则“median”无效，应为 sum、latest、ratio、yes_no、done_on、max_of 之一"
    assert Problem("content/tasks/03-drills.md", "indicators[0].rule", message) in problems


def test_a_registered_rule_measures_progress_and_writes_its_values(max_of) -> None:
    rule_indicator = indicator("max_of", Target(minimum=5))
    periods = (
        make_period("Q1", "2022-01-01", "2022-03-31", "2022-04-10"),
        make_period("Q2", "2022-04-01", "2022-06-30", "2022-07-10"),
    )
    form = make_form("qp", [FormField("n", "integer", "n")], ("Q1", "Q2"))
    task = Task("t1", 1, "t1", "", indicators=(rule_indicator,), forms=("qp",))
    unit = Unit("u1", "u1", "organ")
    content = Content(make_plan(), (task,), (unit,), periods, (form,))
    reports = [
        make_report("u1", "Q1", {"n": 7}, datetime(2022, 4, 1, 9, tzinfo=CST), form="qp"),
        make_report("u1", "Q2", {"n": 3}, datetime(2022, 7, 1, 9, tzinfo=CST), form="qp"),
    ]
    result = evaluate(content, reports, date(2022, 8, 1)).result("u1", "i1")
    assert result.value == 7 and result.status.value == "met"
    assert format_value(rule_indicator, result.value) == "最高 7"
    assert target_text(rule_indicator) == "≥ 最高 5"
    generated = list(generate_reports(content, ["Q1", "Q2"], seed=1))
    assert generated and all(isinstance(r["values"].get("n", 0), int) for r in generated)


@pytest.mark.parametrize(
    ("indicator", "expected"),
    [
        (Indicator("i", "t", "x", "ratio", date(2022, 1, 1), target=Target(minimum=1.0)), "≥ 100%"),
        (
            Indicator(
                "i",
                "t",
                "x",
                "sum",
                date(2022, 1, 1),
                target=Target(minimum=1, maximum=2),
                measure="个",
            ),
            "1 个 至 2 个",
        ),
        (Indicator("i", "t", "x", "yes_no", date(2022, 1, 1), target=Target(equals=True)), "是"),
        (Indicator("i", "t", "x", "sum", date(2022, 1, 1), target=Target(maximum=3)), "≤ 3"),
        (Indicator("i", "t", "x", "sum", date(2022, 1, 1)), "仅跟踪"),
    ],
)
def test_targets_read_as_words(indicator: Indicator, expected: str) -> None:
    assert target_text(indicator) == expected


# done_on: the day a thing was done, read from a date field; its target is its own due date.
DONE_ON_ITEM = """  - id: plan-filed
    title: 完成应急预案备案
    rule: done_on
    kind: deadline
    field: drill.filed_on
    due: 2025-06-30
"""


def _with_date_field(tmp_path) -> Path:
    root = copy_plan(tmp_path)
    edit(
        root,
        "schemas/forms/drill.json",
        '{"name": "notes"',
        '{"name": "filed_on", "type": "date", "title": "备案日期"},\n    {"name": "notes"',
    )
    return root


def _done_on_problems(tmp_path, item: str) -> tuple[Content | None, list[Problem]]:
    root = _with_date_field(tmp_path)
    edit(root, "content/tasks/03-drills.md", "indicators:\n", "indicators:\n" + item)
    return read_content(root)


def test_a_done_on_indicator_takes_its_due_date_as_its_target(tmp_path) -> None:
    content, problems = _done_on_problems(tmp_path, DONE_ON_ITEM)
    assert problems == [] and content is not None
    item = next(i for i in content.indicators if i.id == "plan-filed")
    assert (item.kind, item.target) == ("deadline", Target(by=date(2025, 6, 30)))
    assert target_text(item) == "按期完成"


def test_a_done_on_indicator_is_a_deadline_even_without_saying_so(tmp_path) -> None:
    content, problems = _done_on_problems(
        tmp_path, DONE_ON_ITEM.replace("    kind: deadline\n", "")
    )
    assert problems == [] and content is not None
    assert next(i for i in content.indicators if i.id == "plan-filed").kind == "deadline"


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            ("kind: deadline", "kind: cumulative"),
            "indicators[0].kind",
            "指标类型“cumulative”无效，done_on 规则可用：deadline",
        ),
        (
            ("due: 2025-06-30", "due: 2025-06-30\n    target: {equals: true}"),
            "indicators[0].target",
            "done_on 规则以 due 为完成期限（当日或之前完成即为已完成），不设置 target",
        ),
        (
            ("field: drill.filed_on", "field: drill.lab_drill"),
            "indicators[0].field",
            "表单字段 drill.lab_drill 的类型是 boolean，这里需要 date",
        ),
    ],
)
def test_a_done_on_indicator_reads_a_date_field_by_its_due_date_only(
    tmp_path, change: tuple[str, str], where: str, message: str
) -> None:
    _, problems = _done_on_problems(tmp_path, DONE_ON_ITEM.replace(*change))
    assert [(p.field, p.message) for p in problems] == [(where, message)]


def test_a_date_is_met_on_or_before_the_target_s_day_only() -> None:
    by = Target(by=date(2025, 6, 30))
    assert by.is_met(date(2025, 6, 30)) and by.is_met(date(2025, 1, 2))
    assert not by.is_met(date(2025, 7, 1))
    assert not by.is_met(None) and not by.is_met(True) and not by.is_met(1.0)
    assert not Target(minimum=1).is_met(date(2025, 6, 30))
