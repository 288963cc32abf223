"""Form field types: one module each in builder/fields, found by their Frictionless name;
reading, showing and exporting a value asks the field's type."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

import frictionless
import pytest

from builder import fields
from builder.fields import FIELD_TYPES, FieldType, field_type
from builder.model import FormField
from builder.plan import read_content
from builder.records import read_cell
from forms.formgen import build_form, display_value, widget_kind
from tests.factories import make_form

SECOND_PLAN = Path(__file__).parent / "fixtures" / "school-safety-2025"


def test_every_form_field_type_is_registered_under_its_frictionless_name():
    assert set(FIELD_TYPES) == {"integer", "number", "boolean", "string", "date"}
    assert all(field_type(name).name == name for name in FIELD_TYPES)


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("integer", "3.5", "请输入整数"),
        ("number", "abc", "请输入数字"),
        ("number", "NaN", "请输入数字"),
        ("number", "-Infinity", "请输入数字"),
        ("boolean", "perhaps", "请选择“是”或“否”"),
        ("date", "2022-13-01", "请输入有效日期（格式：YYYY-MM-DD）"),
    ],
)
def test_a_value_not_of_the_type_gets_the_types_message(kind, raw, message):
    field = frictionless.Field.from_descriptor({"name": "x", "type": kind})
    assert read_cell(field, raw) == (None, message)


def test_only_text_keeps_the_blanks_around_it():
    text = frictionless.Field.from_descriptor({"name": "x", "type": "string"})
    count = frictionless.Field.from_descriptor({"name": "x", "type": "integer"})
    assert read_cell(text, " 说明 ") == (" 说明 ", None)
    assert read_cell(count, " 12 ") == (12, None)


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("integer", 3.0, "3"),
        ("number", 2.5, "2.5"),
        ("boolean", True, "是"),
        ("boolean", "false", "否"),
        ("string", "按计划推进", "按计划推进"),
    ],
)
def test_a_value_is_shown_by_its_type(kind, value, shown):
    assert field_type(kind).shown(value) == shown


def test_a_registered_type_is_read_with_its_own_message(monkeypatch):
    class YearType(FieldType):
        name: ClassVar[str] = "year"
        type_message: ClassVar[str] = "请输入四位年份"

        def refuses(self, raw: Any) -> bool:
            return str(raw).startswith("0")

    monkeypatch.setitem(fields.FIELD_TYPES, "year", YearType())
    field = frictionless.Field.from_descriptor({"name": "x", "type": "year"})
    assert read_cell(field, "2025") == (2025, None)
    assert read_cell(field, "0999") == (None, "请输入四位年份")
    assert read_cell(field, "二〇二五") == (None, "请输入四位年份")


def test_the_plan_accepts_a_registered_type_and_names_the_types_it_knows(tmp_path, monkeypatch):
    plan = tmp_path / "plan"
    shutil.copytree(SECOND_PLAN, plan)
    schema_file = plan / "schemas" / "forms" / "drill.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    schema["fields"].append({"name": "school_year", "type": "year", "title": "学年"})
    schema_file.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")

    _, problems = read_content(plan)
    assert [(p.field, p.message) for p in problems] == [
        (
            "fields.school_year.type",
            "表单不支持字段类型“year”（可用：integer、number、boolean、string、date）",
        )
    ]

    class YearType(FieldType):
        name: ClassVar[str] = "year"

    monkeypatch.setitem(fields.FIELD_TYPES, "year", YearType())
    content, problems = read_content(plan)
    assert problems == []
    assert content is not None
    assert content.form("drill").field_named("school_year").type == "year"


def test_the_form_service_renders_each_field_with_its_types_input(monkeypatch):
    class YearType(FieldType):
        name: ClassVar[str] = "year"

        def widget(self, field: FormField) -> str:
            return "number"

        def html_attributes(self, field: FormField) -> dict[str, Any]:
            return {**super().html_attributes(field), "min": "1949", "inputmode": "numeric"}

    monkeypatch.setitem(fields.FIELD_TYPES, "year", YearType())
    form = make_form(
        "annual",
        [
            FormField("school_year", "year", "学年", required=True),
            FormField("held", "boolean", "是否举办"),
        ],
        ("2025",),
    )
    rendered = build_form(form, {"school_year": "2025"})
    year = str(rendered["school_year"])
    assert 'min="1949"' in year and 'inputmode="numeric"' in year and 'value="2025"' in year
    assert widget_kind(form.fields[0]) == "number"
    assert widget_kind(form.fields[1]) == "radio"
    assert display_value(form.fields[1], "true") == "是"
