"""Yes/no answers: a checklist item done, a measure in place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.fields.base import FieldType

if TYPE_CHECKING:
    from wtforms.fields.core import Field

    from builder.model import FormField


class BooleanType(FieldType):
    name = "boolean"
    type_message = "请选择“是”或“否”"
    yes_no = True

    def shown(self, value: Any) -> str:
        # A posted draft holds "true"/"false"; a report holds true/false.
        if value == "true":
            return "是"
        if value == "false":
            return "否"
        return super().shown(value)

    def widget(self, field: FormField) -> str:
        return "select" if field.enum else "radio"

    def form_field(self, field: FormField, options: dict[str, Any]) -> Field:
        from wtforms import RadioField
        from wtforms.fields.choices import SelectChoice

        if field.enum:
            return super().form_field(field, options)
        options["render_kw"].pop("required", None)  # set per radio button by the template
        choices = [SelectChoice("true", "是"), SelectChoice("false", "否")]
        return RadioField(choices=choices, validate_choice=False, **options)


FIELD_TYPE = BooleanType()
