"""WTForms form classes generated from a report form's fields (its Table Schema).

The generated form renders inputs with the schema's constraints as HTML attributes (min, max,
maxlength, required) for the user's benefit; the server never trusts them:
builder.records.read_record on the posted strings is the authoritative check.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    DecimalField,
    Form,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field

from builder.model import Form as ReportForm
from builder.model import FormField

BOOLEAN_CHOICES = [SelectChoice("true", "是"), SelectChoice("false", "否")]
SHORT_TEXT_LIMIT = 100  # strings allowed longer than this get a text area
# Posted names that are part of the page, not of the report.
CONTROL_NAMES = frozenset({"csrf_token", "action", "remove_file", "evidence"})


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def render_attributes(field: FormField) -> dict[str, Any]:
    """HTML attributes carrying the schema's constraints."""
    attributes: dict[str, Any] = {}
    if field.required:
        attributes["required"] = True
        attributes["aria-required"] = "true"
    if field.type in ("integer", "number"):
        if field.minimum is not None:
            attributes["min"] = _number(field.minimum)
        if field.maximum is not None:
            attributes["max"] = _number(field.maximum)
        attributes["step"] = "1" if field.type == "integer" else "any"
        attributes["inputmode"] = "numeric" if field.type == "integer" else "decimal"
    if field.type == "string" and field.max_length is not None:
        attributes["maxlength"] = field.max_length
    return attributes


def widget_kind(field: FormField) -> str:
    """How the template lays the field out: select, radio, textarea, date, number or text."""
    if field.enum:
        return "select"
    if field.type == "boolean":
        return "radio"
    if field.type == "date":
        return "date"
    if field.type in ("integer", "number"):
        return "number"
    if field.type == "string" and (field.max_length is None or field.max_length > SHORT_TEXT_LIMIT):
        return "textarea"
    return "text"


def _make_field(field: FormField) -> Field:
    label = field.title or field.name
    options: dict[str, Any] = {
        "label": label,
        "description": field.description,
        "render_kw": render_attributes(field),
    }
    kind = widget_kind(field)
    if kind == "select":
        choices = [SelectChoice("", "请选择")]
        choices += [SelectChoice(str(value), str(value)) for value in field.enum or ()]
        return SelectField(choices=choices, validate_choice=False, **options)
    if kind == "radio":
        options["render_kw"].pop("required", None)  # set per radio in the template
        return RadioField(choices=BOOLEAN_CHOICES, validate_choice=False, **options)
    if kind == "date":
        return DateField(**options)
    if kind == "number":
        return IntegerField(**options) if field.type == "integer" else DecimalField(**options)
    if kind == "textarea":
        options["render_kw"]["rows"] = 4
        return TextAreaField(**options)
    return StringField(**options)


@lru_cache(maxsize=256)
def form_class(form: ReportForm) -> type[Form]:
    """One WTForms class per report form, cached: a form's schema does not change while running."""
    attributes = {field.name: _make_field(field) for field in form.fields}
    return type(f"ReportForm_{abs(hash(form.id))}", (Form,), attributes)


def build_form(form: ReportForm, values: Mapping[str, str]) -> Form:
    """The form filled with the raw strings the user typed (or a draft held)."""
    data = MultiDict({name: value for name, value in values.items() if value is not None})
    return form_class(form)(formdata=data)


def posted_values(form: ReportForm, posted: Mapping[str, str]) -> dict[str, str]:
    """Every posted value except the page's own controls, as strings.

    Unknown names are kept on purpose: read_record rejects them, so a forged post fails
    instead of being silently trimmed.
    """
    return {
        name: str(value).strip() if isinstance(value, str) else str(value)
        for name, value in posted.items()
        if name not in CONTROL_NAMES
    }


def display_value(field: FormField, value: Any) -> str:
    """A typed value as the check page and the review table show it."""
    if value is None or value == "":
        return "（未填写）"
    if field.type == "boolean" or isinstance(value, bool):
        return "是" if value in (True, "true") else "否"
    return str(value)
