"""Whole numbers: counts of people, meetings, activities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.fields.number import NumberType

if TYPE_CHECKING:
    from wtforms.fields.core import Field

    from builder.model import FormField


class IntegerType(NumberType):
    name = "integer"
    type_message = "请输入整数"
    step = "1"
    input_mode = "numeric"

    def exported(self, value: Any, descriptor: dict[str, Any]) -> Any:
        # JSON gives 3.0 for an integer field.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return super().exported(value, descriptor)

    def shown(self, value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return super().shown(value)

    def form_field(self, field: FormField, options: dict[str, Any]) -> Field:
        from wtforms import IntegerField

        if field.enum:
            return super().form_field(field, options)
        return IntegerField(**options)


FIELD_TYPE = IntegerType()
