"""A form's checks across its fields and against the unit's registry row (forms.yml
`checks`), applied to one submission's typed values.

The same function serves the form service (fill and check pages, review) and `plansite
validate` (report files in data/), so that 900 trained of 196 members is refused, or needs
an explanation, wherever the figures are entered or read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.model import CheckOperand, Form, FormCheck, Unit
from builder.records import format_bound

# What the reporter is asked for when a warning applies; the explanation is stored with
# the report (Report.explanation) and shown to the reviewer.
EXPLANATION_PROMPT = "数据异常请说明"
EXPLANATION_MAX_LENGTH = 500


@dataclass(frozen=True)
class Finding:
    """One check a submission fails: the field it concerns and a Chinese message with the
    figures compared."""

    check: FormCheck
    field: str
    message: str

    @property
    def is_warning(self) -> bool:
        return self.check.level == "warning"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _other(operand: CheckOperand, values: Mapping[str, Any], unit: Unit) -> float | None:
    if operand.unit_column is not None:
        return _number(unit.attributes.get(operand.unit_column))
    return _number(values.get(operand.field or ""))


def _title(form: Form, name: str) -> str:
    field = form.field_named(name)
    return field.title if field is not None and field.title else name


def _other_title(form: Form, operand: CheckOperand) -> str:
    if operand.unit_column is not None:
        return f"单位名录“{operand.unit_column}”"
    return f"“{_title(form, operand.field or '')}”"


def _message(form: Form, check: FormCheck, total: float, other: float) -> str:
    left = "、".join(f"“{_title(form, name)}”" for name in check.fields)
    if len(check.fields) > 1:
        left += "之和"
    right = _other_title(form, check.other)
    relation = "不能大于" if check.relation == "not_above" else "应等于"
    said = check.message or f"{left}{relation}{right}"
    return f"{said}（填报 {format_bound(total)}，{right}为 {format_bound(other)}）"


def check_values(form: Form, values: Mapping[str, Any], unit: Unit) -> list[Finding]:
    """The form's checks the values fail, in the order the plan declares them. A check
    with a missing figure is skipped: the field's own message (required, type) says so."""
    findings = []
    for check in form.checks:
        figures = [_number(values.get(name)) for name in check.fields]
        other = _other(check.other, values, unit)
        if other is None or any(figure is None for figure in figures):
            continue
        total = sum(figure for figure in figures if figure is not None)
        failed = total > other if check.relation == "not_above" else total != other
        if failed:
            findings.append(Finding(check, check.fields[0], _message(form, check, total, other)))
    return findings


def check_errors(findings: list[Finding]) -> dict[str, str]:
    """The error findings as a message per field, like a field's own constraint errors
    (the first finding of a field wins)."""
    errors: dict[str, str] = {}
    for finding in findings:
        if not finding.is_warning:
            errors.setdefault(finding.field, finding.message)
    return errors


def check_warnings(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.is_warning]
