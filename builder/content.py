"""Load the plan from `content/` and `schemas/` (and, re-exported from builder.reports, the
approved reports from `data/reports/`).

The format is specified in content/README.md. Loading never stops at the first problem:
every problem is collected with its file, field and a Chinese message for the plan editor,
and `load_content`/`load_reports` raise `ContentError` with all of them. References
between files (categories, forms, form fields, unit columns, periods) are checked while
loading, so a `Content` that loads is consistent and nothing downstream has to guard
against dangling ids.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

import frictionless

from builder.documents import (
    IDENTIFIER_MESSAGE,
    Document,
    duplicates,
    parse_yaml,
    read_json,
    read_text,
    sort_problems,
    split_front_matter,
)
from builder.model import (
    ALL_UNITS,
    FIELD_NAME,
    AppliesTo,
    Category,
    ChecklistItem,
    Content,
    ContentError,
    FieldRef,
    Form,
    FormField,
    Indicator,
    Operand,
    Period,
    Plan,
    Principle,
    Problem,
    Target,
    Task,
    Unit,
    UnitType,
    is_identifier,
)
from builder.records import cell_error_message, cell_reader
from builder.reports import load_reports, read_reports

# load_reports/read_reports live in builder.reports; they are part of this module's API.
__all__ = ["load_content", "load_reports", "read_content", "read_reports", "sort_problems"]

PLAN_FILE = "content/plan.yml"
TASKS_DIR = "content/tasks"
GUARANTEES_DIR = "content/guarantees"
UNITS_FILE = "content/units.csv"
UNITS_SCHEMA_FILE = "schemas/units.schema.json"
CALENDAR_FILE = "content/calendar.yml"
FORMS_FILE = "content/forms.yml"
FORM_SCHEMAS_DIR = "schemas/forms"

# The unit columns every plan has; every other boolean column is a flag, every other
# integer column an attribute.
UNIT_CORE_COLUMNS = ("id", "name", "type")
# Field types the form service can render and the progress rules can read.
FORM_FIELD_TYPES = ("integer", "number", "boolean", "string", "date")
RULES = ("sum", "latest", "ratio", "yes_no")
NUMERIC_TYPES = ("integer", "number")

PLAN_KEYS = {
    "id", "title", "short_title", "year", "issuer", "period", "demo", "preamble",
    "guiding_ideology", "principles", "unit_types", "categories", "guarantees_title",
}  # fmt: skip
TASK_KEYS = {"id", "number", "category", "title", "applies_to", "forms", "indicators", "checklist"}
INDICATOR_KEYS = {
    "id", "title", "rule", "field", "numerator", "denominator", "target", "measure", "due",
    "applies_to",
}  # fmt: skip
PERIOD_KEYS = {"id", "title", "start", "end", "due"}
FORM_KEYS = {"id", "periods", "applies_to"}


# ------------------------------------------------------------------ what is known


@dataclass
class _Known:
    """What earlier files defined, for checking references from later ones.

    A part that failed to load is None, so references to it are not reported a second
    time as dangling (the editor sees the real problem once, not a cascade).
    """

    categories: set[str] | None = None
    unit_types: set[str] | None = None
    flags: set[str] | None = None
    attributes: set[str] | None = None
    periods: set[str] | None = None
    forms: dict[str, Form] = field(default_factory=dict)
    broken_forms: set[str] = field(default_factory=set)
    forms_loaded: bool = False
    units: tuple[Unit, ...] = ()
    # One unit per distinct Unit.profile: which units an AppliesTo matches depends on
    # nothing else, and thousands of units share a handful of these.
    unit_profiles: tuple[Unit, ...] = ()


def _read_yaml_mapping(
    root: Path, file: str, problems: list[Problem]
) -> tuple[Document, dict[str, Any]] | None:
    """A YAML file's top-level mapping and the Document that reads it; None when the file
    is missing, unreadable, not YAML or not a mapping (each already a problem)."""
    text = read_text(root, file, problems)
    if text is None:
        return None
    before = len(problems)
    data = parse_yaml(file, text, problems)
    if len(problems) > before:
        return None
    doc = Document(file, problems)
    mapping = doc.mapping(data, "", f"{PurePosixPath(file).name} 的内容")
    if mapping is None:
        return None
    return doc, mapping


# ------------------------------------------------------------------ plan.yml


def _read_plan(root: Path, problems: list[Problem], known: _Known) -> Plan | None:
    before = len(problems)
    read = _read_yaml_mapping(root, PLAN_FILE, problems)
    if read is None:
        return None
    doc, plan_data = read
    doc.keys(plan_data, PLAN_KEYS, "")
    plan_id = doc.identifier(plan_data, "id")
    title = doc.text(plan_data, "title")
    short_title = doc.text(plan_data, "short_title", required=False) or title
    year = doc.integer(plan_data, "year")
    issuer = doc.text(plan_data, "issuer", required=False) or ""
    start = end = None
    period = doc.mapping(plan_data.get("period"), "period", "period（起止日期）")
    if period is not None:
        doc.keys(period, {"start", "end"}, "period")
        start = doc.date(period, "start", "period")
        end = doc.date(period, "end", "period")
        if start and end and start > end:
            doc.problem("period.end", "结束日期早于开始日期")

    principles = []
    for index, item in enumerate(doc.items(plan_data, "principles")):
        path = f"principles[{index}]"
        entry = doc.mapping(item, path, "基本原则")
        if entry is None:
            continue
        doc.keys(entry, {"title", "text"}, path)
        principle_title = doc.text(entry, "title", path)
        if principle_title is not None:
            principles.append(
                Principle(principle_title, doc.text(entry, "text", path, required=False) or "")
            )

    unit_types = []
    types_before = len(problems)
    for index, item in enumerate(doc.items(plan_data, "unit_types", required=True)):
        path = f"unit_types[{index}]"
        entry = doc.mapping(item, path, "单位类型")
        if entry is None:
            continue
        doc.keys(entry, {"id", "label"}, path)
        type_id = doc.identifier(entry, "id", path)
        label = doc.text(entry, "label", path)
        if type_id and label:
            unit_types.append(UnitType(type_id, label))
    for repeated in sorted(duplicates([t.id for t in unit_types])):
        doc.problem("unit_types", f"单位类型标识“{repeated}”重复")

    types_ok = len(problems) == types_before
    categories = []
    categories_before = len(problems)
    for index, item in enumerate(doc.items(plan_data, "categories", required=True)):
        path = f"categories[{index}]"
        entry = doc.mapping(item, path, "类别")
        if entry is None:
            continue
        doc.keys(entry, {"id", "number", "title", "text"}, path)
        category_id = doc.identifier(entry, "id", path)
        number = doc.text(entry, "number", path)
        category_title = doc.text(entry, "title", path)
        text_value = doc.text(entry, "text", path, required=False) or ""
        if category_id and number and category_title:
            categories.append(Category(category_id, number, category_title, text_value))
    for repeated in sorted(duplicates([c.id for c in categories])):
        doc.problem("categories", f"类别标识“{repeated}”重复")

    categories_ok = len(problems) == categories_before
    guarantees_title = doc.text(plan_data, "guarantees_title", required=False)
    demo = doc.boolean(plan_data, "demo")
    # A broken list is reported once; references into it are then not checked.
    known.categories = {c.id for c in categories} if categories_ok else None
    known.unit_types = {t.id for t in unit_types} if types_ok else None
    if len(problems) > before:
        return None
    assert plan_id and title and short_title and year is not None and start and end
    return Plan(
        id=plan_id,
        title=title,
        short_title=short_title,
        year=year,
        issuer=issuer,
        start=start,
        end=end,
        preamble=doc.text(plan_data, "preamble", required=False) or "",
        guiding_ideology=doc.text(plan_data, "guiding_ideology", required=False) or "",
        principles=tuple(principles),
        unit_types=tuple(unit_types),
        categories=tuple(categories),
        guarantees_title=guarantees_title or "组织保障",
        demo=demo,
    )


# ------------------------------------------------------------------ calendar.yml


def _read_calendar(root: Path, problems: list[Problem], known: _Known) -> list[Period]:
    before = len(problems)
    read = _read_yaml_mapping(root, CALENDAR_FILE, problems)
    if read is None:
        return []
    doc, calendar = read
    doc.keys(calendar, {"periods"}, "")
    periods = []
    for index, item in enumerate(doc.items(calendar, "periods", required=True)):
        path = f"periods[{index}]"
        entry = doc.mapping(item, path, "报送周期")
        if entry is None:
            continue
        doc.keys(entry, PERIOD_KEYS, path)
        period_id = doc.identifier(entry, "id", path)
        title = doc.text(entry, "title", path)
        start = doc.date(entry, "start", path)
        end = doc.date(entry, "end", path)
        due = doc.date(entry, "due", path)
        if start and end and start > end:
            doc.problem(f"{path}.end", "结束日期早于开始日期")
        if start and due and due < start:
            doc.problem(f"{path}.due", "报送截止日期早于周期开始日期")
        if period_id and title and start and end and due:
            periods.append(Period(period_id, title, start, end, due))
    for repeated in sorted(duplicates([p.id for p in periods])):
        doc.problem("periods", f"报送周期标识“{repeated}”重复")
    if len(problems) == before:
        known.periods = {p.id for p in periods}
    return sorted(periods, key=lambda p: (p.end, p.due))


# ------------------------------------------------------------------ units


def _read_units_schema(root: Path, problems: list[Problem]) -> frictionless.Schema | None:
    descriptor = read_json(root, UNITS_SCHEMA_FILE, problems)
    if descriptor is None:
        return None
    schema = _frictionless_schema(UNITS_SCHEMA_FILE, descriptor, problems)
    if schema is None:
        return None
    before = len(problems)
    for column in UNIT_CORE_COLUMNS:
        if column not in schema.field_names:
            problems.append(Problem(UNITS_SCHEMA_FILE, "fields", f"缺少必需的列“{column}”"))
        elif schema.get_field(column).type != "string":
            problems.append(
                Problem(
                    UNITS_SCHEMA_FILE, f"fields.{column}.type", f"列“{column}”的类型应为 string"
                )
            )
    for field_ in schema.fields:
        if field_.name not in UNIT_CORE_COLUMNS and not is_identifier(field_.name):
            problems.append(
                Problem(
                    UNITS_SCHEMA_FILE,
                    f"fields.{field_.name}",
                    f"列名“{field_.name}”{IDENTIFIER_MESSAGE}",
                )
            )
    return schema if len(problems) == before else None


def _read_units(root: Path, problems: list[Problem], known: _Known) -> list[Unit]:
    schema = _read_units_schema(root, problems)
    if schema is None:
        return []
    flag_columns = [
        f.name for f in schema.fields if f.type == "boolean" and f.name not in UNIT_CORE_COLUMNS
    ]
    attribute_columns = [
        f.name for f in schema.fields if f.type == "integer" and f.name not in UNIT_CORE_COLUMNS
    ]
    known.flags = set(flag_columns)
    known.attributes = set(attribute_columns)
    text = read_text(root, UNITS_FILE, problems)
    if text is None:
        return []
    before = len(problems)
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None:
        problems.append(Problem(UNITS_FILE, "", "文件为空，缺少表头"))
        return []
    header = [name.strip() for name in header]
    for repeated in sorted(duplicates(header)):
        problems.append(Problem(UNITS_FILE, "row 1", f"列“{repeated}”重复"))
    for name in header:
        if name not in schema.field_names:
            problems.append(
                Problem(UNITS_FILE, "row 1", f"列“{name}”未在 {UNITS_SCHEMA_FILE} 中声明")
            )
    for name in schema.field_names:
        if name not in header:
            problems.append(Problem(UNITS_FILE, "row 1", f"缺少列“{name}”"))
    if len(problems) > before:
        return []

    fields = [schema.get_field(name) for name in header]
    # Field.read_cell builds a new cell reader (constraints compiled) for every cell. A
    # reader is a pure function of the text, and most columns repeat a few texts (types,
    # flags, small counts) over thousands of rows: each distinct text is read once.
    readers = [functools.cache(cell_reader(f) or f.read_cell) for f in fields]
    unique_columns = [
        f.name for f in schema.fields if f.name == "id" or (f.constraints or {}).get("unique")
    ]
    seen: dict[str, dict[Any, int]] = {name: {} for name in unique_columns}
    units = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(header):
            problems.append(
                Problem(UNITS_FILE, f"row {number}", f"有 {len(row)} 列，表头有 {len(header)} 列")
            )
            continue
        values: dict[str, Any] = {}
        row_ok = True
        for field_, read_cell, cell in zip(fields, readers, row, strict=True):
            value, notes = read_cell(cell.strip())
            if notes:
                problems.append(
                    Problem(
                        UNITS_FILE,
                        f"row {number}: {field_.name}",
                        cell_error_message(field_, notes),
                    )
                )
                row_ok = False
                value = None  # Frictionless returns the value even when it fails a constraint
            values[field_.name] = value
        for name in unique_columns:
            value = values.get(name)
            if value is None:
                continue
            if value in seen[name]:
                problems.append(
                    Problem(
                        UNITS_FILE,
                        f"row {number}: {name}",
                        f"“{value}”与第 {seen[name][value]} 行重复",
                    )
                )
                row_ok = False
            else:
                seen[name][value] = number
        unit_id = values.get("id")
        if unit_id is not None and not is_identifier(unit_id):
            problems.append(
                Problem(UNITS_FILE, f"row {number}: id", f"“{unit_id}”{IDENTIFIER_MESSAGE}")
            )
            row_ok = False
        unit_type = values.get("type")
        if (
            unit_type is not None
            and known.unit_types is not None
            and unit_type not in known.unit_types
        ):
            problems.append(
                Problem(
                    UNITS_FILE,
                    f"row {number}: type",
                    f"单位类型“{unit_type}”未在 {PLAN_FILE} 的 unit_types 中定义",
                )
            )
            row_ok = False
        if not row_ok or unit_id is None or values.get("name") is None or unit_type is None:
            continue
        units.append(
            Unit(
                id=unit_id,
                name=values["name"],
                type=unit_type,
                flags={name: bool(values.get(name)) for name in flag_columns},
                attributes={
                    name: values[name] for name in attribute_columns if values.get(name) is not None
                },
            )
        )
    known.units = tuple(units)
    profiles: dict[tuple[str, frozenset[str]], Unit] = {}
    for unit in units:
        profiles.setdefault(unit.profile, unit)
    known.unit_profiles = tuple(profiles.values())
    return units


# ------------------------------------------------------------------ forms


def _frictionless_schema(
    file: str, descriptor: Any, problems: list[Problem]
) -> frictionless.Schema | None:
    if not isinstance(descriptor, dict):
        problems.append(Problem(file, "", "应为 JSON 对象（Frictionless Table Schema）"))
        return None
    try:
        return frictionless.Schema.from_descriptor(descriptor)
    except frictionless.FrictionlessException as error:
        note = error.error.note if error.error is not None else str(error)
        problems.append(Problem(file, "", f"不是有效的 Frictionless Table Schema（{note}）"))
        return None


def _form_fields(
    file: str, schema: frictionless.Schema, problems: list[Problem]
) -> list[FormField]:
    doc = Document(file, problems)
    fields = []
    for index, field_ in enumerate(schema.fields):
        path = f"fields[{index}]"
        if not FIELD_NAME.fullmatch(field_.name or ""):
            doc.problem(
                f"{path}.name",
                f"字段名“{field_.name}”无效"
                "（只能使用小写字母、数字和 _，以字母开头，最长 63 个字符）",
            )
            continue
        path = f"fields.{field_.name}"
        if field_.type not in FORM_FIELD_TYPES:
            doc.problem(
                f"{path}.type",
                f"表单不支持字段类型“{field_.type}”（可用：{'、'.join(FORM_FIELD_TYPES)}）",
            )
            continue
        if not field_.title:
            doc.problem(f"{path}.title", "缺少 title（字段的中文标签）")
        constraints: dict[str, Any] = dict(field_.constraints or {})
        bounds_ok = True
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if bound not in constraints:
                continue
            if field_.type in NUMERIC_TYPES:
                value = constraints[bound]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    doc.problem(f"{path}.constraints.{bound}", "应为数字")
                    bounds_ok = False
            elif field_.type != "date":
                doc.problem(
                    f"{path}.constraints.{bound}", f"{field_.type} 类型的字段不能设置 {bound}"
                )
                bounds_ok = False
        for length in ("minLength", "maxLength"):
            value = constraints.get(length)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                doc.problem(f"{path}.constraints.{length}", "应为非负整数")
                bounds_ok = False
        enum = constraints.get("enum")
        if enum is not None and (not isinstance(enum, list) or not enum):
            doc.problem(f"{path}.constraints.enum", "应为非空列表")
            enum = None
        if not bounds_ok:
            continue
        numeric = field_.type in NUMERIC_TYPES
        fields.append(
            FormField(
                name=field_.name,
                type=field_.type,
                title=field_.title or field_.name,
                description=field_.description or "",
                required=bool(constraints.get("required", False)),
                minimum=float(constraints["minimum"])
                if numeric and "minimum" in constraints
                else None,
                maximum=float(constraints["maximum"])
                if numeric and "maximum" in constraints
                else None,
                max_length=constraints.get("maxLength"),
                enum=tuple(enum) if enum else None,
            )
        )
    for repeated in sorted(duplicates([f.name for f in fields])):
        doc.problem(f"fields.{repeated}", f"字段名“{repeated}”重复")
    return fields


def _read_form_schema(
    root: Path, form_id: str, problems: list[Problem]
) -> tuple[str, dict[str, Any], list[FormField]] | None:
    file = f"{FORM_SCHEMAS_DIR}/{form_id}.json"
    before = len(problems)
    descriptor = read_json(root, file, problems)
    if descriptor is None:
        return None
    schema = _frictionless_schema(file, descriptor, problems)
    if schema is None:
        return None
    if not descriptor.get("title"):
        problems.append(Problem(file, "title", "缺少 title（表单的中文名称）"))
    fields = _form_fields(file, schema, problems)
    if not fields and len(problems) == before:
        problems.append(Problem(file, "fields", "表单没有任何字段"))
    if len(problems) > before:
        return None
    return file, descriptor, fields


def _identifiers(
    doc: Document,
    entry: dict[str, Any],
    key: str,
    path: str,
    known: set[str] | None,
    unknown: Callable[[str], str],
    *,
    required: bool = False,
) -> list[str]:
    """The identifiers listed under `key`, each one another file does not define (`known`)
    a problem; `known` is None when that file did not load and is reported already."""
    values: list[str] = []
    for index, item in enumerate(doc.items(entry, key, path, required=required)):
        where = f"{path}.{key}[{index}]"
        value = doc.identifier_value(item, where)
        if value is None:
            continue
        if known is not None and value not in known:
            doc.problem(where, unknown(value))
        values.append(value)
    return values


def _applies_to(doc: Document, value: Any, path: str, known: _Known) -> AppliesTo:
    if value is None or value == "all":
        return ALL_UNITS
    entry = doc.mapping(value, path, "applies_to（all 或 unit_types/flags）")
    if entry is None:
        return ALL_UNITS
    doc.keys(entry, {"unit_types", "flags"}, path)
    unit_types = _identifiers(
        doc,
        entry,
        "unit_types",
        path,
        known.unit_types,
        lambda type_id: f"单位类型“{type_id}”未在 {PLAN_FILE} 的 unit_types 中定义",
    )
    flags = _identifiers(
        doc,
        entry,
        "flags",
        path,
        known.flags,
        lambda flag: f"单位标记“{flag}”不是 {UNITS_SCHEMA_FILE} 中的布尔列",
    )
    return AppliesTo(unit_types=tuple(unit_types), flags=tuple(flags))


def _read_forms(root: Path, problems: list[Problem], known: _Known) -> list[Form]:
    before = len(problems)
    read = _read_yaml_mapping(root, FORMS_FILE, problems)
    if read is None:
        return []
    doc, forms_data = read
    doc.keys(forms_data, {"forms"}, "")
    forms = []
    ids: list[str] = []
    for index, item in enumerate(doc.items(forms_data, "forms", required=True)):
        path = f"forms[{index}]"
        entry = doc.mapping(item, path, "表单")
        if entry is None:
            continue
        doc.keys(entry, FORM_KEYS, path)
        form_id = doc.identifier(entry, "id", path)
        if form_id is None:
            continue
        ids.append(form_id)
        periods = _identifiers(
            doc,
            entry,
            "periods",
            path,
            known.periods,
            lambda period_id: f"报送周期“{period_id}”未在 {CALENDAR_FILE} 中定义",
            required=True,
        )
        for repeated in sorted(duplicates(periods)):
            doc.problem(f"{path}.periods", f"报送周期“{repeated}”重复")
        applies_to = _applies_to(doc, entry.get("applies_to"), f"{path}.applies_to", known)
        loaded = _read_form_schema(root, form_id, problems)
        if loaded is None:
            known.broken_forms.add(form_id)
            continue
        schema_path, descriptor, fields = loaded
        form = Form(
            id=form_id,
            title=str(descriptor.get("title", form_id)),
            description=str(descriptor.get("description", "") or ""),
            schema_path=schema_path,
            fields=tuple(fields),
            periods=tuple(periods),
            applies_to=applies_to,
            descriptor=descriptor,
        )
        forms.append(form)
        known.forms[form_id] = form
    for repeated in sorted(duplicates(ids)):
        doc.problem("forms", f"表单标识“{repeated}”重复")
    known.forms_loaded = len(problems) == before
    return forms


# ------------------------------------------------------------------ tasks


@dataclass
class _TaskContext:
    doc: Document
    known: _Known
    task_forms: tuple[str, ...]
    kind: Literal["task", "guarantee"]


def _form_field(
    ctx: _TaskContext, value: Any, where: str, types: tuple[str, ...]
) -> FieldRef | None:
    """A `form-id.field_name` reference, checked against the form's schema and `types`."""
    doc, known = ctx.doc, ctx.known
    if not isinstance(value, str) or value.count(".") != 1:
        doc.problem(where, f"字段引用“{value}”应写成 表单标识.字段名（例如 form-id.field_name）")
        return None
    form_id, field_name = value.split(".")
    if not is_identifier(form_id) or not FIELD_NAME.fullmatch(field_name):
        doc.problem(where, f"字段引用“{value}”应写成 表单标识.字段名（例如 form-id.field_name）")
        return None
    ref = FieldRef(form_id, field_name)
    if form_id in known.broken_forms:
        return ref
    form = known.forms.get(form_id)
    if form is None:
        if known.forms_loaded:
            doc.problem(where, f"引用的表单 {form_id} 不存在")
        return ref
    form_field = form.field_named(field_name)
    if form_field is None:
        doc.problem(where, f"引用的表单字段 {ref} 不存在")
        return ref
    if form_field.type not in types:
        wanted = " 或 ".join(types)
        doc.problem(where, f"表单字段 {ref} 的类型是 {form_field.type}，这里需要 {wanted}")
    if form_id not in ctx.task_forms:
        doc.problem(where, f"表单 {form_id} 未列在本任务的 forms 中")
    return ref


def _operand(ctx: _TaskContext, value: Any, where: str) -> Operand | None:
    doc = ctx.doc
    entry = doc.mapping(value, where, "比率的分子/分母")
    if entry is None:
        return None
    doc.keys(entry, {"field", "combine", "unit"}, where)
    if ("field" in entry) == ("unit" in entry):
        doc.problem(where, "应当且只能设置 field（表单字段）或 unit（单位数据列）之一")
        return None
    if "unit" in entry:
        if "combine" in entry:
            doc.problem(f"{where}.combine", "单位数据列不需要 combine")
        column = doc.identifier_value(entry["unit"], f"{where}.unit")
        if column is None:
            return None
        attributes = ctx.known.attributes
        if attributes is not None and column not in attributes:
            doc.problem(f"{where}.unit", f"单位数据列“{column}”不是 {UNITS_SCHEMA_FILE} 中的整数列")
        return Operand(unit_attribute=column)
    combine = entry.get("combine", "latest")
    if combine not in ("sum", "latest"):
        doc.problem(f"{where}.combine", f"combine 应为 sum 或 latest，而不是“{combine}”")
        return None
    ref = _form_field(ctx, entry["field"], f"{where}.field", NUMERIC_TYPES)
    if ref is None:
        return None
    return Operand(field=ref, combine=combine)


def _target(ctx: _TaskContext, value: Any, where: str, rule: str) -> Target | None:
    doc = ctx.doc
    entry = doc.mapping(value, where, "目标")
    if entry is None:
        return None
    doc.keys(entry, {"min", "max", "equals"}, where)
    if not entry.keys() & {"min", "max", "equals"}:
        doc.problem(where, "目标应设置 min、max 或 equals")
        return None
    if "equals" in entry:
        if entry.keys() & {"min", "max"}:
            doc.problem(where, "equals 不能与 min/max 同时设置")
            return None
        equals = entry["equals"]
        if rule == "yes_no" and not isinstance(equals, bool):
            doc.problem(f"{where}.equals", "yes_no 规则的目标应为 equals: true 或 equals: false")
            return None
        if rule != "yes_no":
            number = doc.number(equals, f"{where}.equals")
            return None if number is None else Target(equals=number)
        return Target(equals=equals)
    if rule == "yes_no":
        doc.problem(where, "yes_no 规则的目标应为 equals: true 或 equals: false")
        return None
    minimum = doc.number(entry["min"], f"{where}.min") if "min" in entry else None
    maximum = doc.number(entry["max"], f"{where}.max") if "max" in entry else None
    if minimum is not None and maximum is not None and minimum > maximum:
        doc.problem(where, "min 大于 max")
        return None
    if ("min" in entry and minimum is None) or ("max" in entry and maximum is None):
        return None
    return Target(minimum=minimum, maximum=maximum)


def _indicator(
    ctx: _TaskContext, task_id: str, task_applies: AppliesTo, value: Any, path: str
) -> Indicator | None:
    doc = ctx.doc
    entry = doc.mapping(value, path, "指标")
    if entry is None:
        return None
    before = len(doc.problems)
    doc.keys(entry, INDICATOR_KEYS, path)
    indicator_id = doc.identifier(entry, "id", path)
    title = doc.text(entry, "title", path)
    due = doc.date(entry, "due", path)
    rule = entry.get("rule")
    if rule not in RULES:
        doc.problem(
            f"{path}.rule",
            f"规则“{rule}”无效，应为 {'、'.join(RULES)} 之一" if rule is not None else "缺少 rule",
        )
        return None
    ref = numerator = denominator = None
    if rule == "ratio":
        for key in ("numerator", "denominator"):
            if key not in entry:
                doc.problem(f"{path}.{key}", f"ratio 规则需要 {key}")
        if "field" in entry:
            doc.problem(f"{path}.field", "ratio 规则不使用 field，请设置 numerator 和 denominator")
        if "numerator" in entry:
            numerator = _operand(ctx, entry["numerator"], f"{path}.numerator")
        if "denominator" in entry:
            denominator = _operand(ctx, entry["denominator"], f"{path}.denominator")
    else:
        for key in ("numerator", "denominator"):
            if key in entry:
                doc.problem(f"{path}.{key}", f"{rule} 规则不使用 {key}")
        if "field" not in entry:
            doc.problem(f"{path}.field", f"{rule} 规则需要 field")
        else:
            types = ("boolean",) if rule == "yes_no" else NUMERIC_TYPES
            ref = _form_field(ctx, entry["field"], f"{path}.field", types)
    target = None
    if entry.get("target") is not None:
        target = _target(ctx, entry["target"], f"{path}.target", rule)
    measure = doc.text(entry, "measure", path, required=False) or ""
    applies_to = _applies_to(doc, entry.get("applies_to"), f"{path}.applies_to", ctx.known)
    if len(doc.problems) > before:
        return None
    assert indicator_id and title and due
    indicator = Indicator(
        id=indicator_id,
        task_id=task_id,
        title=title,
        rule=rule,
        due=due,
        field=ref,
        numerator=numerator,
        denominator=denominator,
        target=target,
        measure=measure,
        applies_to=applies_to,
    )
    _check_form_coverage(ctx, indicator, task_applies, path)
    return indicator


def _check_form_coverage(
    ctx: _TaskContext, indicator: Indicator, task_applies: AppliesTo, path: str
) -> None:
    """Every unit the indicator applies to must fill the forms it reads, or it never gets data."""
    for ref in indicator.fields:
        form = ctx.known.forms.get(ref.form)
        if form is None or form.applies_to.is_all:
            continue
        if not any(
            task_applies.matches(unit)
            and indicator.applies_to.matches(unit)
            and not form.applies_to.matches(unit)
            for unit in ctx.known.unit_profiles
        ):
            continue  # the usual case, decided without going through every unit
        missing = [
            unit.id
            for unit in ctx.known.units
            if task_applies.matches(unit)
            and indicator.applies_to.matches(unit)
            and not form.applies_to.matches(unit)
        ]
        if missing:
            examples = "、".join(missing[:3])
            ctx.doc.problem(
                path,
                f"有 {len(missing)} 个适用单位不填报表单 {form.id}（如 {examples}），"
                "该指标无法取得数据",
            )


def _checklist(ctx: _TaskContext, items: list[Any], path: str) -> list[ChecklistItem]:
    doc = ctx.doc
    checklist = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if isinstance(item, str) and item.strip():
            checklist.append(ChecklistItem(item.strip()))
            continue
        entry = doc.mapping(item, where, "清单项")
        if entry is None:
            continue
        doc.keys(entry, {"title", "field"}, where)
        title = doc.text(entry, "title", where)
        ref = None
        if entry.get("field") is not None:
            ref = _form_field(ctx, entry["field"], f"{where}.field", ("boolean",))
            if ref is None:
                continue
        if title:
            checklist.append(ChecklistItem(title, ref))
    return checklist


def _read_task(
    root: Path,
    file: str,
    kind: Literal["task", "guarantee"],
    problems: list[Problem],
    known: _Known,
) -> Task | None:
    text = read_text(root, file, problems)
    if text is None:
        return None
    parts = split_front_matter(text)
    if parts is None:
        problems.append(
            Problem(file, "", "缺少 YAML 头信息（文件应以 --- 开头，并以 --- 结束头信息）")
        )
        return None
    front, body = parts
    before = len(problems)
    # The front matter starts on the file's second line.
    data = parse_yaml(file, front, problems, line_offset=1)
    if len(problems) > before:
        return None
    doc = Document(file, problems)
    entry = doc.mapping(data, "", "头信息")
    if entry is None:
        return None
    doc.keys(entry, TASK_KEYS, "")
    task_id = doc.identifier(entry, "id")
    number = doc.integer(entry, "number")
    if number is not None and number < 1:
        doc.problem("number", "编号应为正整数")
    title = doc.text(entry, "title")
    category = None
    if kind == "task":
        category = doc.identifier(entry, "category")
        if category and known.categories is not None and category not in known.categories:
            doc.problem("category", f"类别“{category}”未在 {PLAN_FILE} 中定义")
    elif "category" in entry:
        doc.problem("category", "组织保障不属于任何类别，请删除 category")
    applies_to = _applies_to(doc, entry.get("applies_to"), "applies_to", known)
    forms: list[str] = []
    for index, item in enumerate(doc.items(entry, "forms")):
        where = f"forms[{index}]"
        form_id = doc.identifier_value(item, where)
        if form_id is None:
            continue
        if form_id not in known.forms and form_id not in known.broken_forms and known.forms_loaded:
            doc.problem(where, f"表单 {form_id} 未在 {FORMS_FILE} 中定义")
        forms.append(form_id)
    ctx = _TaskContext(doc, known, tuple(forms), kind)
    indicators = []
    for index, item in enumerate(doc.items(entry, "indicators")):
        indicator = _indicator(ctx, task_id or "", applies_to, item, f"indicators[{index}]")
        if indicator is not None:
            indicators.append(indicator)
    for repeated in sorted(duplicates([i.id for i in indicators])):
        doc.problem("indicators", f"指标标识“{repeated}”在本任务中重复")
    checklist = _checklist(ctx, doc.items(entry, "checklist"), "checklist")
    if not body.strip():
        doc.problem("", "正文为空（应为方案原文）")
    if len(problems) > before:
        return None
    assert task_id and number is not None and title
    return Task(
        id=task_id,
        number=number,
        title=title,
        body=body.strip() + "\n",
        kind=kind,
        category=category,
        applies_to=applies_to,
        forms=tuple(forms),
        indicators=tuple(indicators),
        checklist=tuple(checklist),
        source=file,
    )


def _task_files(root: Path, folder: str) -> list[str]:
    directory = root / folder
    if not directory.is_dir():
        return []
    return sorted(f"{folder}/{path.name}" for path in directory.glob("*.md") if path.is_file())


def _read_tasks(root: Path, problems: list[Problem], known: _Known) -> list[Task]:
    tasks: list[Task] = []
    task_files = _task_files(root, TASKS_DIR)
    if not task_files:
        problems.append(Problem(TASKS_DIR, "", "没有任何任务文件（*.md）"))
    for kind, files in (("task", task_files), ("guarantee", _task_files(root, GUARANTEES_DIR))):
        for file in files:
            task = _read_task(root, file, cast(Literal["task", "guarantee"], kind), problems, known)
            if task is not None:
                tasks.append(task)
    first_file: dict[str, str] = {}
    for task in tasks:
        if task.id in first_file:
            problems.append(
                Problem(task.source, "id", f"任务标识“{task.id}”与 {first_file[task.id]} 重复")
            )
        else:
            first_file[task.id] = task.source
    for kind in ("task", "guarantee"):
        numbers: dict[int, str] = {}
        for task in tasks:
            if task.kind != kind:
                continue
            if task.number in numbers:
                problems.append(
                    Problem(
                        task.source, "number", f"编号 {task.number} 与 {numbers[task.number]} 重复"
                    )
                )
            else:
                numbers[task.number] = task.source
    return sorted(tasks, key=lambda t: (t.kind != "task", t.number, t.id))


# ------------------------------------------------------------------ content


def read_content(root: Path) -> tuple[Content | None, list[Problem]]:
    """Load the plan, collecting every problem; Content is None when the plan cannot be built.

    With problems the Content (if any) holds only the parts that loaded; use
    `load_content` unless you are reporting problems.
    """
    root = Path(root)
    problems: list[Problem] = []
    known = _Known()
    plan = _read_plan(root, problems, known)
    periods = _read_calendar(root, problems, known)
    units = _read_units(root, problems, known)
    forms = _read_forms(root, problems, known)
    tasks = _read_tasks(root, problems, known)
    if plan is None:
        return None, problems
    content = Content(
        plan=plan,
        tasks=tuple(tasks),
        units=tuple(units),
        periods=tuple(periods),
        forms=tuple(forms),
    )
    return content, problems


def load_content(root: Path) -> Content:
    """The plan in `root` (content/ and schemas/); raises ContentError with every problem."""
    content, problems = read_content(root)
    if problems or content is None:
        raise ContentError(sort_problems(problems))
    return content
