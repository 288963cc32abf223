"""Numbers with decimals: amounts, rates."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from builder.fields.base import FieldType, bound_text

if TYPE_CHECKING:
    from wtforms.fields.core import Field

    from builder.model import FormField


class NumberType(FieldType):
    name = "number"
    type_message = "请输入数字"
    takes_bounds = True
    numeric = True
    step: ClassVar[str] = "any"
    input_mode: ClassVar[str] = "decimal"

    def refuses(self, raw: object) -> bool:
        # NaN and Infinity are numbers to Python and Decimal but no report's value: JSON has
        # no literal for them and every bound compares false against NaN.
        if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
            return False
        try:
            return not Decimal(str(raw).strip()).is_finite()
        except ArithmeticError:
            return False  # not a number at all: Frictionless says so

    def widget(self, field: FormField) -> str:
        return "select" if field.enum else "number"

    def html_attributes(self, field: FormField) -> dict[str, Any]:
        attributes = super().html_attributes(field)
        if field.minimum is not None:
            attributes["min"] = bound_text(field.minimum)
        if field.maximum is not None:
            attributes["max"] = bound_text(field.maximum)
        attributes["step"] = self.step
        attributes["inputmode"] = self.input_mode
        return attributes

    def form_field(self, field: FormField, options: dict[str, Any]) -> Field:
        from wtforms import DecimalField

        if field.enum:
            return super().form_field(field, options)
        return DecimalField(**options)


FIELD_TYPE = NumberType()
