"""`applies_to` (tasks, indicators, forms) and lists of ids, with the references they hold."""

from __future__ import annotations

from typing import Any

from builder.documents import Document
from builder.model import ALL_UNITS, AppliesTo
from builder.plan.references import Kind, Reference


def read_ids(
    doc: Document,
    entry: dict[str, Any],
    key: str,
    path: str,
    kind: Kind,
    references: list[Reference],
    *,
    required: bool = False,
) -> list[str]:
    """The identifiers listed under `key`, each noted as a reference to check."""
    values: list[str] = []
    for index, item in enumerate(doc.items(entry, key, path, required=required)):
        where = f"{path}.{key}[{index}]"
        value = doc.identifier_value(item, where)
        if value is not None:
            references.append(Reference(doc.file, where, kind, value))
            values.append(value)
    return values


def read_applies_to(doc: Document, value: Any, path: str, references: list[Reference]) -> AppliesTo:
    if value is None or value == "all":
        return ALL_UNITS
    entry = doc.mapping(value, path, "applies_to（all 或 unit_types/flags）")
    if entry is None:
        return ALL_UNITS
    doc.keys(entry, {"unit_types", "flags"}, path)
    unit_types = read_ids(doc, entry, "unit_types", path, "unit_type", references)
    flags = read_ids(doc, entry, "flags", path, "flag", references)
    return AppliesTo(unit_types=tuple(unit_types), flags=tuple(flags))
