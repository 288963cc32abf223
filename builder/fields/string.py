"""Free text: notes, names, explanations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.fields.base import SHORT_TEXT_LIMIT, FieldType

if TYPE_CHECKING:
    from wtforms.fields.core import Field

    from builder.model import FormField


class StringType(FieldType):
    name = "string"
    type_message = "请输入文字"

    def clean_text(self, raw: str) -> str:
        return raw  # the reporter's text, blanks included

    def widget(self, field: FormField) -> str:
        if field.enum:
            return "select"
        if field.max_length is None or field.max_length > SHORT_TEXT_LIMIT:
            return "textarea"
        return "text"

    def html_attributes(self, field: FormField) -> dict[str, Any]:
        attributes = super().html_attributes(field)
        if field.max_length is not None:
            attributes["maxlength"] = field.max_length
        return attributes

    def form_field(self, field: FormField, options: dict[str, Any]) -> Field:
        from wtforms import TextAreaField

        if self.widget(field) == "textarea":
            options["render_kw"]["rows"] = 4
            return TextAreaField(**options)
        return super().form_field(field, options)


FIELD_TYPE = StringType()
