"""Model objects built in code, for tests that specify behaviour on a small plan of their own.

Every builder has neutral defaults (empty texts, identifiers standing for their titles, one
calendar year), so that a test names only what its behaviour depends on. Nothing here
belongs to any particular plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from itertools import count
from typing import Any

from builder.model import (
    ALL_UNITS,
    AppliesTo,
    Evidence,
    Form,
    FormField,
    Period,
    Plan,
    Report,
)

_PLAN = Plan(
    id="plan",
    title="plan",
    short_title="plan",
    year=2022,
    issuer="",
    start=date(2022, 1, 1),
    end=date(2022, 12, 31),
    preamble="",
    unit_types=(),
    categories=(),
)


def make_plan(**changes: Any) -> Plan:
    """A plan for 2022 with empty texts, no unit types and no categories, with `changes`."""
    return replace(_PLAN, **changes)


def make_period(pid: str, start: str, end: str, due: str, title: str = "") -> Period:
    """A reporting period from ISO dates; its title is its id unless given."""
    return Period(
        pid,
        title or pid,
        date.fromisoformat(start),
        date.fromisoformat(end),
        date.fromisoformat(due),
    )


def make_form(
    form_id: str,
    fields: Iterable[FormField],
    periods: tuple[str, ...],
    *,
    title: str = "",
    description: str = "",
    applies_to: AppliesTo = ALL_UNITS,
    descriptor: dict[str, Any] | None = None,
) -> Form:
    """A form whose schema sits where content expects it (schemas/forms/<id>.json)."""
    return Form(
        id=form_id,
        title=title or form_id,
        description=description,
        schema_path=f"schemas/forms/{form_id}.json",
        fields=tuple(fields),
        periods=periods,
        applies_to=applies_to,
        descriptor=descriptor or {},
    )


def form_from_descriptor(
    form_id: str, descriptor: dict[str, Any], periods: tuple[str, ...]
) -> Form:
    """A form read from a Table Schema descriptor as the loader does: title, description,
    and per field its name, type, title and whether it is required."""
    fields = (
        FormField(
            name=f["name"],
            type=f["type"],
            title=f["title"],
            required=f.get("constraints", {}).get("required", False),
        )
        for f in descriptor["fields"]
    )
    return make_form(
        form_id,
        fields,
        periods,
        title=descriptor["title"],
        description=descriptor.get("description", ""),
        descriptor=descriptor,
    )


# Ids only need to be unique within a test run; a counter keeps them so without randomness.
_report_numbers = count()


def make_report(
    unit: str,
    period: str,
    values: dict[str, Any],
    submitted_at: datetime,
    *,
    form: str,
    rid: str = "",
    submitted_by: dict[str, str] | None = None,
    evidence: tuple[Evidence, ...] = (),
) -> Report:
    """An approved report; by default submitted by an account named after the unit, with
    an id made of its submission time and a sequence number."""
    return Report(
        id=rid or f"{submitted_at:%Y%m%d%H%M%S}-{next(_report_numbers):08x}",
        form=form,
        period=period,
        unit=unit,
        submitted_at=submitted_at,
        submitted_by=submitted_by or {"account": unit, "name": unit},
        values=values,
        evidence=evidence,
    )
