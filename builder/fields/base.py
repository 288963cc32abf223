"""What a form field type is: everything plansite does with a value of that type.

A field type is named by its Frictionless type (`integer`, `date` ...): the form schemas in
`schemas/forms/` use that name, Frictionless reads and checks the value, and the type says
the rest: the message for a value that is not of the type, which constraints the plan may
set, the input the form service renders, and how a value is shown and exported.
"""

from __future__ import annotations

from datetime import date, time
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from wtforms.fields.core import Field

    from builder.model import FormField

# Strings allowed longer than this get a text area.
SHORT_TEXT_LIMIT = 100


def bound_text(value: float | None) -> str | None:
    """A bound as an HTML attribute: 10 rather than 10.0."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


class FieldType:
    """The behaviour shared by every type; each type's module overrides what differs."""

    name: ClassVar[str]
    # The Chinese message for a value that is not of this type.
    type_message: ClassVar[str] = "格式不正确"
    # Which range constraints (minimum, maximum, exclusive*) the plan may set, and whether
    # they must be numbers.
    takes_bounds: ClassVar[bool] = False
    numeric: ClassVar[bool] = False
    # Can answer a yes/no indicator or checklist item.
    yes_no: ClassVar[bool] = False

    def clean_text(self, raw: str) -> str:
        """Posted text before Frictionless reads it: blanks around a typed value are a typing
        accident, not data."""
        return raw.strip()

    def refuses(self, raw: object) -> bool:
        """True for a raw value Frictionless would accept but no report may hold."""
        return False

    def exported(self, value: Any, descriptor: dict[str, Any]) -> Any:
        """A report value as its exported column expects it."""
        fmt = descriptor.get("format")
        if isinstance(value, date | time) and isinstance(fmt, str) and fmt.startswith("%"):
            return value.strftime(fmt)
        return value

    def shown(self, value: Any) -> str:
        """A present value as the site, the check page and the review queue show it."""
        if isinstance(value, bool):  # a yes/no, whatever field holds it
            return "是" if value else "否"
        return str(value)

    def widget(self, field: FormField) -> str:
        """How the form template lays the input out: select, radio, textarea, date, number or
        text."""
        return "select" if field.enum else "text"

    def html_attributes(self, field: FormField) -> dict[str, Any]:
        """HTML attributes carrying the schema's constraints, for the user's benefit only: the
        server checks every value with Frictionless."""
        attributes: dict[str, Any] = {}
        if field.required:
            attributes["required"] = True
            attributes["aria-required"] = "true"
        return attributes

    def form_field(self, field: FormField, options: dict[str, Any]) -> Field:
        """The WTForms field of the form service."""
        from wtforms import SelectField, StringField
        from wtforms.fields.choices import SelectChoice

        if field.enum:
            choices = [SelectChoice("", "请选择")]
            choices += [SelectChoice(str(value), str(value)) for value in field.enum]
            return SelectField(choices=choices, validate_choice=False, **options)
        return StringField(**options)
