"""content/forms.yml (which forms, for which periods and units) and each form's Table
Schema in schemas/forms/<id>.json (its fields)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frictionless

from builder.documents import Document, duplicates, read_json, read_yaml_mapping
from builder.fields import FIELD_TYPES, FieldType
from builder.model import (
    FIELD_NAME,
    CheckOperand,
    Form,
    FormCheck,
    FormField,
    HistoryCheck,
    Problem,
)
from builder.plan.applies_to import read_applies_to, read_ids
from builder.plan.files import FORM_SCHEMAS_DIR, FORMS_FILE
from builder.plan.references import Reference

FORM_KEYS = {"id", "periods", "applies_to", "checks"}
CHECK_KEYS = {"field", "sum", "not_above", "equals", "level", "message"}
HISTORY_CHECK_KEYS = {"field", "history", "level", "message"}
HISTORY_KEYS = {"cumulative", "max_factor"}
RELATIONS = {"not_above": "不大于", "equals": "等于"}
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


@dataclass
class FormsFile:
    forms: list[Form] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # forms whose schema did not load
    references: list[Reference] = field(default_factory=list)


def read_forms(root: Path, problems: list[Problem]) -> FormsFile:
    read = FormsFile()
    loaded = read_yaml_mapping(root, FORMS_FILE, problems)
    if loaded is None:
        return read
    doc, data = loaded
    doc.keys(data, {"forms"}, "")
    ids: list[str] = []
    for index, item in enumerate(doc.items(data, "forms", required=True)):
        path = f"forms[{index}]"
        entry = doc.mapping(item, path, "表单")
        if entry is None:
            continue
        doc.keys(entry, FORM_KEYS, path)
        form_id = doc.identifier(entry, "id", path)
        if form_id is None:
            continue
        ids.append(form_id)
        periods = read_ids(doc, entry, "periods", path, "period", read.references, required=True)
        for repeated in sorted(duplicates(periods)):
            doc.problem(f"{path}.periods", f"报送周期“{repeated}”重复")
        applies_to = read_applies_to(
            doc, entry.get("applies_to"), f"{path}.applies_to", read.references
        )
        schema = _read_form_schema(root, form_id, problems)
        if schema is None:
            read.broken.add(form_id)
            continue
        schema_path, descriptor, fields = schema
        read_checks = _read_checks(
            doc, entry.get("checks"), f"{path}.checks", fields, read.references
        )
        if read_checks is None:
            read.broken.add(form_id)
            continue
        checks, history_checks = read_checks
        read.forms.append(
            Form(
                id=form_id,
                title=str(descriptor.get("title", form_id)),
                description=str(descriptor.get("description", "") or ""),
                schema_path=schema_path,
                fields=tuple(fields),
                periods=tuple(periods),
                applies_to=applies_to,
                checks=tuple(checks),
                history_checks=tuple(history_checks),
                descriptor=descriptor,
            )
        )
    for repeated in sorted(duplicates(ids)):
        doc.problem("forms", f"表单标识“{repeated}”重复")
    return read


def _read_checks(
    doc: Document, value: Any, path: str, fields: list[FormField], references: list[Reference]
) -> tuple[list[FormCheck], list[HistoryCheck]] | None:
    """A form's checks across its fields and against the unit registry, and its checks
    against the unit's earlier report; None on a problem."""
    if value is None:
        return [], []
    before = len(doc.problems)
    numeric = {f.name for f in fields if FIELD_TYPES[f.type].numeric}

    def field_name(name: Any, where: str) -> str | None:
        if name not in numeric:
            doc.problem(
                where, f"“{name}”不是本表单的数值字段（可用：{'、'.join(sorted(numeric))}）"
            )
            return None
        return str(name)

    checks = []
    history_checks = []
    for index, item in enumerate(value if isinstance(value, list) else [value]):
        where = f"{path}[{index}]"
        entry = doc.mapping(item, where, "校验规则")
        if entry is None:
            continue
        if "history" in entry:
            history_check = _history_check(doc, entry, where, field_name)
            if history_check is not None:
                history_checks.append(history_check)
            continue
        check = _form_check(doc, entry, where, field_name, references)
        if check is not None:
            checks.append(check)
    return None if len(doc.problems) > before else (checks, history_checks)


def _form_check(
    doc: Document,
    entry: dict[str, Any],
    where: str,
    field_name: Callable[[Any, str], str | None],
    references: list[Reference],
) -> FormCheck | None:
    """`{field or sum, not_above or equals, level, message}`: a field, or the sum of
    several, against another field, a number or a unit registry column."""
    doc.keys(entry, CHECK_KEYS, where)
    if ("field" in entry) == ("sum" in entry):
        doc.problem(where, "应当且只能设置 field（一个字段）或 sum（字段列表）之一")
        return None
    names = [entry["field"]] if "field" in entry else entry["sum"]
    if not isinstance(names, list) or not names:
        doc.problem(f"{where}.sum", "应为字段名列表")
        return None
    checked = [
        field_name(name, f"{where}.{'field' if 'field' in entry else 'sum'}") for name in names
    ]
    relations = [key for key in RELATIONS if key in entry]
    if len(relations) != 1:
        doc.problem(where, "应当且只能设置 not_above（不大于）或 equals（等于）之一")
        return None
    relation = relations[0]
    other = _check_operand(doc, entry[relation], f"{where}.{relation}", field_name, references)
    level = entry.get("level", "error")
    if level not in ("error", "warning"):
        doc.problem(
            f"{where}.level",
            f"level 应为 error（拒绝提交）或 warning（需说明），而不是“{level}”",
        )
        return None
    message = doc.text(entry, "message", where, required=False) or ""
    if other is None or None in checked:
        return None
    return FormCheck(
        fields=tuple(name for name in checked if name is not None),
        relation=relation,  # type: ignore[arg-type]
        other=other,
        level=level,
        message=message,
    )


def _history_check(
    doc: Document, entry: dict[str, Any], where: str, field_name: Callable[[Any, str], str | None]
) -> HistoryCheck | None:
    """`{field, history: {cumulative, max_factor}}`: a field against the unit's earlier
    report of the form. Only a warning: an earlier period approved late can make a figure
    odd after it was submitted."""
    doc.keys(entry, HISTORY_CHECK_KEYS, where)
    if "field" not in entry:
        doc.problem(where, "缺少 field（与上次填报比较的数值字段）")
        return None
    name = field_name(entry["field"], f"{where}.field")
    history = doc.mapping(entry["history"], f"{where}.history", "与上次填报的比较")
    if history is None:
        return None
    doc.keys(history, HISTORY_KEYS, f"{where}.history")
    cumulative = doc.boolean(history, "cumulative", f"{where}.history")
    max_factor = None
    if "max_factor" in history:
        max_factor = doc.number(history["max_factor"], f"{where}.history.max_factor")
        if max_factor is not None and max_factor <= 1:
            doc.problem(f"{where}.history.max_factor", f"应大于 1，而不是 {history['max_factor']}")
            return None
    if not cumulative and max_factor is None:
        doc.problem(
            f"{where}.history", "应设置 cumulative: true（累计数不应减少）或 max_factor（倍数上限）"
        )
        return None
    if entry.get("level", "warning") != "warning":
        doc.problem(
            f"{where}.level",
            f"与上次填报的比较只能是 warning（需说明），而不是“{entry['level']}”",
        )
        return None
    message = doc.text(entry, "message", where, required=False) or ""
    if name is None:
        return None
    return HistoryCheck(name, cumulative=cumulative, max_factor=max_factor, message=message)


def _check_operand(
    doc: Document,
    value: Any,
    where: str,
    field_name: Callable[[Any, str], str | None],
    references: list[Reference],
) -> CheckOperand | None:
    entry = doc.mapping(value, where, "比较对象")
    if entry is None:
        return None
    doc.keys(entry, {"field", "unit"}, where)
    if ("field" in entry) == ("unit" in entry):
        doc.problem(where, "应当且只能设置 field（本表单字段）或 unit（单位数据列）之一")
        return None
    if "field" in entry:
        name = field_name(entry["field"], f"{where}.field")
        return None if name is None else CheckOperand(field=name)
    column = doc.identifier_value(entry["unit"], f"{where}.unit")
    if column is None:
        return None
    references.append(Reference(doc.file, f"{where}.unit", "attribute", column))
    return CheckOperand(unit_column=column)


def frictionless_schema(
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


def _read_form_schema(
    root: Path, form_id: str, problems: list[Problem]
) -> tuple[str, dict[str, Any], list[FormField]] | None:
    file = f"{FORM_SCHEMAS_DIR}/{form_id}.json"
    before = len(problems)
    descriptor = read_json(root, file, problems)
    if descriptor is None:
        return None
    schema = frictionless_schema(file, descriptor, problems)
    if schema is None:
        return None
    if not descriptor.get("title"):
        problems.append(Problem(file, "title", "缺少 title（表单的中文名称）"))
    doc = Document(file, problems)
    read = [_form_field(doc, index, field_) for index, field_ in enumerate(schema.fields)]
    fields = [field_ for field_ in read if field_ is not None]
    for repeated in sorted(duplicates([f.name for f in fields])):
        doc.problem(f"fields.{repeated}", f"字段名“{repeated}”重复")
    if not fields and len(problems) == before:
        problems.append(Problem(file, "fields", "表单没有任何字段"))
    if len(problems) > before:
        return None
    return file, descriptor, fields


def _form_field(doc: Document, index: int, field_: frictionless.Field) -> FormField | None:
    if not FIELD_NAME.fullmatch(field_.name or ""):
        doc.problem(
            f"fields[{index}].name",
            f"字段名“{field_.name}”无效（只能使用小写字母、数字和 _，以字母开头，最长 63 个字符）",
        )
        return None
    path = f"fields.{field_.name}"
    kind = FIELD_TYPES.get(field_.type)
    if kind is None:
        doc.problem(
            f"{path}.type",
            f"表单不支持字段类型“{field_.type}”（可用：{'、'.join(FIELD_TYPES)}）",
        )
        return None
    if not field_.title:
        doc.problem(f"{path}.title", "缺少 title（字段的中文标签）")
    constraints: dict[str, Any] = dict(field_.constraints or {})
    if not _constraints_ok(doc, path, kind, constraints):
        return None
    numeric = kind.numeric
    enum = constraints.get("enum")
    return FormField(
        name=field_.name,
        type=field_.type,
        title=field_.title or field_.name,
        description=field_.description or "",
        required=bool(constraints.get("required", False)),
        minimum=float(constraints["minimum"]) if numeric and "minimum" in constraints else None,
        maximum=float(constraints["maximum"]) if numeric and "maximum" in constraints else None,
        max_length=constraints.get("maxLength"),
        enum=tuple(enum) if isinstance(enum, list) and enum else None,
    )


def _constraints_ok(doc: Document, path: str, kind: FieldType, constraints: dict[str, Any]) -> bool:
    """Report bounds and lengths that do not fit the field's type; an empty enum too
    (that one does not make the field unusable: it is read as no enum)."""
    ok = True
    for bound in BOUNDS:
        if bound not in constraints:
            continue
        if kind.numeric:
            value = constraints[bound]
            if isinstance(value, bool) or not isinstance(value, int | float):
                doc.problem(f"{path}.constraints.{bound}", "应为数字")
                ok = False
        elif not kind.takes_bounds:
            doc.problem(f"{path}.constraints.{bound}", f"{kind.name} 类型的字段不能设置 {bound}")
            ok = False
    for length in ("minLength", "maxLength"):
        value = constraints.get(length)
        natural = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        if value is not None and not natural:
            doc.problem(f"{path}.constraints.{length}", "应为非负整数")
            ok = False
    enum = constraints.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        doc.problem(f"{path}.constraints.enum", "应为非空列表")
    return ok
