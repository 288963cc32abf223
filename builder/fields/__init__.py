"""Form field types: one module each, looked up by their Frictionless type name.

Adding a field type is adding a module with a `FIELD_TYPE` (a `FieldType` subclass instance)
and its line in `FIELD_TYPES` below, plus a paragraph in `content/README.md`.
"""

from __future__ import annotations

from builder.fields import boolean, date, integer, number, string
from builder.fields.base import FieldType

FIELD_TYPES: dict[str, FieldType] = {
    module.FIELD_TYPE.name: module.FIELD_TYPE for module in (integer, number, boolean, string, date)
}

# The types an indicator may count with (sum, latest, ratio) and the types that answer a
# yes/no indicator or checklist item, in registry order (the plan editor's messages list them).
NUMERIC_TYPES: tuple[str, ...] = tuple(n for n, t in FIELD_TYPES.items() if t.numeric)
YES_NO_TYPES: tuple[str, ...] = tuple(n for n, t in FIELD_TYPES.items() if t.yes_no)

__all__ = ["FIELD_TYPES", "NUMERIC_TYPES", "YES_NO_TYPES", "FieldType", "field_type"]


def field_type(name: str) -> FieldType:
    """The type of that name; KeyError for a type the plan loader would have refused."""
    return FIELD_TYPES[name]
