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
from wtforms import Form
from wtforms.fields.core import Field

from builder.fields import field_type
from builder.model import Form as ReportForm
from builder.model import FormField

# Posted names that are part of the page, not of the report.
CONTROL_NAMES = frozenset({"csrf_token", "action", "remove_file", "evidence"})


def render_attributes(field: FormField) -> dict[str, Any]:
    """HTML attributes carrying the schema's constraints (the field type's)."""
    return field_type(field.type).html_attributes(field)


def widget_kind(field: FormField) -> str:
    """How the template lays the field out: select, radio, textarea, date, number or text."""
    return field_type(field.type).widget(field)


def _make_field(field: FormField) -> Field:
    options: dict[str, Any] = {
        "label": field.title or field.name,
        "description": field.description,
        "render_kw": render_attributes(field),
    }
    return field_type(field.type).form_field(field, options)


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
    return field_type(field.type).shown(value)
