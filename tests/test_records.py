"""builder.records: one submission's values typed and checked against its form's schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from builder.model import Form, Problem
from builder.plan import load_content
from builder.records import (
    UNKNOWN_FIELD_MESSAGE,
    form_schema,
    json_values,
    read_record,
    record_errors_to_problems,
)
from tests.factories import form_from_descriptor

FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"

DESCRIPTOR = {
    "title": "测试表单",
    "fields": [
        {"name": "count", "type": "integer", "title": "数量",
         "constraints": {"required": True, "minimum": 0, "maximum": 10}},
        {"name": "share", "type": "number", "title": "比例",
         "constraints": {"minimum": 0.5, "maximum": 1}},
        {"name": "done", "type": "boolean", "title": "是否完成"},
        {"name": "on", "type": "date", "title": "日期"},
        {"name": "level", "type": "string", "title": "等级",
         "constraints": {"enum": ["高", "中", "低"]}},
        {"name": "notes", "type": "string", "title": "说明",
         "constraints": {"maxLength": 5, "minLength": 2}},
        {"name": "code", "type": "string", "title": "代码", "constraints": {"pattern": "[A-Z]+"}},
    ],
}  # fmt: skip


def make_form(descriptor: dict | None = None) -> Form:
    return form_from_descriptor("test-form", descriptor or DESCRIPTOR, ("p1",))


FORM = make_form()


def test_posted_strings_are_typed_by_the_schema():
    values, errors = read_record(
        FORM,
        {"count": "7", "share": "0.75", "done": "true", "on": "2025-03-01", "level": "中",
         "notes": "一切正常", "code": "AB"},
    )  # fmt: skip
    assert errors == {}
    assert values == {"count": 7, "share": 0.75, "done": True, "on": date(2025, 3, 1),
                      "level": "中", "notes": "一切正常", "code": "AB"}  # fmt: skip
    assert type(values["count"]) is int
    assert type(values["share"]) is float


def test_json_values_from_a_report_file_are_accepted_as_they_are():
    values, errors = read_record(FORM, {"count": 3, "share": 1, "done": False, "on": "2025-01-02"})
    assert errors == {}
    assert values == {"count": 3, "share": 1.0, "done": False, "on": date(2025, 1, 2)}


def test_empty_strings_are_missing_and_left_out_of_the_values():
    values, errors = read_record(FORM, {"count": "1", "share": "", "notes": "   ", "done": ""})
    assert errors == {}
    assert values == {"count": 1}


def test_blanks_around_a_number_are_ignored():
    values, errors = read_record(FORM, {"count": " 4 "})
    assert errors == {}
    assert values["count"] == 4


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({}, "count", "此项为必填项"),
        ({"count": ""}, "count", "此项为必填项"),
        ({"count": None}, "count", "此项为必填项"),
        ({"count": "abc"}, "count", "请输入整数"),
        ({"count": "1.5"}, "count", "请输入整数"),
        ({"count": True}, "count", "请输入整数"),
        ({"count": [1]}, "count", "请输入整数"),
        ({"count": "-1"}, "count", "不能小于 0"),
        ({"count": 11}, "count", "不能大于 10"),
        ({"count": 1, "share": "abc"}, "share", "请输入数字"),
        ({"count": 1, "share": "0.4"}, "share", "不能小于 0.5"),
        ({"count": 1, "share": 2}, "share", "不能大于 1"),
        ({"count": 1, "done": "maybe"}, "done", "请选择“是”或“否”"),
        ({"count": 1, "on": "2025-02-30"}, "on", "请输入有效日期（格式：YYYY-MM-DD）"),
        ({"count": 1, "on": "03/01/2025"}, "on", "请输入有效日期（格式：YYYY-MM-DD）"),
        (
            {"count": 1, "level": "极高"},
            "level",
            "“极高”不是可选值，请从以下选项中选择：高、中、低",
        ),
        ({"count": 1, "notes": "这段说明太长了"}, "notes", "不能超过 5 个字"),
        ({"count": 1, "notes": "短"}, "notes", "不能少于 2 个字"),
        ({"count": 1, "notes": 12}, "notes", "请输入文字"),
        ({"count": 1, "code": "ab"}, "code", "格式不正确"),
        ({"count": 1, "colour": "red"}, "colour", "表单中没有此字段"),
    ],
)
def test_every_error_has_a_chinese_message_on_its_field(raw, field, message):
    values, errors = read_record(FORM, raw)
    assert errors == {field: message}
    assert field not in values


def test_all_fields_in_error_are_reported_at_once():
    _, errors = read_record(FORM, {"count": "x", "share": "9", "level": "?", "extra": "1"})
    assert errors == {
        "count": "请输入整数",
        "share": "不能大于 1",
        "level": "“?”不是可选值，请从以下选项中选择：高、中、低",
        "extra": UNKNOWN_FIELD_MESSAGE,
    }


def test_a_value_failing_several_constraints_gets_the_most_basic_message():
    form = make_form({"title": "t", "fields": [
        {"name": "code", "type": "string", "title": "代码",
         "constraints": {"maxLength": 2, "enum": ["a", "b"]}},
    ]})  # fmt: skip
    _, errors = read_record(form, {"code": "abcdef"})
    assert errors == {"code": "不能超过 2 个字"}


def test_ignored_keys_such_as_a_csrf_token_are_not_unknown_fields():
    _, errors = read_record(FORM, {"count": "1", "csrf_token": "x"}, ignore={"csrf_token"})
    assert errors == {}


def test_the_schema_is_built_once_per_form_descriptor():
    assert form_schema(FORM) is form_schema(FORM)
    other = make_form(dict(DESCRIPTOR))
    assert form_schema(other) is not form_schema(FORM)


def test_a_broken_constraint_in_the_schema_does_not_crash_the_form():
    form = make_form({"title": "t", "fields": [
        {"name": "count", "type": "integer", "title": "数量", "constraints": {"minimum": "x"}},
    ]})  # fmt: skip
    _, errors = read_record(form, {"count": "3"})
    assert "表单结构有误" in errors["count"]


def test_json_values_writes_dates_as_iso_text():
    values, _ = read_record(FORM, {"count": "2", "on": "2025-03-01", "share": "0.5"})
    assert json_values(values) == {"count": 2, "on": "2025-03-01", "share": 0.5}


def test_record_errors_become_problems_located_at_their_value():
    problems = record_errors_to_problems("data/reports/x.json", {"count": "请输入整数"})
    assert problems == [Problem("data/reports/x.json", "values.count", "请输入整数")]


def test_a_real_form_from_the_second_plan_reads_a_posted_submission():
    content = load_content(FIXTURE)
    form = content.form("inspection")
    values, errors = read_record(
        form,
        {"inspected_on": "2025-06-30", "extinguishers_checked": "12", "hazards_found": "0",
         "hazards_fixed": "0", "responsibility_signed": "true", "rating": "合格", "notes": ""},
    )  # fmt: skip
    assert errors == {}
    assert values["extinguishers_checked"] == 12
    _, errors = read_record(form, {"extinguishers_checked": "9999", "rating": "优秀"})
    assert errors["extinguishers_checked"] == "不能大于 5000"
    # An enumerated value outside the list: the message names the value and the list.
    assert errors["rating"] == "“优秀”不是可选值，请从以下选项中选择：合格、基本合格、不合格"
    assert errors["inspected_on"] == "此项为必填项"
