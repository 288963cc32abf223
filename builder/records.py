"""Read one submission's values against its form's Frictionless Table Schema.

Used by the form service (values posted from an HTML form: every value a string, "" for
empty) and by `plansite validate` (values from a report file: JSON values). Reading is
field by field with Frictionless' own cell reader, so the form service, the validator and
`frictionless validate` on the exported data package agree on what a valid value is.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import frictionless

from builder.fields import FIELD_TYPES
from builder.model import Form, Problem

REQUIRED_MESSAGE = "此项为必填项"
UNKNOWN_FIELD_MESSAGE = "表单中没有此字段"
BROKEN_SCHEMA_MESSAGE = "表单结构有误，无法校验此项，请联系方案管理员"

# Messages for the Frictionless types a unit registry column may have beyond the form
# field types (builder.fields), which carry their own.
REGISTRY_TYPE_MESSAGES: dict[str, str] = {
    "datetime": "请输入有效的日期和时间",
    "time": "请输入有效时间（格式：HH:MM）",
    "year": "请输入有效年份",
}
OTHER_TYPE_MESSAGE = "格式不正确"
OUT_OF_RANGE_MESSAGE = "数值超出可处理的范围"

# Frictionless reports several failed constraints at once; a person needs one message,
# the most basic one first (a missing value before a wrong type before a bound).
ERROR_ORDER = (
    "required",
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
)

_CACHE_SIZE = 256
CellReader = Callable[[Any], tuple[Any, Any]]
_schemas: OrderedDict[
    int, tuple[dict[str, Any], frictionless.Schema, dict[str, CellReader | None]]
] = OrderedDict()
_schemas_lock = threading.Lock()


def form_schema(form: Form) -> frictionless.Schema:
    """The Frictionless schema of a form, built once per descriptor.

    Keyed by the descriptor object's identity; the cache holds a reference to the
    descriptor so the identity cannot be reused while the entry lives.
    """
    return _cached_schema(form)[0]


def _cached_schema(form: Form) -> tuple[frictionless.Schema, dict[str, CellReader | None]]:
    # With each schema, its fields' cell readers: Field.read_cell builds a new reader on
    # every call, which was half the cost of reading a record in the form service.
    key = id(form.descriptor)
    with _schemas_lock:
        entry = _schemas.get(key)
        if entry is not None and entry[0] is form.descriptor:
            _schemas.move_to_end(key)
            return entry[1], entry[2]
    schema = frictionless.Schema.from_descriptor(form.descriptor)
    readers = {field.name: cell_reader(field) for field in schema.fields}
    with _schemas_lock:
        _schemas[key] = (form.descriptor, schema, readers)
        while len(_schemas) > _CACHE_SIZE:
            _schemas.popitem(last=False)
    return schema, readers


def cell_reader(field: frictionless.Field) -> CellReader | None:
    """The field's cell reader, built once for many cells; None when a constraint is broken."""
    try:
        return field.create_cell_reader()
    except (ArithmeticError, TypeError, ValueError):
        return None  # a broken constraint: read_cell reports it for each value, as before


def format_bound(value: object) -> str:
    """A constraint value as a person reads it: 10 rather than 10.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def cell_error_message(
    field: frictionless.Field, notes: Mapping[str, str], raw: object = None
) -> str:
    """The Chinese message for the first (most basic) error Frictionless noted on a cell."""
    constraints: Mapping[str, Any] = field.constraints or {}
    error = next((e for e in ERROR_ORDER if e in notes), next(iter(notes)))
    bound = format_bound(constraints.get(error))
    match error:
        case "required":
            return REQUIRED_MESSAGE
        case "type":
            return type_message(field.type)
        case "minimum":
            return f"不能小于 {bound}"
        case "maximum":
            return f"不能大于 {bound}"
        case "exclusiveMinimum":
            return f"必须大于 {bound}"
        case "exclusiveMaximum":
            return f"必须小于 {bound}"
        case "minLength":
            return f"不能少于 {bound} 个字"
        case "maxLength":
            return f"不能超过 {bound} 个字"
        case "pattern":
            return "格式不正确"
        case "enum":
            allowed = "、".join(str(option) for option in constraints.get("enum") or ())
            if raw is None or not allowed:
                return "请从给定选项中选择"
            return f"“{raw}”不是可选值，请从以下选项中选择：{allowed}"
        case _:
            return OTHER_TYPE_MESSAGE


def type_message(frictionless_type: str) -> str:
    """The Chinese message for a value that is not of the type."""
    known = FIELD_TYPES.get(frictionless_type)
    if known is not None:
        return known.type_message
    return REGISTRY_TYPE_MESSAGES.get(frictionless_type, OTHER_TYPE_MESSAGE)


def read_cell(
    field: frictionless.Field, raw: object, reader: CellReader | None = None
) -> tuple[Any, str | None]:
    """Type one value; returns (value, Chinese error or None). Blank text counts as missing.

    `reader` is the field's cell reader when the caller has one built already."""
    kind = FIELD_TYPES.get(field.type)
    if isinstance(raw, str):
        raw = kind.clean_text(raw) if kind is not None else raw.strip()
        if not raw.strip():
            raw = None
    if isinstance(raw, list | dict) or (kind is not None and kind.refuses(raw)):
        return None, type_message(field.type)
    try:
        value, notes = (reader or field.read_cell)(raw)
    except ArithmeticError:
        # Decimal signalling on odd input ("sNaN") while comparing with a bound.
        return None, type_message(field.type)
    except (TypeError, ValueError):
        # A constraint of the wrong type in the schema (e.g. minimum: "x"); the loader
        # reports it to the plan editor, the person filling the form cannot fix it.
        return None, BROKEN_SCHEMA_MESSAGE
    if notes:
        return None, cell_error_message(field, notes, raw)
    if isinstance(value, Decimal):
        value = float(value)
        if not math.isfinite(value):  # 1e400 is a finite Decimal but an infinite float
            return None, OUT_OF_RANGE_MESSAGE
    return value, None


def read_record(
    form: Form, raw: Mapping[str, object], *, ignore: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, str]]:
    """Type and check one submission's values against the form's schema.

    `raw` holds strings (an HTML form post; "" = missing) or JSON values (a report file).
    Keys in `ignore` (e.g. a CSRF token or a submit button) are skipped.
    Returns (values, errors): typed values of the fields that have one (int, float, bool,
    str, datetime.date ...; missing values are left out) and a Chinese message per field
    name for every field in error, including keys the form does not have.
    """
    schema, readers = _cached_schema(form)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in schema.fields:
        value, error = read_cell(field, raw.get(field.name), readers[field.name])
        if error is not None:
            errors[field.name] = error
        elif value is not None:
            values[field.name] = value
    known = set(schema.field_names)
    for key in raw:
        if key not in known and key not in ignore:
            errors[str(key)] = UNKNOWN_FIELD_MESSAGE
    return values, errors


def json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values as they are written to a report file (dates as ISO 8601 text)."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, date | datetime | time):
            result[name] = value.isoformat()
        elif isinstance(value, Decimal):
            result[name] = float(value)
        else:
            result[name] = value
    return result


def record_errors_to_problems(file: str, errors: Mapping[str, str]) -> list[Problem]:
    """Errors of a report's values as validation problems, located at `values.<field>`."""
    return [Problem(file, f"values.{name}", message) for name, message in errors.items()]
