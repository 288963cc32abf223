"""content/units.csv, read with the Table Schema in schemas/units.schema.json.

The schema declares the columns and their constraints (Frictionless checks each cell);
`id`, `name` and `type` are required, every other boolean column is a flag (usable in
applies_to) and every other integer column an attribute (usable as a ratio denominator).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frictionless

from builder.documents import IDENTIFIER_MESSAGE, duplicates, read_json, read_text
from builder.model import Problem, Unit, is_identifier
from builder.plan.files import UNITS_FILE, UNITS_SCHEMA_FILE
from builder.plan.forms import frictionless_schema
from builder.plan.references import Reference
from builder.records import cell_error_message, cell_reader

# The unit columns every plan has.
UNIT_CORE_COLUMNS = ("id", "name", "type")
# The optional column of a unit's short names, separated by ALIAS_SEPARATOR.
ALIASES_COLUMN = "aliases"
ALIAS_SEPARATOR = "|"


@dataclass
class UnitsFile:
    """units.csv as read: its rows that have the shape of a unit, with their row numbers."""

    rows: list[tuple[int, Unit]] = field(default_factory=list)
    flags: set[str] | None = None  # None when the schema is broken
    attributes: set[str] | None = None
    references: list[Reference] = field(default_factory=list)


def read_units(root: Path, problems: list[Problem]) -> UnitsFile:
    schema = _read_schema(root, problems)
    if schema is None:
        return UnitsFile()
    extra = [f for f in schema.fields if f.name not in UNIT_CORE_COLUMNS]
    flag_columns = [f.name for f in extra if f.type == "boolean"]
    attribute_columns = [f.name for f in extra if f.type == "integer"]
    read = UnitsFile(flags=set(flag_columns), attributes=set(attribute_columns))
    text = read_text(root, UNITS_FILE, problems)
    if text is None:
        return read
    rows = csv.reader(text.splitlines())
    header = _read_header(next(rows, None), schema, problems)
    if header is None:
        return read
    for number, values in _read_rows(rows, header, schema, problems):
        unit_type = values.get("type")
        if unit_type is not None:
            where = f"row {number}: type"
            read.references.append(Reference(UNITS_FILE, where, "unit_type", unit_type))
        if values.get("id") is None or values.get("name") is None or unit_type is None:
            continue
        unit = Unit(
            id=values["id"],
            name=values["name"],
            type=unit_type,
            flags={name: bool(values.get(name)) for name in flag_columns},
            attributes={
                name: values[name] for name in attribute_columns if values.get(name) is not None
            },
            aliases=aliases_of(values.get(ALIASES_COLUMN)),
        )
        read.rows.append((number, unit))
    return read


def aliases_of(cell: object) -> tuple[str, ...]:
    """The aliases of an `aliases` cell: "卫生局|卫生" -> ("卫生局", "卫生")."""
    if not isinstance(cell, str):
        return ()
    names = (" ".join(name.split()) for name in cell.split(ALIAS_SEPARATOR))
    return tuple(dict.fromkeys(name for name in names if name))


def _read_schema(root: Path, problems: list[Problem]) -> frictionless.Schema | None:
    descriptor = read_json(root, UNITS_SCHEMA_FILE, problems)
    if descriptor is None:
        return None
    schema = frictionless_schema(UNITS_SCHEMA_FILE, descriptor, problems)
    if schema is None:
        return None
    before = len(problems)
    for column in UNIT_CORE_COLUMNS:
        if column not in schema.field_names:
            problems.append(Problem(UNITS_SCHEMA_FILE, "fields", f"缺少必需的列“{column}”"))
        elif schema.get_field(column).type != "string":
            where, message = f"fields.{column}.type", f"列“{column}”的类型应为 string"
            problems.append(Problem(UNITS_SCHEMA_FILE, where, message))
    for column in schema.field_names:
        if column not in UNIT_CORE_COLUMNS and not is_identifier(column):
            message = f"列名“{column}”{IDENTIFIER_MESSAGE}"
            problems.append(Problem(UNITS_SCHEMA_FILE, f"fields.{column}", message))
    return schema if len(problems) == before else None


def _read_header(
    header: list[str] | None, schema: frictionless.Schema, problems: list[Problem]
) -> list[str] | None:
    """The header's column names; None (after reporting why) when it does not match."""
    if header is None:
        problems.append(Problem(UNITS_FILE, "", "文件为空，缺少表头"))
        return None
    before = len(problems)
    names = [name.strip() for name in header]
    for repeated in sorted(duplicates(names)):
        problems.append(Problem(UNITS_FILE, "row 1", f"列“{repeated}”重复"))
    for name in names:
        if name not in schema.field_names:
            message = f"列“{name}”未在 {UNITS_SCHEMA_FILE} 中声明"
            problems.append(Problem(UNITS_FILE, "row 1", message))
    for name in schema.field_names:
        if name not in names:
            problems.append(Problem(UNITS_FILE, "row 1", f"缺少列“{name}”"))
    return names if len(problems) == before else None


def _read_rows(
    rows: Iterator[list[str]],
    header: list[str],
    schema: frictionless.Schema,
    problems: list[Problem],
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, values by column) of each row of the right width; a cell that breaks
    its column's type or constraints is a problem and reads as None."""
    fields = [schema.get_field(name) for name in header]
    # A cell reader is a pure function of the text, and most columns repeat a few texts
    # (types, flags, small counts) over thousands of rows: each text is read once.
    readers = [functools.cache(cell_reader(f) or f.read_cell) for f in fields]
    unique = [
        f.name for f in schema.fields if f.name == "id" or (f.constraints or {}).get("unique")
    ]
    seen: dict[str, dict[Any, int]] = {name: {} for name in unique}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(header):
            message = f"有 {len(row)} 列，表头有 {len(header)} 列"
            problems.append(Problem(UNITS_FILE, f"row {number}", message))
            continue
        values: dict[str, Any] = {}
        for field_, read_cell, cell in zip(fields, readers, row, strict=True):
            value, notes = read_cell(cell.strip())
            if notes:
                message = cell_error_message(field_, notes, cell.strip())
                problems.append(Problem(UNITS_FILE, f"row {number}: {field_.name}", message))
                value = None  # Frictionless returns the value even when it fails a constraint
            values[field_.name] = value
        for name in unique:
            value = values.get(name)
            if value is None:
                continue
            if value in seen[name]:
                message = f"“{value}”与第 {seen[name][value]} 行重复"
                problems.append(Problem(UNITS_FILE, f"row {number}: {name}", message))
            else:
                seen[name][value] = number
        unit_id = values.get("id")
        if unit_id is not None and not is_identifier(unit_id):
            message = f"“{unit_id}”{IDENTIFIER_MESSAGE}"
            problems.append(Problem(UNITS_FILE, f"row {number}: id", message))
        yield number, values
