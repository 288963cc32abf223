"""Calendar dates: when a meeting was held, a measure completed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.fields.base import FieldType

if TYPE_CHECKING:
    from wtforms.fields.core import Field

    from builder.model import FormField


class DateType(FieldType):
    name = "date"
    type_message = "请输入有效日期（格式：YYYY-MM-DD）"
    takes_bounds = True

    def widget(self, field: FormField) -> str:
        return "select" if field.enum else "date"

    def form_field(self, field: FormField, options: dict[str, Any]) -> Field:
        from wtforms import DateField

        if field.enum:
            return super().form_field(field, options)
        return DateField(**options)


FIELD_TYPE = DateType()
