"""What changed: a submission's values beside the report it corrects (the slot's last
approved one) and beside the unit's report for the form's previous period, and its
evidence against the corrected report's. Pure: the reports are given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from builder.model import Content, Evidence, Form, Report
from builder.reporting import submission_order
from forms.formgen import display_value

__all__ = ["FieldChange", "ReportChanges", "compare_report", "previous_period"]


@dataclass(frozen=True)
class FieldChange:
    title: str
    value: str  # this submission's, as text
    corrected: str | None  # the corrected report's, None when this is not a correction
    previous: str | None  # the previous period's, None when there is no such report
    changed: bool  # differs from the corrected report (or, for a first report, the previous period)


@dataclass(frozen=True)
class ReportChanges:
    corrected: Report | None  # the last approved report of the same slot
    previous: Report | None  # the unit's approved report for the form's previous period
    fields: tuple[FieldChange, ...]
    evidence_added: tuple[Evidence, ...]
    evidence_removed: tuple[Evidence, ...]

    @property
    def is_correction(self) -> bool:
        return self.corrected is not None


def previous_period(content: Content, form: Form, period: str) -> str | None:
    """The form's period before `period` (by end date), None for the first."""
    ends = {p.id: p.end for p in content.periods}
    ordered = sorted((p for p in form.periods if p in ends), key=lambda p: ends[p])
    if period not in ordered:
        return None
    position = ordered.index(period)
    return ordered[position - 1] if position > 0 else None


def latest_before(reports: list[Report], report: Report) -> Report | None:
    """The latest of `reports` submitted before `report` (not `report` itself)."""
    earlier = [
        r for r in reports if r.id != report.id and submission_order(r) < submission_order(report)
    ]
    return max(earlier, key=submission_order, default=None)


def _text(form: Form, name: str, values: dict[str, Any]) -> str:
    field = form.field_named(name)
    value = values.get(name)
    if field is None:
        return "（未填写）" if value is None else str(value)
    return display_value(field, value)


def compare_report(
    form: Form, report: Report, corrected: Report | None, previous: Report | None
) -> ReportChanges:
    names = [field.name for field in form.fields]
    names += [name for name in report.values if form.field_named(name) is None]
    fields = []
    for name in names:
        field = form.field_named(name)
        value = _text(form, name, report.values)
        was = _text(form, name, corrected.values) if corrected else None
        before = _text(form, name, previous.values) if previous else None
        against = was if corrected is not None else before
        fields.append(
            FieldChange(
                field.title or field.name if field else name,
                value,
                was,
                before,
                changed=against is not None and against != value,
            )
        )
    old = {item.sha256: item for item in corrected.evidence} if corrected else {}
    new = {item.sha256: item for item in report.evidence}
    return ReportChanges(
        corrected,
        previous,
        tuple(fields),
        tuple(item for sha, item in new.items() if corrected is not None and sha not in old),
        tuple(item for sha, item in old.items() if sha not in new),
    )
